/*
 * Training kernels for the tfjs wasm backend, run in place on tfjs' own heap (the module imports
 * tfjs' WebAssembly.Memory; every pointer is a byte offset into it, from `memoryOffset`).
 *
 * The kernels live in one file per family, #included below (one translation unit, so the
 * compiler sees them all, as before the split); kernels.h holds the rules they follow.
 *
 * Tensors are viewed as [rows, cols] float32 (cols = channels, the last axis). Column sums
 * accumulate in float64 in row order, so they equal the JavaScript reference bit for bit
 * (../reduce.ts columnSums, ../batchNormTraining.ts): a product or difference is rounded to
 * float32 first (as the tfjs kernels it replaces would), then added in double.
 *
 * Built twice: trainKernels.c for the single-threaded SIMD tfjs binary (plain memory) and
 * trainKernelsShared.c (#includes this file) for the threaded one (shared memory).
 */

#include "kernels.h"

#include "reductions.c"
#include "convFilterGrad.c"
#include "convInputGrad.c"
#include "adamw.c"
#include "convForward.c"
#include "winograd.c"
#include "winograd4.c"
#include "winograd5.c"
#include "reluGrad.c"
#include "gradAccumulate.c"
#include "depthwise.c"
#include "poolGrads.c"
#include "clipGrad.c"
#include "padSlice.c"
#include "unary.c"
#include "matmul.c"
