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
 * MAC(acc, a, b) = acc + a·b on four lanes: the multiply-accumulate of the convolutions' inner
 * loops. The relaxed builds (trainKernelsRelaxed.c, trainKernelsSharedRelaxed.c: WebAssembly
 * relaxed SIMD, loaded where the engine has it) make it `f32x4.relaxed_madd`, which V8 compiles
 * to one fused multiply-add on CPUs with FMA. Why it matters: Intel cores (Skylake to Sapphire
 * Rapids) issue vector multiplies, adds and FMAs on the same two ports, so a separate multiply
 * and add take two issue slots where an FMA takes one, while AMD Zen has separate multiply and
 * add pipes and runs the pair at nearly FMA speed. Fused, the sum is rounded once instead of
 * twice (closer to the exact value; the tests compare with float64 loops). Elsewhere (AdamW,
 * batch norm, reductions) products stay rounded on their own: those kernels are bit-exact
 * copies of tfjs' arithmetic.
 */
#ifdef FAT2019_RELAXED_SIMD
#define MAC(acc, a, b) ((v128_t)__builtin_wasm_relaxed_madd_f32x4((__f32x4)(a), (__f32x4)(b), (__f32x4)(acc)))
#else
#define MAC(acc, a, b) wasm_f32x4_add((acc), wasm_f32x4_mul((a), (b)))
/*
 * Input floats per row chunk of the direct convolutions (conv2d_forward, conv2d_input_grad):
 * 256 KiB, a quarter of the L2 of the AMD EPYC measured (1 MB), leaving room for a channel
 * block's weights.
 */
#define CONV_CHUNK_FLOATS 65536u

#endif

/*
 * The 4×8 register tile of the convolutions' inner loops: 4 rows (pixels, or input channels of a
 * filter gradient) × 8 output channels accumulate in <acc>00, <acc>01 (row 0) … <acc>30, <acc>31
 * (row 3), which must be in scope. TILE4X8_MAC adds the scalars *x0..*x3 times the 8 values
 * w0, w1; TILE4X8_STORE writes a c-named tile to out, one row every Co floats.
 */
#define TILE4X8_MAC(acc, x0, x1, x2, x3, w0, w1)                                                      \
  do {                                                                                                \
    v128_t s_ = wasm_v128_load32_splat(x0);                                                           \
    acc##00 = MAC(acc##00, s_, w0);                                                                   \
    acc##01 = MAC(acc##01, s_, w1);                                                                   \
    s_ = wasm_v128_load32_splat(x1);                                                                  \
    acc##10 = MAC(acc##10, s_, w0);                                                                   \
    acc##11 = MAC(acc##11, s_, w1);                                                                   \
    s_ = wasm_v128_load32_splat(x2);                                                                  \
    acc##20 = MAC(acc##20, s_, w0);                                                                   \
    acc##21 = MAC(acc##21, s_, w1);                                                                   \
    s_ = wasm_v128_load32_splat(x3);                                                                  \
    acc##30 = MAC(acc##30, s_, w0);                                                                   \
    acc##31 = MAC(acc##31, s_, w1);                                                                   \
  } while (0)

#define TILE4X8_STORE(out, Co)                                                                        \
  do {                                                                                                \
    wasm_v128_store((out), c00); wasm_v128_store((out) + 4, c01);                                     \
    wasm_v128_store((out) + (Co), c10); wasm_v128_store((out) + (Co) + 4, c11);                       \
    wasm_v128_store((out) + 2 * (Co), c20); wasm_v128_store((out) + 2 * (Co) + 4, c21);               \
    wasm_v128_store((out) + 3 * (Co), c30); wasm_v128_store((out) + 3 * (Co) + 4, c31);               \
  } while (0)

/*
 * Input floats per row chunk of the direct convolutions (conv2d_forward, conv2d_input_grad):
 * 256 KiB, a quarter of the L2 of the AMD EPYC measured (1 MB), leaving room for a channel
 * block's weights.
 */
#define CONV_CHUNK_FLOATS 65536u

#endif
