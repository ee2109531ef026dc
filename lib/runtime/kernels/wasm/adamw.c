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
 * Each output may be its own input (mOut == m, vOut == v: element i is read before it is
 * written), but no other aliasing.
 */
INLINE void adamw_update(const float *p, const float *g, const float *m, const float *v, u32 n, float b1, float omb1,
                         float b2, float omb2, float sqrtBc2, float eps, float decay, float stepSize, float *pOut,
                         float *mOut, float *vOut) {
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

/* One parameter into new outputs (outputs may not alias inputs). */
EXPORT void adamw(const float *p, const float *g, const float *m, const float *v, u32 n, float b1, float omb1, float b2,
                  float omb2, float sqrtBc2, float eps, float decay, float stepSize, float *pOut, float *mOut, float *vOut) {
  adamw_update(p, g, m, v, n, b1, omb1, b2, omb2, sqrtBc2, eps, decay, stepSize, pOut, mOut, vOut);
}

/*
 * `count` parameters in one call: table holds ADAMW_ENTRY words per parameter, [p, g, m, v,
 * pOut (byte offsets), n, decay, stepSize (float32 bits)]; m and v are updated in place, p' goes
 * to pOut. The per-step constants are shared.
 */
#define ADAMW_ENTRY 8
EXPORT void adamw_all(const u32 *table, u32 count, float b1, float omb1, float b2, float omb2, float sqrtBc2, float eps) {
  for (u32 k = 0; k < count; k++) {
    const u32 *e = table + ADAMW_ENTRY * k;
    float *m = (float *)e[2];
    float *v = (float *)e[3];
    union { u32 u; float f; } decay = { e[6] }, stepSize = { e[7] };
    adamw_update((const float *)e[0], (const float *)e[1], m, v, e[5], b1, omb1, b2, omb2, sqrtBc2, eps, decay.f,
                 stepSize.f, (float *)e[4], m, v);
  }
}
