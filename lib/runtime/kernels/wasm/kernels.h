/*
 * What every file of the training kernels shares (they are #included by trainKernels.c, one
 * translation unit, in the order written there).
 *
 * RULES (an imported-memory module shares address 0.. with tfjs): no global or static data
 * (no data segments), no arrays on the stack (no shadow stack), no libc. Scratch memory comes
 * from the caller (tfjs tensors it frees afterwards). tests/runtime/trainKernels.test.ts checks that the
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

/*
 * The 4×8 register tile of the convolutions' inner loops: 4 rows (pixels, or input channels of a
 * filter gradient) × 8 output channels accumulate in <acc>00, <acc>01 (row 0) … <acc>30, <acc>31
 * (row 3), which must be in scope. TILE4X8_MAC adds the scalars *x0..*x3 times the 8 values
 * w0, w1; TILE4X8_STORE writes a c-named tile to out, one row every Co floats.
 */
#define TILE4X8_MAC(acc, x0, x1, x2, x3, w0, w1)                                                      \
  do {                                                                                                \
    v128_t s_ = wasm_v128_load32_splat(x0);                                                           \
    acc##00 = wasm_f32x4_add(acc##00, wasm_f32x4_mul(s_, w0));                                        \
    acc##01 = wasm_f32x4_add(acc##01, wasm_f32x4_mul(s_, w1));                                        \
    s_ = wasm_v128_load32_splat(x1);                                                                  \
    acc##10 = wasm_f32x4_add(acc##10, wasm_f32x4_mul(s_, w0));                                        \
    acc##11 = wasm_f32x4_add(acc##11, wasm_f32x4_mul(s_, w1));                                        \
    s_ = wasm_v128_load32_splat(x2);                                                                  \
    acc##20 = wasm_f32x4_add(acc##20, wasm_f32x4_mul(s_, w0));                                        \
    acc##21 = wasm_f32x4_add(acc##21, wasm_f32x4_mul(s_, w1));                                        \
    s_ = wasm_v128_load32_splat(x3);                                                                  \
    acc##30 = wasm_f32x4_add(acc##30, wasm_f32x4_mul(s_, w0));                                        \
    acc##31 = wasm_f32x4_add(acc##31, wasm_f32x4_mul(s_, w1));                                        \
  } while (0)

#define TILE4X8_STORE(out, Co)                                                                        \
  do {                                                                                                \
    wasm_v128_store((out), c00); wasm_v128_store((out) + 4, c01);                                     \
    wasm_v128_store((out) + (Co), c10); wasm_v128_store((out) + (Co) + 4, c11);                       \
    wasm_v128_store((out) + 2 * (Co), c20); wasm_v128_store((out) + 2 * (Co) + 4, c21);               \
    wasm_v128_store((out) + 3 * (Co), c30); wasm_v128_store((out) + 3 * (Co) + 4, c31);               \
  } while (0)

#endif
