/*
 * Elementwise float32 kernels that replace tfjs-backend-wasm's XNNPACK ones in training: Relu,
 * Neg, Abs. Why: on the threaded binary XNNPACK hands any tensor above a few thousand elements
 * to its thread pool, and that hand-over cost 0.35–0.45 ms per call here (measured, 2-core AMD
 * EPYC: relu of 4096 floats 354 µs, of 1024 floats 9 µs; one thread: 10–15 µs for any of the
 * ResNet shapes), ≈1 ms right after a convolution. One pass on the calling thread (the caller
 * splits large tensors with the helper thread).
 * Part of trainKernels.c (#included there, not compiled on its own; see kernels.h for the rules).
 */
#include "kernels.h"

/* y = relu(x) as the stock kernel gives it: x where x > 0 or NaN, else +0 (so relu(−0) = +0). */
EXPORT void relu_f32(const float *x, u32 n, float *y) {
  u32 i = 0;
  v128_t zero = wasm_f32x4_splat(0.0f);
  for (; i + 4 <= n; i += 4) {
    v128_t v = wasm_v128_load(x + i);
    wasm_v128_store(y + i, wasm_v128_bitselect(v, zero, wasm_v128_or(wasm_f32x4_gt(v, zero), wasm_f32x4_ne(v, v))));
  }
  for (; i < n; i++) {
    float v = x[i];
    y[i] = v > 0.0f || v != v ? v : 0.0f;
  }
}

/* y = −x (the sign bit flipped, NaN too). */
EXPORT void neg_f32(const float *x, u32 n, float *y) {
  u32 i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wasm_f32x4_neg(wasm_v128_load(x + i)));
  for (; i < n; i++) y[i] = -x[i];
}

/* y = |x| (the sign bit cleared). */
EXPORT void abs_f32(const float *x, u32 n, float *y) {
  u32 i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wasm_f32x4_abs(wasm_v128_load(x + i)));
  for (; i < n; i++) y[i] = __builtin_fabsf(x[i]);
}
