/*
 * clipByValue (ReLU6 in training) and its gradient.
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

/*
 * y = x clamped to [lo, hi] as tfjs' cpu kernel does it: hi where x > hi, lo where x < lo, else x
 * (NaN and −0 pass unchanged). The stock wasm ClipByValue runs on one thread at ≈2× the time of
 * clip_grad's two-input pass ([8,64,64,96]: 7.75 vs 3.14 ms, 2 threads, loaded VM).
 */
EXPORT void clip_forward(const float *x, u32 n, float lo, float hi, float *y) {
  u32 i = 0;
  v128_t l = wasm_f32x4_splat(lo), h = wasm_f32x4_splat(hi);
  for (; i + 4 <= n; i += 4) {
    v128_t xv = wasm_v128_load(x + i);
    xv = wasm_v128_bitselect(h, xv, wasm_f32x4_gt(xv, h));
    wasm_v128_store(y + i, wasm_v128_bitselect(l, xv, wasm_f32x4_lt(xv, l)));
  }
  for (; i < n; i++) y[i] = x[i] > hi ? hi : x[i] < lo ? lo : x[i];
}
