/*
 * trainKernels.c with MAC as WebAssembly relaxed SIMD's fused multiply-add (see kernels.h), for
 * the single-threaded SIMD tfjs binary where the engine has relaxed SIMD.
 */
#define FAT2019_RELAXED_SIMD 1
#include "trainKernels.c"
