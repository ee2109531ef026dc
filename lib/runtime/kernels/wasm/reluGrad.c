/*
 * Gradient of relu.
 * Part of trainKernels.c (#included there, not compiled on its own; see kernels.h for the rules).
 */
#include "kernels.h"

/*
 * Gradient of relu: dx = dy · step(x) with step(x) = 1 for x > 0, NaN for NaN, else 0 — the
 * product tfjs' gradient forms (Step, Cast, Multiply), in one pass.
 */
EXPORT void relu_grad(const float *dy, const float *x, u32 n, float *dx) {
  u32 i = 0;
  v128_t one = wasm_f32x4_splat(1.0f), zero = wasm_f32x4_splat(0.0f);
  for (; i + 4 <= n; i += 4) {
    v128_t xv = wasm_v128_load(x + i);
    v128_t s = wasm_v128_bitselect(one, zero, wasm_f32x4_gt(xv, zero));
    s = wasm_v128_bitselect(xv, s, wasm_f32x4_ne(xv, xv));
    wasm_v128_store(dx + i, wasm_f32x4_mul(wasm_v128_load(dy + i), s));
  }
  for (; i < n; i++) {
    float xv = x[i];
    float s = xv > 0.0f ? 1.0f : (xv != xv ? xv : 0.0f);
    dx[i] = dy[i] * s;
  }
}
