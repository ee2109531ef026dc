/*
 * Gradient accumulation over micro-batches.
 * Part of trainKernels.c (#included there, not compiled on its own; see kernels.h for the rules).
 */
#include "kernels.h"

/*
 * For `count` tensors at once: table holds 3 words per tensor, [acc, g (byte offsets), n];
 * first != 0: acc = g·w, else acc = acc + g·w (in place), each operation rounded to float32 as
 * tfjs' Multiply and Add (so the same bits as tf.add(acc, tf.mul(g, w))).
 */
EXPORT void grad_accumulate(const u32 *table, u32 count, float w, int first) {
  v128_t vw = wasm_f32x4_splat(w);
  for (u32 k = 0; k < count; k++) {
    float *acc = (float *)table[3 * k];
    const float *g = (const float *)table[3 * k + 1];
    u32 n = table[3 * k + 2], i = 0;
    if (first) {
      for (; i + 4 <= n; i += 4) wasm_v128_store(acc + i, wasm_f32x4_mul(wasm_v128_load(g + i), vw));
      for (; i < n; i++) acc[i] = g[i] * w;
    } else {
      for (; i + 4 <= n; i += 4) {
        wasm_v128_store(acc + i, wasm_f32x4_add(wasm_v128_load(acc + i), wasm_f32x4_mul(wasm_v128_load(g + i), vw)));
      }
      for (; i < n; i++) acc[i] = acc[i] + g[i] * w;
    }
  }
}
