/*
 * Input gradient of a direct 2-D convolution, any filter size and stride, without the dilated,
 * padded dy tensor or the flipped, transposed filter that the composed path builds.
 * Part of trainKernels.c (#included there, not compiled on its own; see kernels.h for the rules).
 */
#include "kernels.h"

/*
 * Runs the statement for every tap (a, b) that reaches the 4 dx pixels x0 + k·sw (k < 4) of dx
 * row y, with d0..d3 = their dy pixels (Co floats each; `zeros` where the tap falls outside dy or
 * k >= cnt). Only taps of the pixels' phase: a ≡ y + top and b ≡ x0 + left (mod the stride);
 * the dy row i = (y + top − a) / sh and column of pixel 0 j = (x0 + left − b) / sw are one less
 * at each next a and b (no division in the loop).
 */
#define GROUP_TAPS(...)                                                                               \
  int i_ = iStart;                                                                                    \
  for (u32 a = aStart; a < fh && i_ >= 0; a += sh, i_--) {                                            \
    if ((u32)i_ >= Ho) continue;                                                                      \
    const float *dyrow = dyimg + (unsigned long)i_ * Wo * Co;                                         \
    int j_ = jStart;                                                                                  \
    for (u32 b = bStart; b < fw; b += sw, j_--) {                                                     \
      const float *d0 = (u32)j_ < Wo ? dyrow + (unsigned long)j_ * Co : zeros;                        \
      const float *d1 = cnt > 1 && (u32)(j_ + 1) < Wo ? dyrow + (unsigned long)(j_ + 1) * Co : zeros; \
      const float *d2 = cnt > 2 && (u32)(j_ + 2) < Wo ? dyrow + (unsigned long)(j_ + 2) * Co : zeros; \
      const float *d3 = cnt > 3 && (u32)(j_ + 3) < Wo ? dyrow + (unsigned long)(j_ + 3) * Co : zeros; \
      __VA_ARGS__;                                                                                    \
    }                                                                                                 \
  }

INLINE float hsum(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

/*
 * Input gradient of a 2-D convolution (NHWC, dilation 1) for the flattened dx rows [r0, r1) of
 * [N·H):  dx[n, y, x, ci] = Σ_{a, b, co} dy[n, (y+top−a)/sh, (x+left−b)/sw, co] · w[a, b, ci, co]
 * over the taps where both quotients are whole and inside dy. dy [N, Ho, Wo, Co], w [fh, fw,
 * Ci, Co] as packed by pack_wT8 into wpack (taps of a row reversed), dx [N, H, W, Ci]
 * (overwritten; pixels no tap reaches get 0). zeros: Co zero floats.
 *
 * The pixels of a row are taken by column phase x ≡ p (mod sw), 4 at a time (x0 + k·sw), so
 * the 4 share their taps and read 4 consecutive dy pixels: a 4×8 register tile (4 pixels × 8
 * input channels) accumulates over the taps and Co (the last group of a phase overlaps the one
 * before; phases with fewer than 4 pixels compute zero-padded lanes and store only theirs).
 * A last 4-channel block runs as a 4×4 tile (XResNet's 4-channel stem at width 1/8); channels
 * beyond go one by one as dot products over Co.
 */
EXPORT void conv2d_input_grad(const float *dy, const float *wpack, const float *zeros, float *dx,
                              u32 r0, u32 r1, u32 H, u32 W, u32 Ci, u32 Ho, u32 Wo, u32 Co, u32 fh, u32 fw, u32 sh,
                              u32 sw, int top, int left) {
  u32 ci8 = Ci & ~7u;
  unsigned long blockSize = (unsigned long)fh * fw * Co * 8;
  /* Rows go in chunks whose dy rows fit in L2 (CONV_CHUNK_FLOATS), every 8-channel block of dx
   * over the whole chunk (its weights stay in L1/L2), then the tail: a block's weights are read
   * once per chunk, not once per row (ResNet's [8,4,4,512] 3×3 layer: 9.4 MB of weights, 32
   * rows). Same sums, same order per output (bit-identical). */
  u32 chunk = CONV_CHUNK_FLOATS * sh / (Wo * Co + 1) + 1;
  for (u32 rc = r0; rc < r1; rc += chunk) {
    u32 rce = r1 - rc < chunk ? r1 : rc + chunk;
    for (u32 cb = 0; cb <= ci8; cb += 8) {
      int tail = cb == ci8;
      if (tail && ci8 == Ci) break;
      const float *wb = wpack + (unsigned long)(cb / 8) * blockSize;
      for (u32 r = rc; r < rce; r++) {
        u32 n = r / H, y = r % H;
        float *dxrow = dx + (unsigned long)r * W * Ci;
        const float *dyimg = dy + (unsigned long)n * Ho * Wo * Co;
        int ty = (int)y + top;
        u32 aStart = (u32)ty % sh;
        int iStart = (int)(((u32)ty - aStart) / sh);
        for (u32 p = 0; p < sw && p < W; p++) {
          u32 m = (W - p + sw - 1) / sw; /* pixels p, p + sw, … of the row */
          u32 bStart = (u32)((int)p + left) % sw;
          int u0 = (int)p + left - (int)bStart; /* a multiple of sw, >= 0 */
          int jPhase = (int)((u32)u0 / sw);     /* dy column of pixel p at tap bStart */
          for (u32 g = 0; g < m; g += 4) {
            u32 k0 = g + 4 <= m ? g : (m >= 4 ? m - 4 : g);
            u32 cnt = m - k0 < 4 ? m - k0 : 4;
            u32 x0 = p + k0 * sw;
            int jStart = jPhase + (int)k0;
            float *o = dxrow + (unsigned long)x0 * Ci;
            unsigned long ostep = (unsigned long)sw * Ci;
            if (!tail) {
              v128_t z = wasm_f32x4_splat(0.0f);
              v128_t c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
              if (sw == 1 && cnt == 4 && jStart + 1 >= (int)fw && jStart + 3 < (int)Wo) {
                /* Stride 1, every tap inside dy: the fw taps of a filter row read fw·Co contiguous
                 * floats of dy (columns jStart − fw + 1 + k …), and wpack holds them in that order
                 * (b reversed): one loop instead of fw loops of Co. */
                int i_ = iStart;
                for (u32 a = aStart; a < fh && i_ >= 0; a += sh, i_--) {
                  if ((u32)i_ >= Ho) continue;
                  const float *d0 = dyimg + ((unsigned long)i_ * Wo + (u32)(jStart + 1 - (int)fw)) * Co;
                  const float *d1 = d0 + Co, *d2 = d1 + Co, *d3 = d2 + Co;
                  const float *wp = wb + (unsigned long)a * fw * Co * 8;
                  u32 q1 = fw * Co;
                  for (u32 q = 0; q < q1; q++, wp += 8) {
                    v128_t w0 = wasm_v128_load(wp), w1 = wasm_v128_load(wp + 4);
                    TILE4X8_MAC(c, d0 + q, d1 + q, d2 + q, d3 + q, w0, w1);
                  }
                }
              } else {
                GROUP_TAPS({
                  const float *wp = wb + (unsigned long)(a * fw + fw - 1 - b) * Co * 8;
                  for (u32 co = 0; co < Co; co++, wp += 8) {
                    v128_t w0 = wasm_v128_load(wp), w1 = wasm_v128_load(wp + 4);
                    TILE4X8_MAC(c, d0 + co, d1 + co, d2 + co, d3 + co, w0, w1);
                  }
                });
              }
              float *oc = o + cb;
              wasm_v128_store(oc, c00); wasm_v128_store(oc + 4, c01);
              if (cnt > 1) { wasm_v128_store(oc + ostep, c10); wasm_v128_store(oc + ostep + 4, c11); }
              if (cnt > 2) { wasm_v128_store(oc + 2 * ostep, c20); wasm_v128_store(oc + 2 * ostep + 4, c21); }
              if (cnt > 3) { wasm_v128_store(oc + 3 * ostep, c30); wasm_v128_store(oc + 3 * ostep + 4, c31); }
              continue;
            }
            u32 ci4 = ci8;
            if (Ci - ci8 >= 4) {
              /* A last 4-channel block ([taps, reversed][Co][4]): 4 pixels × 4 channels in registers. */
              const float *w4 = wpack + (unsigned long)ci8 * fh * fw * Co;
              v128_t c0 = wasm_f32x4_splat(0.0f), c1 = c0, c2 = c0, c3 = c0;
              if (sw == 1 && cnt == 4 && jStart + 1 >= (int)fw && jStart + 3 < (int)Wo) {
                int i_ = iStart;
                for (u32 a = aStart; a < fh && i_ >= 0; a += sh, i_--) {
                  if ((u32)i_ >= Ho) continue;
                  const float *d0 = dyimg + ((unsigned long)i_ * Wo + (u32)(jStart + 1 - (int)fw)) * Co;
                  const float *d1 = d0 + Co, *d2 = d1 + Co, *d3 = d2 + Co;
                  const float *wp = w4 + (unsigned long)a * fw * Co * 4;
                  u32 q1 = fw * Co;
                  for (u32 q = 0; q < q1; q++, wp += 4) {
                    v128_t w0 = wasm_v128_load(wp);
                    c0 = MAC(c0, wasm_v128_load32_splat(d0 + q), w0);
                    c1 = MAC(c1, wasm_v128_load32_splat(d1 + q), w0);
                    c2 = MAC(c2, wasm_v128_load32_splat(d2 + q), w0);
                    c3 = MAC(c3, wasm_v128_load32_splat(d3 + q), w0);
                  }
                }
              } else {
                GROUP_TAPS({
                  const float *wp = w4 + (unsigned long)(a * fw + fw - 1 - b) * Co * 4;
                  for (u32 co = 0; co < Co; co++, wp += 4) {
                    v128_t w0 = wasm_v128_load(wp);
                    c0 = MAC(c0, wasm_v128_load32_splat(d0 + co), w0);
                    c1 = MAC(c1, wasm_v128_load32_splat(d1 + co), w0);
                    c2 = MAC(c2, wasm_v128_load32_splat(d2 + co), w0);
                    c3 = MAC(c3, wasm_v128_load32_splat(d3 + co), w0);
                  }
                });
              }
              float *oc = o + ci8;
              wasm_v128_store(oc, c0);
              if (cnt > 1) wasm_v128_store(oc + ostep, c1);
              if (cnt > 2) wasm_v128_store(oc + 2 * ostep, c2);
              if (cnt > 3) wasm_v128_store(oc + 3 * ostep, c3);
              ci4 = ci8 + 4;
            }
            for (u32 ci = ci4; ci < Ci; ci++) {
              v128_t z = wasm_f32x4_splat(0.0f);
              v128_t s0 = z, s1 = z, s2 = z, s3 = z;
              float e0 = 0.0f, e1 = 0.0f, e2 = 0.0f, e3 = 0.0f;
              const float *wt = wpack + (unsigned long)ci * fh * fw * Co; /* [fh][fw reversed][Co] */
              if (sw == 1 && cnt == 4 && jStart + 1 >= (int)fw && jStart + 3 < (int)Wo) {
                /* As the 8-channel blocks: a filter row's taps as one run of fw·Co floats. */
                int i_ = iStart;
                for (u32 a = aStart; a < fh && i_ >= 0; a += sh, i_--) {
                  if ((u32)i_ >= Ho) continue;
                  const float *d0 = dyimg + ((unsigned long)i_ * Wo + (u32)(jStart + 1 - (int)fw)) * Co;
                  const float *d1 = d0 + Co, *d2 = d1 + Co, *d3 = d2 + Co;
                  const float *wp = wt + (unsigned long)a * fw * Co;
                  u32 q1 = fw * Co, q = 0;
                  for (; q + 4 <= q1; q += 4) {
                    v128_t wv = wasm_v128_load(wp + q);
                    s0 = MAC(s0, wasm_v128_load(d0 + q), wv);
                    s1 = MAC(s1, wasm_v128_load(d1 + q), wv);
                    s2 = MAC(s2, wasm_v128_load(d2 + q), wv);
                    s3 = MAC(s3, wasm_v128_load(d3 + q), wv);
                  }
                  for (; q < q1; q++) {
                    float wv = wp[q];
                    e0 += d0[q] * wv; e1 += d1[q] * wv; e2 += d2[q] * wv; e3 += d3[q] * wv;
                  }
                }
              } else {
                GROUP_TAPS({
                  const float *wp = wt + (unsigned long)(a * fw + fw - 1 - b) * Co;
                  u32 co = 0;
                  for (; co + 4 <= Co; co += 4) {
                    v128_t wv = wasm_v128_load(wp + co);
                    s0 = MAC(s0, wasm_v128_load(d0 + co), wv);
                    s1 = MAC(s1, wasm_v128_load(d1 + co), wv);
                    s2 = MAC(s2, wasm_v128_load(d2 + co), wv);
                    s3 = MAC(s3, wasm_v128_load(d3 + co), wv);
                  }
                  for (; co < Co; co++) {
                    float wv = wp[co];
                    e0 += d0[co] * wv; e1 += d1[co] * wv; e2 += d2[co] * wv; e3 += d3[co] * wv;
                  }
                });
              }
              o[ci] = hsum(s0) + e0;
              if (cnt > 1) o[ostep + ci] = hsum(s1) + e1;
              if (cnt > 2) o[2 * ostep + ci] = hsum(s2) + e2;
              if (cnt > 3) o[3 * ostep + ci] = hsum(s3) + e3;
            }
          }
        }
      }
    }
  }
}

/*
 * w [fh, fw, Ci, Co] → [Ci/8][fh][fw (reversed)][Co][8] for the first Ci & ~7 input channels,
 * then one [fh][fw (reversed)][Co][4] block where 4 or more remain, then [rest][fh][fw
 * (reversed)][Co] (fh·fw·Ci·Co floats in all; channel ci's data starts at ci·fh·fw·Co), for
 * conv2d_input_grad's wpack: tap b of row a at position a·fw + fw − 1 − b.
 */
EXPORT void pack_wT8(const float *w, u32 fh, u32 fw, u32 Ci, u32 Co, float *out) {
  u32 taps = fh * fw;
  for (u32 cb = 0; cb + 8 <= Ci; cb += 8) {
    for (u32 t = 0; t < taps; t++) {
      u32 a = t / fw, b = t % fw;
      float *o = out + ((unsigned long)(cb / 8) * taps + a * fw + fw - 1 - b) * Co * 8;
      const float *src = w + ((unsigned long)t * Ci + cb) * Co;
      for (u32 co = 0; co < Co; co++, o += 8) {
        for (u32 k = 0; k < 8; k++) o[k] = src[(unsigned long)k * Co + co];
      }
    }
  }
  u32 ci4 = Ci & ~7u;
  if (Ci - ci4 >= 4) {
    float *o4 = out + (unsigned long)ci4 * taps * Co;
    for (u32 t = 0; t < taps; t++) {
      u32 a = t / fw, b = t % fw;
      float *o = o4 + (unsigned long)(a * fw + fw - 1 - b) * Co * 4;
      const float *src = w + ((unsigned long)t * Ci + ci4) * Co;
      for (u32 co = 0; co < Co; co++, o += 4) {
        for (u32 k = 0; k < 4; k++) o[k] = src[(unsigned long)k * Co + co];
      }
    }
    ci4 += 4;
  }
  for (u32 ci = ci4; ci < Ci; ci++) {
    for (u32 t = 0; t < taps; t++) {
      u32 a = t / fw, b = t % fw;
      float *o = out + ((unsigned long)ci * taps + a * fw + fw - 1 - b) * Co;
      const float *src = w + ((unsigned long)t * Ci + ci) * Co;
      for (u32 co = 0; co < Co; co++) o[co] = src[co];
    }
  }
}

#undef GROUP_TAPS
