/*
 * What every file of the training kernels shares (they are #included by trainKernels.c, one
 * translation unit, in the order written there).
 *
 * RULES (an imported-memory module shares address 0.. with tfjs): no global or static data
 * (no data segments), no arrays on the stack (no shadow stack), no libc. Scratch memory comes
 * from the caller (tfjs tensors it frees afterwards). tests/trainKernels.test.ts checks that the
 * binaries have no data section and no globals.
 *
 * EXPORT marks a function the module exports. It is the one list of the kernels:
 * scripts/build-wasm.ts reads the marked signatures and writes the export flags, the TypeScript
 * interface (`TrainKernels`) and the names (`EXPORTS`) into trainKernels.wasm.ts.
 */
#ifndef TRAIN_KERNELS_H
#define TRAIN_KERNELS_H

#include <wasm_simd128.h>

typedef unsigned int u32;

#define INLINE static inline __attribute__((always_inline))
#define EXPORT

#endif
