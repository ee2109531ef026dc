/*
 * trainKernels.c built for the threaded tfjs binary, whose memory is shared (a module importing
 * a shared memory must declare it shared). The code is trainKernels.c's; this wrapper names the
 * digest of that file so that editing it makes this wrapper stale too (tests/trainKernels.test.ts
 * compares the line below with sourceDigest(trainKernels.c); update it and rebuild).
 *
 * trainKernels.c sha256: af1032607ac22dc74d8762b8aeadd05ab1d346fa93f5ef8d3b1a4d61bcb93766
 */
#include "trainKernels.c"
