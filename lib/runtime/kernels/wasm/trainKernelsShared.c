/*
 * trainKernels.c built for the threaded tfjs binary, whose memory is shared (a module importing
 * a shared memory must declare it shared). The code is trainKernels.c's; this wrapper names the
 * digest of that file so that editing it makes this wrapper stale too (tests/trainKernels.test.ts
 * compares the line below with sourceDigest(trainKernels.c); update it and rebuild).
 *
 * trainKernels.c sha256: 810619fdbac2f81d3a0e3e59ee20d2f996659baba2bc5635fb8a6ac15e20a68d
 */
#include "trainKernels.c"
