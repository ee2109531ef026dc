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

/*
 * src [rows, C] → out [C/width][rows][width] (width 4 or 8, C a multiple of width), rows
 * [r0, r1) of it: the channel panels that conv2d_filter_grad_taps reads sequentially.
 */
EXPORT void pack_panels(const float *src, u32 rows, u32 r0, u32 r1, u32 C, u32 width, float *out) {
  for (u32 cb = 0; cb < C; cb += width) {
    float *o = out + ((unsigned long)(cb / width) * rows + r0) * width;
    const float *s = src + (unsigned long)r0 * C + cb;
    if (width == 8) {
      for (u32 r = r0; r < r1; r++, s += C, o += 8) {
        wasm_v128_store(o, wasm_v128_load(s));
        wasm_v128_store(o + 4, wasm_v128_load(s + 4));
      }
    } else {
      for (u32 r = r0; r < r1; r++, s += C, o += 4) wasm_v128_store(o, wasm_v128_load(s));
    }
  }
}

/*
 * Filter gradient as one GEMM per tap, for Ci % 4 == 0, Co % 8 == 0, output channels [c0, c1)
 * (multiples of 8; the helper thread takes the other half):
 *   dW[a, b, ci, co] = Σ_{n, i, j} x[n, i·sh + a − top, j·sw + b − left, ci] · dy[n, i, j, co]
 * from x packed as xp [Ci/4][N·H·W][4] and dy as dp [Co/8][N·Ho·Wo][8] (pack_panels): per 4
 * input × 8 output channels, every tap's sum runs in a 4×8 register tile over all (n, i, j)
 * whose input pixel lies inside x, read sequentially from the two panels (which stay in L1 for
 * small images across the taps), and dW is written once.
 * Why: conv2d_filter_grad adds each dy row's few columns into dW in memory, which for small
 * images with many channels (ResNet's [8,4,4,512] 3×3 512→512: 4 columns a row, 9.4 MB of dW)
 * streams all of dW for every row; reading x and dy in place, channel columns 2 KB apart
 * fell into the same few L1 sets (one GEMM per tap unpacked: 21.6 ms CPU vs 16.6 Winograd).
 * dW [fh, fw, Ci, Co]: columns [c0, c1) overwritten.
 */
EXPORT void conv2d_filter_grad_taps(const float *xp, const float *dp, float *dw, u32 c0, u32 c1, u32 N, u32 H, u32 W,
                                    u32 Ci, u32 Ho, u32 Wo, u32 Co, u32 fh, u32 fw, u32 sh, u32 sw, int top, int left) {
  v128_t zero = wasm_f32x4_splat(0.0f);
  unsigned long xPanel = (unsigned long)N * H * W * 4, dPanel = (unsigned long)N * Ho * Wo * 8;
  unsigned long xImg = (unsigned long)H * W * 4, dImg = (unsigned long)Ho * Wo * 8;
  unsigned long xRow = (unsigned long)sh * W * 4, dRow = (unsigned long)Wo * 8, xStep = (unsigned long)sw * 4;
  for (u32 co = c0; co < c1; co += 8) {
    const float *Db = dp + (unsigned long)(co / 8) * dPanel;
    for (u32 ci = 0; ci < Ci; ci += 4) {
      const float *Xb = xp + (unsigned long)(ci / 4) * xPanel;
      for (u32 a = 0; a < fh; a++) {
        /* Output rows i with 0 <= i·sh + a − top < H. */
        int lo = top - (int)a;
        u32 i0 = lo <= 0 ? 0 : (u32)((lo + (int)sh - 1) / (int)sh);
        int hi = (int)H - 1 + top - (int)a;
        u32 i1 = hi < 0 ? 0 : (u32)hi / sh + 1;
        if (i1 > Ho) i1 = Ho;
        for (u32 b = 0; b < fw; b++) {
          int lo2 = left - (int)b;
          u32 j0 = lo2 <= 0 ? 0 : (u32)((lo2 + (int)sw - 1) / (int)sw);
          int hi2 = (int)W - 1 + left - (int)b;
          u32 j1 = hi2 < 0 ? 0 : (u32)hi2 / sw + 1;
          if (j1 > Wo) j1 = Wo;
          v128_t a00 = zero, a01 = zero, a10 = zero, a11 = zero, a20 = zero, a21 = zero, a30 = zero, a31 = zero;
          if (i1 > i0 && j1 > j0) {
            u32 rows = i1 - i0, len = j1 - j0;
            unsigned long xFirst = ((unsigned long)((int)(i0 * sh) + (int)a - top) * W + (u32)((int)(j0 * sw) + (int)b - left)) * 4;
            unsigned long dFirst = ((unsigned long)i0 * Wo + j0) * 8;
            for (u32 n = 0; n < N; n++) {
              const float *xr = Xb + n * xImg + xFirst, *dr = Db + n * dImg + dFirst;
              for (u32 i = 0; i < rows; i++, xr += xRow, dr += dRow) {
                const float *xq = xr, *dq = dr;
                for (u32 j = 0; j < len; j++, xq += xStep, dq += 8) {
                  v128_t d0 = wasm_v128_load(dq), d1 = wasm_v128_load(dq + 4);
                  TILE4X8_MAC(a, xq, xq + 1, xq + 2, xq + 3, d0, d1);
                }
              }
            }
          }
          float *t0 = dw + ((unsigned long)(a * fw + b) * Ci + ci) * Co + co, *t1 = t0 + Co, *t2 = t1 + Co, *t3 = t2 + Co;
          wasm_v128_store(t0, a00); wasm_v128_store(t0 + 4, a01);
          wasm_v128_store(t1, a10); wasm_v128_store(t1 + 4, a11);
          wasm_v128_store(t2, a20); wasm_v128_store(t2 + 4, a21);
          wasm_v128_store(t3, a30); wasm_v128_store(t3 + 4, a31);
        }
      }
    }
  }
}
