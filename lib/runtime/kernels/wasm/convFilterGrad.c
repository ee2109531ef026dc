/*
 * Filter gradient of a direct 2-D convolution.
 * Part of trainKernels.c (#included there, not compiled on its own; see kernels.h for the rules).
 */
#include "kernels.h"

/*
 * dW rows tap[r·Co .. r·Co + Co) += Σ_{j < len} xs[j·xstep + r] · ds[j·Co ..] for r < rows: a
 * row of dy against the x columns it meets, 4 rows × 8 output channels in registers.
 */
INLINE void fgrad_rows(float *tap, const float *xs, const float *ds, u32 len, u32 xstep, u32 rows, u32 Co) {
  u32 ci = 0;
  for (; ci + 4 <= rows; ci += 4) {
    float *t0 = tap + (unsigned long)ci * Co, *t1 = t0 + Co, *t2 = t1 + Co, *t3 = t2 + Co;
    u32 co = 0;
    for (; co + 8 <= Co; co += 8) {
      v128_t a00 = wasm_v128_load(t0 + co), a01 = wasm_v128_load(t0 + co + 4);
      v128_t a10 = wasm_v128_load(t1 + co), a11 = wasm_v128_load(t1 + co + 4);
      v128_t a20 = wasm_v128_load(t2 + co), a21 = wasm_v128_load(t2 + co + 4);
      v128_t a30 = wasm_v128_load(t3 + co), a31 = wasm_v128_load(t3 + co + 4);
      const float *xp = xs + ci, *dp = ds + co;
      for (u32 j = 0; j < len; j++, xp += xstep, dp += Co) {
        v128_t d0 = wasm_v128_load(dp), d1 = wasm_v128_load(dp + 4);
        TILE4X8_MAC(a, xp, xp + 1, xp + 2, xp + 3, d0, d1);
      }
      wasm_v128_store(t0 + co, a00); wasm_v128_store(t0 + co + 4, a01);
      wasm_v128_store(t1 + co, a10); wasm_v128_store(t1 + co + 4, a11);
      wasm_v128_store(t2 + co, a20); wasm_v128_store(t2 + co + 4, a21);
      wasm_v128_store(t3 + co, a30); wasm_v128_store(t3 + co + 4, a31);
    }
    if (co + 4 <= Co) {
      /* A last 4-channel block (XResNet's 4-channel stem at width 1/8): 4 rows × 4 channels. */
      v128_t a0 = wasm_v128_load(t0 + co), a1 = wasm_v128_load(t1 + co);
      v128_t a2 = wasm_v128_load(t2 + co), a3 = wasm_v128_load(t3 + co);
      const float *xp = xs + ci, *dp = ds + co;
      for (u32 j = 0; j < len; j++, xp += xstep, dp += Co) {
        v128_t d = wasm_v128_load(dp);
        a0 = MAC(a0, wasm_v128_load32_splat(xp), d);
        a1 = MAC(a1, wasm_v128_load32_splat(xp + 1), d);
        a2 = MAC(a2, wasm_v128_load32_splat(xp + 2), d);
        a3 = MAC(a3, wasm_v128_load32_splat(xp + 3), d);
      }
      wasm_v128_store(t0 + co, a0); wasm_v128_store(t1 + co, a1);
      wasm_v128_store(t2 + co, a2); wasm_v128_store(t3 + co, a3);
      co += 4;
    }
    for (; co < Co; co++) {
      float s0 = t0[co], s1 = t1[co], s2 = t2[co], s3 = t3[co];
      const float *xp = xs + ci, *dp = ds + co;
      for (u32 j = 0; j < len; j++, xp += xstep, dp += Co) {
        float d = *dp;
        s0 += xp[0] * d; s1 += xp[1] * d; s2 += xp[2] * d; s3 += xp[3] * d;
      }
      t0[co] = s0; t1[co] = s1; t2[co] = s2; t3[co] = s3;
    }
  }
  for (; ci < rows; ci++) {
    float *t0 = tap + (unsigned long)ci * Co;
    u32 co = 0;
    for (; co + 8 <= Co; co += 8) {
      v128_t a00 = wasm_v128_load(t0 + co), a01 = wasm_v128_load(t0 + co + 4);
      const float *xp = xs + ci, *dp = ds + co;
      for (u32 j = 0; j < len; j++, xp += xstep, dp += Co) {
        v128_t s = wasm_v128_load32_splat(xp);
        a00 = MAC(a00, s, wasm_v128_load(dp));
        a01 = MAC(a01, s, wasm_v128_load(dp + 4));
      }
      wasm_v128_store(t0 + co, a00); wasm_v128_store(t0 + co + 4, a01);
    }
    for (; co + 4 <= Co; co += 4) {
      v128_t a0 = wasm_v128_load(t0 + co);
      const float *xp = xs + ci, *dp = ds + co;
      for (u32 j = 0; j < len; j++, xp += xstep, dp += Co) {
        a0 = MAC(a0, wasm_v128_load32_splat(xp), wasm_v128_load(dp));
      }
      wasm_v128_store(t0 + co, a0);
    }
    for (; co < Co; co++) {
      float s0 = t0[co];
      const float *xp = xs + ci, *dp = ds + co;
      for (u32 j = 0; j < len; j++, xp += xstep, dp += Co) s0 += *xp * *dp;
      t0[co] = s0;
    }
  }
}

/*
 * Filter gradient of a 2-D convolution (NHWC, dilation 1) for the images [n0, n1):
 *   dW[a, b, ci, co] = Σ_{n, i, j} x[n, i·sh + a − top, j·sw + b − left, ci] · dy[n, i, j, co]
 * x [N, H, W, Ci], dy [N, Ho, Wo, Co], dW [fh, fw, Ci, Co] (overwritten). Row by row: a row of
 * dy and the fh rows of x it meets stay in L1 while every tap and channel block uses them;
 * 4 input × 8 output channels accumulate in registers over a row's valid columns. The columns
 * j where every tap b of the filter row falls inside x go as one block of fw·Ci rows (b and ci
 * are contiguous in x and in dW): 4-row tiles instead of a scalar-channel loop per tap for the
 * 3-channel stem and 1-channel 5×5 layers; the edge columns tap by tap. A last 4-channel block of
 * dW (Co % 8 >= 4) runs 4 rows × 4 channels.
 */
EXPORT void conv2d_filter_grad(const float *x, const float *dy, float *dw, u32 n0, u32 n1, u32 H, u32 W, u32 Ci,
                               u32 Ho, u32 Wo, u32 Co, u32 fh, u32 fw, u32 sh, u32 sw, int top, int left) {
  u32 total = fh * fw * Ci * Co;
  for (u32 k = 0; k < total; k++) dw[k] = 0.0f;
  /* Interior columns [jA, jB): 0 <= j·sw − left and j·sw + fw − 1 − left < W. */
  u32 jA = left <= 0 ? 0 : (u32)((left + (int)sw - 1) / (int)sw);
  int hiA = (int)W - (int)fw + left; /* j·sw <= hiA */
  u32 jB = hiA < 0 ? 0 : (u32)hiA / sw + 1;
  if (jB > Wo) jB = Wo;
  if (jB < jA) jB = jA;
  for (u32 n = n0; n < n1; n++) {
    for (u32 i = 0; i < Ho; i++) {
      const float *dyrow = dy + ((unsigned long)n * Ho + i) * Wo * Co;
      for (u32 a = 0; a < fh; a++) {
        int xr = (int)(i * sh + a) - top;
        if (xr < 0 || xr >= (int)H) continue;
        const float *xrow = x + ((unsigned long)n * H + (u32)xr) * W * Ci;
        if (jB > jA) {
          fgrad_rows(dw + (unsigned long)a * fw * Ci * Co, xrow + ((int)(jA * sw) - left) * (int)Ci,
                     dyrow + (unsigned long)jA * Co, jB - jA, sw * Ci, fw * Ci, Co);
        }
        for (u32 b = 0; b < fw; b++) {
          /* Valid output columns j: 0 <= j·sw + b − left < W. */
          int lo = left - (int)b;
          u32 j0 = lo <= 0 ? 0 : (u32)((lo + (int)sw - 1) / (int)sw);
          int hi = (int)W - 1 + left - (int)b; /* j·sw <= hi */
          if (hi < 0) continue;
          u32 j1 = (u32)hi / sw + 1;
          if (j1 > Wo) j1 = Wo;
          if (j0 >= j1) continue;
          float *tap = dw + (unsigned long)(a * fw + b) * Ci * Co;
          /* [j0, j1) minus the interior [jA, jB) done above: [j0, jA) and [jB, j1). */
          u32 e0 = jB > jA ? jA : j1, e1 = jB > jA ? jB : j1;
          if (j0 < e0) {
            fgrad_rows(tap, xrow + ((int)(j0 * sw + b) - left) * (int)Ci, dyrow + (unsigned long)j0 * Co, e0 - j0, sw * Ci, Ci, Co);
          }
          if (e1 < j1) {
            fgrad_rows(tap, xrow + ((int)(e1 * sw + b) - left) * (int)Ci, dyrow + (unsigned long)e1 * Co, j1 - e1, sw * Ci, Ci, Co);
          }
        }
      }
    }
  }
}
