/*
 * trainKernelsShared.c (the threaded binary's shared memory) with MAC as WebAssembly relaxed
 * SIMD's fused multiply-add (see kernels.h), where the engine has relaxed SIMD.
 */
#define FAT2019_RELAXED_SIMD 1
#include "trainKernelsShared.c"
