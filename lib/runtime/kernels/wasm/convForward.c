/*
 * Direct 2-D convolution, forward (and the weight packing it reads).
 * Part of trainKernels.c (#included there, not compiled on its own; see kernels.h for the rules).
 */
#include "kernels.h"

/*
 * 4 output pixels (columns j..j+3 of one row) × 8 output channels of a forward convolution.
 * Taps that fall outside the image read `zeros` (Ci zero floats) instead.
 */
INLINE void conv_block4x8(const float *ximg, const float *w, u32 wstride, const float *zeros, u32 W, u32 Ci, u32 Co,
                          u32 fw, u32 sw, int rowTop, u32 a0, u32 a1, u32 j, int left, v128_t b0, v128_t b1, int relu,
                          float *out) {
  v128_t c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1, c30 = b0, c31 = b1;
  int xFirst = (int)(j * sw) - left, xLast = (int)((j + 3) * sw + fw) - 1 - left;
  for (u32 a = a0; a < a1; a++) {
    const float *xr = ximg + (unsigned long)(rowTop + (int)a) * W * Ci;
    if (xFirst >= 0 && xLast < (int)W) {
      /* Every tap of the 4 pixels inside the image: the taps b and channels ci of a filter row
       * are one contiguous run of fw·Ci floats in x and in w (one loop instead of fw loops of Ci:
       * the 7×7 stem with 3 channels and 5×5 layers with 1 run 21 and 5 steps instead of 3 and 1). */
      const float *x0 = xr + (unsigned long)xFirst * Ci, *x1 = x0 + (unsigned long)sw * Ci;
      const float *x2 = x1 + (unsigned long)sw * Ci, *x3 = x2 + (unsigned long)sw * Ci;
      const float *wp = w + (unsigned long)a * fw * Ci * wstride;
      u32 q1 = fw * Ci;
      for (u32 q = 0; q < q1; q++, wp += wstride) {
        v128_t w0 = wasm_v128_load(wp), w1 = wasm_v128_load(wp + 4);
        TILE4X8_MAC(c, x0 + q, x1 + q, x2 + q, x3 + q, w0, w1);
      }
      continue;
    }
    for (u32 b = 0; b < fw; b++) {
      int xc = (int)(j * sw + b) - left;
      const float *x0 = xc >= 0 && xc < (int)W ? xr + (unsigned long)xc * Ci : zeros;
      xc += (int)sw;
      const float *x1 = xc >= 0 && xc < (int)W ? xr + (unsigned long)xc * Ci : zeros;
      xc += (int)sw;
      const float *x2 = xc >= 0 && xc < (int)W ? xr + (unsigned long)xc * Ci : zeros;
      xc += (int)sw;
      const float *x3 = xc >= 0 && xc < (int)W ? xr + (unsigned long)xc * Ci : zeros;
      const float *wp = w + (unsigned long)(a * fw + b) * Ci * wstride;
      for (u32 ci = 0; ci < Ci; ci++, wp += wstride) {
        v128_t w0 = wasm_v128_load(wp), w1 = wasm_v128_load(wp + 4);
        TILE4X8_MAC(c, x0 + ci, x1 + ci, x2 + ci, x3 + ci, w0, w1);
      }
    }
  }
  if (relu) {
    v128_t z = wasm_f32x4_splat(0.0f);
    c00 = wasm_f32x4_max(c00, z); c01 = wasm_f32x4_max(c01, z); c10 = wasm_f32x4_max(c10, z); c11 = wasm_f32x4_max(c11, z);
    c20 = wasm_f32x4_max(c20, z); c21 = wasm_f32x4_max(c21, z); c30 = wasm_f32x4_max(c30, z); c31 = wasm_f32x4_max(c31, z);
  }
  TILE4X8_STORE(out, Co);
}

/*
 * conv_block4x8 for 4 output channels (a layer's Co % 8 >= 4 rest, e.g. XResNet's 4-channel stem
 * at width 1/8): 4 pixels × 4 channels in registers, same taps and order.
 */
INLINE void conv_block4x4(const float *ximg, const float *w, u32 wstride, const float *zeros, u32 W, u32 Ci, u32 Co,
                          u32 fw, u32 sw, int rowTop, u32 a0, u32 a1, u32 j, int left, v128_t b0, int relu, float *out) {
  v128_t c0 = b0, c1 = b0, c2 = b0, c3 = b0;
  int xFirst = (int)(j * sw) - left, xLast = (int)((j + 3) * sw + fw) - 1 - left;
  for (u32 a = a0; a < a1; a++) {
    const float *xr = ximg + (unsigned long)(rowTop + (int)a) * W * Ci;
    if (xFirst >= 0 && xLast < (int)W) {
      const float *x0 = xr + (unsigned long)xFirst * Ci, *x1 = x0 + (unsigned long)sw * Ci;
      const float *x2 = x1 + (unsigned long)sw * Ci, *x3 = x2 + (unsigned long)sw * Ci;
      const float *wp = w + (unsigned long)a * fw * Ci * wstride;
      u32 q1 = fw * Ci;
      for (u32 q = 0; q < q1; q++, wp += wstride) {
        v128_t w0 = wasm_v128_load(wp);
        c0 = MAC(c0, wasm_v128_load32_splat(x0 + q), w0);
        c1 = MAC(c1, wasm_v128_load32_splat(x1 + q), w0);
        c2 = MAC(c2, wasm_v128_load32_splat(x2 + q), w0);
        c3 = MAC(c3, wasm_v128_load32_splat(x3 + q), w0);
      }
      continue;
    }
    for (u32 b = 0; b < fw; b++) {
      int xc = (int)(j * sw + b) - left;
      const float *x0 = xc >= 0 && xc < (int)W ? xr + (unsigned long)xc * Ci : zeros;
      xc += (int)sw;
      const float *x1 = xc >= 0 && xc < (int)W ? xr + (unsigned long)xc * Ci : zeros;
      xc += (int)sw;
      const float *x2 = xc >= 0 && xc < (int)W ? xr + (unsigned long)xc * Ci : zeros;
      xc += (int)sw;
      const float *x3 = xc >= 0 && xc < (int)W ? xr + (unsigned long)xc * Ci : zeros;
      const float *wp = w + (unsigned long)(a * fw + b) * Ci * wstride;
      for (u32 ci = 0; ci < Ci; ci++, wp += wstride) {
        v128_t w0 = wasm_v128_load(wp);
        c0 = MAC(c0, wasm_v128_load32_splat(x0 + ci), w0);
        c1 = MAC(c1, wasm_v128_load32_splat(x1 + ci), w0);
        c2 = MAC(c2, wasm_v128_load32_splat(x2 + ci), w0);
        c3 = MAC(c3, wasm_v128_load32_splat(x3 + ci), w0);
      }
    }
  }
  if (relu) {
    v128_t z = wasm_f32x4_splat(0.0f);
    c0 = wasm_f32x4_max(c0, z); c1 = wasm_f32x4_max(c1, z); c2 = wasm_f32x4_max(c2, z); c3 = wasm_f32x4_max(c3, z);
  }
  wasm_v128_store(out, c0); wasm_v128_store(out + Co, c1); wasm_v128_store(out + 2 * Co, c2); wasm_v128_store(out + 3 * Co, c3);
}

/*
 * Runs the statement for every tap (a, b) of output pixel j (row rowTop, taps a0..a1) that falls
 * inside the image, with xp = that input pixel's Ci channels and wp = the tap's weights at
 * output channel co (one pixel at a time, any position; conv2d_forward's edge path).
 */
#define PIXEL_TAPS(...)                                                                               \
  for (u32 a = a0; a < a1; a++) {                                                                     \
    for (u32 b = 0; b < fw; b++) {                                                                    \
      int xc = (int)(j * sw + b) - left;                                                              \
      if (xc < 0 || xc >= (int)W) continue;                                                           \
      const float *xp = ximg + ((unsigned long)(rowTop + (int)a) * W + (unsigned long)xc) * Ci;       \
      const float *wp = w + (unsigned long)(a * fw + b) * Ci * Co + co;                               \
      __VA_ARGS__;                                                                                    \
    }                                                                                                 \
  }

/*
 * Forward 2-D convolution, NHWC, dilation 1, for the flattened output rows [r0, r1) of
 * [N·Ho): y[n,i,j,co] = act(bias[co] + Σ_{a,b,ci} x[n, i·sh+a−top, j·sw+b−left, ci] · w[a,b,ci,co]),
 * taps outside the image count as zero (`zeros`: Ci zero floats of scratch). bias may be 0
 * (none); relu != 0 clamps at 0. Pixels go 4 at a time (4×8 register tile; the last block of a
 * row overlaps the previous one when Wo is not a multiple of 4), channel by channel block so
 * that the block's weights stay in L1 along the row; channels beyond a multiple of 8 and rows
 * narrower than 4 pixels go one by one. wpack (optional, from pack_w8) holds the weights of each
 * 8-channel block contiguously, streamed in order from L2 when a block outgrows L1.
 */
EXPORT void conv2d_forward(const float *x, const float *w, const float *wpack, const float *bias, const float *zeros, float *y,
                           u32 r0, u32 r1, u32 H, u32 W, u32 Ci, u32 Ho, u32 Wo, u32 Co, u32 fh, u32 fw, u32 sh, u32 sw, int top,
                           int left, int relu) {
  u32 blockSize = fh * fw * Ci * 8;
  u32 co8 = Wo >= 4 ? Co & ~7u : 0;
  /* Rows go in chunks whose input rows fit in L2 (CONV_CHUNK_FLOATS), every 8-channel block over
   * the whole chunk: a block's weights are read once per chunk, not once per row. Why: ResNet's
   * [8,4,4,512] 3×3 512→512 layer has 9.4 MB of weights and 32 rows of 4 pixels; row by row it
   * streamed them from L3 32 times. Same sums, same order per output (bit-identical). */
  u32 chunk = CONV_CHUNK_FLOATS / (sh * W * Ci + 1) + 1;
  for (u32 rc = r0; rc < r1; rc += chunk) {
    u32 rce = r1 - rc < chunk ? r1 : rc + chunk;
    for (u32 co = 0; co < co8; co += 8) {
      v128_t b0 = bias ? wasm_v128_load(bias + co) : wasm_f32x4_splat(0.0f);
      v128_t b1 = bias ? wasm_v128_load(bias + co + 4) : wasm_f32x4_splat(0.0f);
      for (u32 r = rc; r < rce; r++) {
        u32 n = r / Ho, i = r % Ho;
        int rowTop = (int)(i * sh) - top;
        u32 a0 = rowTop < 0 ? (u32)(-rowTop) : 0;
        int a1i = (int)fh;
        if (rowTop + (int)fh > (int)H) a1i = (int)H - rowTop;
        u32 a1 = a1i < (int)a0 ? a0 : (u32)a1i;
        float *yrow = y + (unsigned long)r * Wo * Co;
        const float *ximg = x + (unsigned long)n * H * W * Ci;
        for (u32 j = 0; j < Wo; j += 4) {
          u32 jj = j + 4 <= Wo ? j : Wo - 4;
          if (wpack) {
            conv_block4x8(ximg, wpack + (unsigned long)(co / 8) * blockSize, 8, zeros, W, Ci, Co, fw, sw, rowTop, a0, a1, jj,
                          left, b0, b1, relu, yrow + (unsigned long)jj * Co + co);
          } else {
            conv_block4x8(ximg, w + co, Co, zeros, W, Ci, Co, fw, sw, rowTop, a0, a1, jj, left, b0, b1, relu,
                          yrow + (unsigned long)jj * Co + co);
          }
        }
      }
    }
    if (co8 == Co) continue;
    for (u32 r = rc; r < rce; r++) {
      u32 n = r / Ho, i = r % Ho;
      int rowTop = (int)(i * sh) - top;
      u32 a0 = rowTop < 0 ? (u32)(-rowTop) : 0;
      int a1i = (int)fh;
      if (rowTop + (int)fh > (int)H) a1i = (int)H - rowTop;
      u32 a1 = a1i < (int)a0 ? a0 : (u32)a1i;
      float *yrow = y + (unsigned long)r * Wo * Co;
      const float *ximg = x + (unsigned long)n * H * W * Ci;
      u32 co4 = co8;
      if (Wo >= 4 && Co - co8 >= 4) {
        /* 4 more channels, 4 pixels at a time (was one pixel at a time: 4 taps·Ci-long chains). */
        v128_t b0 = bias ? wasm_v128_load(bias + co8) : wasm_f32x4_splat(0.0f);
        for (u32 j = 0; j < Wo; j += 4) {
          u32 jj = j + 4 <= Wo ? j : Wo - 4;
          conv_block4x4(ximg, w + co8, Co, zeros, W, Ci, Co, fw, sw, rowTop, a0, a1, jj, left, b0, relu,
                        yrow + (unsigned long)jj * Co + co8);
        }
        co4 = co8 + 4;
        if (co4 == Co) continue;
      }
      for (u32 j = 0; j < Wo; j++) {
        /* One pixel, any position. */
        float *out = yrow + (unsigned long)j * Co;
        u32 co = co4;
        for (; co + 4 <= Co; co += 4) {
          v128_t acc = bias ? wasm_v128_load(bias + co) : wasm_f32x4_splat(0.0f);
          PIXEL_TAPS(for (u32 ci = 0; ci < Ci; ci++, wp += Co) acc = MAC(acc, wasm_v128_load32_splat(xp + ci), wasm_v128_load(wp)));
          if (relu) acc = wasm_f32x4_max(acc, wasm_f32x4_splat(0.0f));
          wasm_v128_store(out + co, acc);
        }
        for (; co < Co; co++) {
          float s = bias ? bias[co] : 0.0f;
          PIXEL_TAPS(for (u32 ci = 0; ci < Ci; ci++) s += xp[ci] * wp[(unsigned long)ci * Co]);
          out[co] = relu && s < 0.0f ? 0.0f : s;
        }
      }
    }
  }
}

/* w [taps, Ci, Co] → [Co/8][taps][Ci][8] (the first Co & ~7 channels), for conv2d_forward's wpack. */
EXPORT void pack_w8(const float *w, u32 taps, u32 Ci, u32 Co, float *out) {
  u32 rows = taps * Ci;
  for (u32 cb = 0; cb + 8 <= Co; cb += 8) {
    float *o = out + (unsigned long)(cb / 8) * rows * 8;
    for (u32 r = 0; r < rows; r++) {
      const float *src = w + (unsigned long)r * Co + cb;
      wasm_v128_store(o + r * 8, wasm_v128_load(src));
      wasm_v128_store(o + r * 8 + 4, wasm_v128_load(src + 4));
    }
  }
}

#undef PIXEL_TAPS
