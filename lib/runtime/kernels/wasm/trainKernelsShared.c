/*
 * trainKernels.c built for the threaded tfjs binary, whose memory is shared (a module importing
 * a shared memory must declare it shared). The code is trainKernels.c's; this wrapper names the
 * digest of that file so that editing it makes this wrapper stale too (tests/trainKernels.test.ts
 * compares the line below with sourceDigest(trainKernels.c); update it and rebuild).
 *
 * trainKernels.c sha256: b389bf0f503acb5e6d40e4aec49c8bab93cbc5fbc216c1851028ff58a5473199
 */
#include "trainKernels.c"
