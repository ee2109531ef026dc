/*
 * trainKernels.c built for the threaded tfjs binary, whose memory is shared (a module importing
 * a shared memory must declare it shared). The code is trainKernels.c's. The build's digest of
 * this file covers the files it includes, so editing any kernel makes both modules stale.
 */
#include "trainKernels.c"
