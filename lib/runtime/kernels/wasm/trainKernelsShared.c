/*
 * trainKernels.c built for the threaded tfjs binary, whose memory is shared (a module importing
 * a shared memory must declare it shared). The code is trainKernels.c's; this wrapper names the
 * digest of that file so that editing it makes this wrapper stale too (tests/trainKernels.test.ts
 * compares the line below with sourceDigest(trainKernels.c); update it and rebuild).
 *
 * trainKernels.c sha256: 93cc81356cfbacfd7d6c598867015552e9864ca672111c6f647d400ab57e545f
 */
#include "trainKernels.c"
