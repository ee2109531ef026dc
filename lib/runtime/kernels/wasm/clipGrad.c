/*
 * Gradient of clipByValue (ReLU6 is relu then clipByValue(0, 6) in tfjs-layers).
 * Part of trainKernels.c (#included there, not compiled on its own; see kernels.h for the rules).
 */
#include "kernels.h"

/*
 * dx = dy where lo <= x <= hi, else +0 (NaN x included) — tfjs' gradient of ClipByValue
 * (GreaterEqual, LessEqual, LogicalAnd and Select against zerosLike(dy): four passes and three
 * temporaries) in one pass. Bits of dy are kept or cleared, so the result is the same bit for bit.
 */
EXPORT void clip_grad(const float *dy, const float *x, u32 n, float lo, float hi, float *dx) {
  u32 i = 0;
  v128_t l = wasm_f32x4_splat(lo), h = wasm_f32x4_splat(hi);
  for (; i + 4 <= n; i += 4) {
    v128_t xv = wasm_v128_load(x + i);
    v128_t in = wasm_v128_and(wasm_f32x4_ge(xv, l), wasm_f32x4_le(xv, h));
    wasm_v128_store(dx + i, wasm_v128_and(wasm_v128_load(dy + i), in));
  }
  for (; i < n; i++) dx[i] = x[i] >= lo && x[i] <= hi ? dy[i] : 0.0f;
}
