/*
 * trainKernels.c built for the threaded tfjs binary, whose memory is shared (a module importing
 * a shared memory must declare it shared). The code is trainKernels.c's; this wrapper names the
 * digest of that file so that editing it makes this wrapper stale too (tests/trainKernels.test.ts
 * compares the line below with sourceDigest(trainKernels.c); update it and rebuild).
 *
 * trainKernels.c sha256: de11a9a3838de1004466be467dd220a882876ffee52f0be6c8843662be27d48c
 */
#include "trainKernels.c"
