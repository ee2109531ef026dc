/*
 * Small matrix products (the classifier heads and their gradients): out[m, n] = Σ_k a[m, k]·b[k, n]
 * per matrix of a batch, replacing tfjs-backend-wasm's BatchMatMul/_FusedMatMul, whose XNNPACK
 * path hands the work to its thread pool (≈0.4–1 ms per call on the threaded binary for a
 * [32,64]×[64,80] product that takes ≈10 µs; ../matMul.ts).
 * Part of trainKernels.c (#included there, not compiled on its own; see kernels.h for the rules).
 */
#include "kernels.h"

/*
 * Rows [m0, m1) of one product. a: [M, K] (ta = 0) or [K, M] (ta = 1); b: [K, N] (tb = 0) or
 * [N, K] (tb = 1); bias: N values added first (0: none); relu != 0: then max(·, 0) as the
 * stock Relu. Each output sums in float32, product then add (no fused multiply-add), in the
 * stock kernel's order, so the same bits: block = 0, from the bias (or 0) over k = 0 … K−1
 * (XNNPACK's, tfjs' path without transposes); block > 0, the sum of each run of `block` k's
 * added to the output in turn (tfjs' blocked loop, its path with a transpose, block 48).
 */
EXPORT void matmul_rows(const float *a, const float *b, const float *bias, float *out, u32 m0, u32 m1, u32 M, u32 K,
                        u32 N, int ta, int tb, int relu, u32 block) {
  v128_t zero = wasm_f32x4_splat(0.0f);
  if (block == 0) block = K;
  for (u32 m = m0; m < m1; m++) {
    float *o = out + (unsigned long)m * N;
    u32 n = 0;
    if (!tb) {
      for (; n + 8 <= N; n += 8) {
        v128_t c0 = bias ? wasm_v128_load(bias + n) : zero, c1 = bias ? wasm_v128_load(bias + n + 4) : zero;
        for (u32 k0 = 0; k0 < K; k0 += block) {
          u32 k1 = K - k0 < block ? K : k0 + block;
          /* One run from the output itself (bias or 0), later runs from 0 added to it. */
          v128_t s0 = k0 == 0 ? c0 : zero, s1 = k0 == 0 ? c1 : zero;
          for (u32 k = k0; k < k1; k++) {
            v128_t s = wasm_v128_load32_splat(ta ? a + (unsigned long)k * M + m : a + (unsigned long)m * K + k);
            const float *q = b + (unsigned long)k * N + n;
            s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(s, wasm_v128_load(q)));
            s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(s, wasm_v128_load(q + 4)));
          }
          if (k0 == 0) { c0 = s0; c1 = s1; } else { c0 = wasm_f32x4_add(c0, s0); c1 = wasm_f32x4_add(c1, s1); }
        }
        if (relu) {
          c0 = wasm_v128_bitselect(c0, zero, wasm_v128_or(wasm_f32x4_gt(c0, zero), wasm_f32x4_ne(c0, c0)));
          c1 = wasm_v128_bitselect(c1, zero, wasm_v128_or(wasm_f32x4_gt(c1, zero), wasm_f32x4_ne(c1, c1)));
        }
        wasm_v128_store(o + n, c0);
        wasm_v128_store(o + n + 4, c1);
      }
    }
    for (; n < N; n++) {
      float c = bias ? bias[n] : 0.0f;
      for (u32 k0 = 0; k0 < K; k0 += block) {
        u32 k1 = K - k0 < block ? K : k0 + block;
        float s = k0 == 0 ? c : 0.0f;
        for (u32 k = k0; k < k1; k++) {
          float av = ta ? a[(unsigned long)k * M + m] : a[(unsigned long)m * K + k];
          float bv = tb ? b[(unsigned long)n * K + k] : b[(unsigned long)k * N + n];
          s = s + av * bv;
        }
        c = k0 == 0 ? s : c + s;
      }
      o[n] = relu && !(c > 0.0f || c != c) ? 0.0f : c;
    }
  }
}

/* dst [C, R] = src [R, C] transposed (a copy: the same bits). */
EXPORT void transpose_f32(const float *src, u32 R, u32 C, float *dst) {
  for (u32 r = 0; r < R; r++) {
    const float *s = src + (unsigned long)r * C;
    for (u32 c = 0; c < C; c++) dst[(unsigned long)c * R + r] = s[c];
  }
}
