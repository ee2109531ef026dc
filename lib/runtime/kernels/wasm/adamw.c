/*
 * The fused AdamW update.
 * Part of trainKernels.c (#included there, not compiled on its own; see kernels.h for the rules).
 */
#include "kernels.h"

/*
 * One AdamW update of n parameters, each operation rounded to float32 exactly as the tfjs ops
 * of lib/train/adamw.ts (so the same bits as that op-by-op path on wasm):
 *   m' = m·β1 + g·(1−β1),  v' = v·β2 + g²·(1−β2)
 *   p' = p·decay − m' / (√v' / √bc2 + ε) · stepSize
 * Outputs may not alias inputs.
 */
EXPORT void adamw(const float *p, const float *g, const float *m, const float *v, u32 n, float b1, float omb1, float b2,
                  float omb2, float sqrtBc2, float eps, float decay, float stepSize, float *pOut, float *mOut, float *vOut) {
  u32 i = 0;
  v128_t vb1 = wasm_f32x4_splat(b1), vomb1 = wasm_f32x4_splat(omb1), vb2 = wasm_f32x4_splat(b2);
  v128_t vomb2 = wasm_f32x4_splat(omb2), vsq = wasm_f32x4_splat(sqrtBc2), veps = wasm_f32x4_splat(eps);
  v128_t vdecay = wasm_f32x4_splat(decay), vstep = wasm_f32x4_splat(stepSize);
  for (; i + 4 <= n; i += 4) {
    v128_t gi = wasm_v128_load(g + i);
    v128_t mi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(m + i), vb1), wasm_f32x4_mul(gi, vomb1));
    v128_t vi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(v + i), vb2), wasm_f32x4_mul(wasm_f32x4_mul(gi, gi), vomb2));
    v128_t denom = wasm_f32x4_add(wasm_f32x4_div(wasm_f32x4_sqrt(vi), vsq), veps);
    v128_t pi = wasm_f32x4_sub(wasm_f32x4_mul(wasm_v128_load(p + i), vdecay), wasm_f32x4_mul(wasm_f32x4_div(mi, denom), vstep));
    wasm_v128_store(mOut + i, mi);
    wasm_v128_store(vOut + i, vi);
    wasm_v128_store(pOut + i, pi);
  }
  for (; i < n; i++) {
    float gi = g[i];
    float mi = m[i] * b1 + gi * omb1;
    float vi = v[i] * b2 + (gi * gi) * omb2;
    float denom = __builtin_sqrtf(vi) / sqrtBc2 + eps;
    mOut[i] = mi;
    vOut[i] = vi;
    pOut[i] = p[i] * decay - (mi / denom) * stepSize;
  }
}
