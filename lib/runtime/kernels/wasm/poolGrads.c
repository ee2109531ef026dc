/*
 * Gradients of 2-D max and average pooling (NHWC float32, any window, stride and padding).
 * Part of trainKernels.c (#included there, not compiled on its own; see kernels.h for the rules).
 */
#include "kernels.h"

/* First and one-past-last window index o (0 <= o < n) with o·s − pad <= p <= o·s − pad + f − 1. */
INLINE u32 windows_from(int p, u32 pad, u32 f, u32 s) {
  int lo = p + (int)pad - (int)f + 1;
  return lo <= 0 ? 0 : ((u32)lo + s - 1) / s;
}
INLINE u32 windows_to(int p, u32 pad, u32 s, u32 n) {
  u32 hi = (u32)(p + (int)pad) / s + 1;
  return hi < n ? hi : n;
}

/* Zeroes n floats. */
INLINE void zero_f32(float *p, u32 n) {
  u32 i = 0;
  v128_t z = wasm_f32x4_splat(0.0f);
  for (; i + 4 <= n; i += 4) wasm_v128_store(p + i, z);
  for (; i < n; i++) p[i] = 0.0f;
}

/*
 * max_pool_grad for windows that tile the image (stride = window, no padding before or after —
 * 'same' may pad only after: Ho·fh > H —; C % 4 == 0): each
 * dx belongs to at most one window, so it is written once, dy + 0 (as 0 + dy: −0 becomes +0)
 * at the window's first maximum and 0 elsewhere; the rows and columns no window covers are 0.
 * No zeroing pass and no scalar adds: cnn7th's (4,1) pool gradient of [32,128,128,16] ≈2.5×
 * faster than the general loop.
 */
static void max_pool_grad_tiled(const float *dy, const float *x, float *dx, u32 n0, u32 n1, u32 H, u32 W, u32 C,
    u32 Ho, u32 Wo, u32 fh, u32 fw) {
  v128_t ninf = wasm_f32x4_splat(-__builtin_inff()), none = wasm_i32x4_splat(-1), zero = wasm_f32x4_splat(0.0f);
  u32 rowLen = W * C, covered = Wo * fw * C;
  for (u32 n = n0; n < n1; n++) {
    const float *xn = x + (unsigned long)n * H * rowLen;
    float *dn = dx + (unsigned long)n * H * rowLen;
    for (u32 oy = 0; oy < Ho; oy++) {
      const float *g = dy + ((unsigned long)n * Ho + oy) * Wo * C;
      for (u32 ox = 0; ox < Wo; ox++) {
        u32 base = oy * fh * rowLen + ox * fw * C;
        for (u32 c = 0; c < C; c += 4) {
          v128_t best = ninf, at = none;
          for (u32 a = 0; a < fh; a++) {
            for (u32 b = 0; b < fw; b++) {
              u32 p = base + a * rowLen + b * C + c;
              v128_t v = wasm_v128_load(xn + p);
              v128_t m = wasm_f32x4_gt(v, best);
              best = wasm_v128_bitselect(v, best, m);
              at = wasm_v128_bitselect(wasm_i32x4_splat((int)p), at, m);
            }
          }
          v128_t gv = wasm_f32x4_add(wasm_v128_load(g + ox * C + c), zero);
          for (u32 a = 0; a < fh; a++) {
            for (u32 b = 0; b < fw; b++) {
              u32 p = base + a * rowLen + b * C + c;
              wasm_v128_store(dn + p, wasm_v128_and(gv, wasm_i32x4_eq(at, wasm_i32x4_splat((int)p))));
            }
          }
        }
      }
      if (covered < rowLen) {
        for (u32 a = 0; a < fh; a++) zero_f32(dn + (oy * fh + a) * rowLen + covered, rowLen - covered);
      }
    }
    zero_f32(dn + Ho * fh * rowLen, (H - Ho * fh) * rowLen);
  }
}

/*
 * MaxPoolGrad of images [n0, n1): dx = 0 there, then each window's dy is added (in float32, in
 * window order) at the window's first maximum in row-major order (strict >, from −∞: a window
 * of NaNs or of padding only passes nothing on) — cpu's maxPoolPositions/maxPoolBackprop routing
 * and lib/runtime/kernels/maxPoolGrad.ts' JavaScript loop. 4 channels at a time: a running
 * maximum and its position per lane, then one scalar add per lane.
 */
EXPORT void max_pool_grad(const float *dy, const float *x, float *dx, u32 n0, u32 n1, u32 H, u32 W, u32 C,
    u32 Ho, u32 Wo, u32 fh, u32 fw, u32 sh, u32 sw, u32 top, u32 left) {
  if (sh == fh && sw == fw && top == 0 && left == 0 && Ho * fh <= H && Wo * fw <= W && C % 4 == 0) {
    max_pool_grad_tiled(dy, x, dx, n0, n1, H, W, C, Ho, Wo, fh, fw);
    return;
  }
  u32 img = H * W * C;
  float *z = dx + (unsigned long)n0 * img;
  u32 total = (n1 - n0) * img, i = 0;
  v128_t zero = wasm_f32x4_splat(0.0f);
  for (; i + 4 <= total; i += 4) wasm_v128_store(z + i, zero);
  for (; i < total; i++) z[i] = 0.0f;
  v128_t ninf = wasm_f32x4_splat(-__builtin_inff()), none = wasm_i32x4_splat(-1);
  for (u32 n = n0; n < n1; n++) {
    const float *xn = x + (unsigned long)n * img;
    float *dn = dx + (unsigned long)n * img;
    for (u32 oy = 0; oy < Ho; oy++) {
      int y0 = (int)(oy * sh) - (int)top;
      u32 ya = y0 < 0 ? 0 : (u32)y0;
      int yend = y0 + (int)fh;
      u32 yb = yend < 0 ? 0 : ((u32)yend < H ? (u32)yend : H);
      for (u32 ox = 0; ox < Wo; ox++) {
        int x0 = (int)(ox * sw) - (int)left;
        u32 xa = x0 < 0 ? 0 : (u32)x0;
        int xend = x0 + (int)fw;
        u32 xb = xend < 0 ? 0 : ((u32)xend < W ? (u32)xend : W);
        const float *g = dy + (((unsigned long)n * Ho + oy) * Wo + ox) * C;
        u32 c = 0;
        for (; c + 4 <= C; c += 4) {
          v128_t best = ninf, at = none;
          for (u32 y = ya; y < yb; y++) {
            for (u32 xx = xa; xx < xb; xx++) {
              u32 p = (y * W + xx) * C + c;
              v128_t v = wasm_v128_load(xn + p);
              v128_t m = wasm_f32x4_gt(v, best);
              best = wasm_v128_bitselect(v, best, m);
              at = wasm_v128_bitselect(wasm_i32x4_splat((int)p), at, m);
            }
          }
          int a0 = wasm_i32x4_extract_lane(at, 0), a1 = wasm_i32x4_extract_lane(at, 1);
          int a2 = wasm_i32x4_extract_lane(at, 2), a3 = wasm_i32x4_extract_lane(at, 3);
          if (a0 >= 0) dn[a0] += g[c];
          if (a1 >= 0) dn[a1 + 1] += g[c + 1];
          if (a2 >= 0) dn[a2 + 2] += g[c + 2];
          if (a3 >= 0) dn[a3 + 3] += g[c + 3];
        }
        for (; c < C; c++) {
          float best = -__builtin_inff();
          int at = -1;
          for (u32 y = ya; y < yb; y++) {
            for (u32 xx = xa; xx < xb; xx++) {
              u32 p = (y * W + xx) * C + c;
              if (xn[p] > best) { best = xn[p]; at = (int)p; }
            }
          }
          if (at >= 0) dn[at] += g[c];
        }
      }
    }
  }
}

/*
 * AvgPoolGrad of dx rows [r0, r1) (a row: one image row, r = n·H + y): each dx is the float64
 * sum of the dy of the windows that cover it, in window order, times `scale` (1 / window area,
 * padding included), rounded once to float32 — cpu's avgPoolGrad arithmetic, so equal to it
 * bit for bit. Each dx is written once (no zeroing, no scatter), so any row split works.
 * Windows that tile the image (stride = window, no padding before or after: every pool of the
 * zoo but the overlapping ones and xresnet's 'same' pool of odd sizes) replicate each window's one value instead of searching covering windows.
 */
EXPORT void avg_pool_grad(const float *dy, float *dx, u32 r0, u32 r1, u32 H, u32 W, u32 C, u32 Ho, u32 Wo,
    u32 fh, u32 fw, u32 sh, u32 sw, u32 top, u32 left, double scale) {
  v128_t k = wasm_f64x2_splat(scale);
  if (sh == fh && sw == fw && top == 0 && left == 0 && Ho * fh <= H && Wo * fw <= W) {
    /* Windows that tile the image: one window per dx (or none: 0), its value replicated. */
    u32 rowLen = W * C, covered = Wo * fw * C;
    v128_t zero = wasm_f64x2_splat(0.0);
    for (u32 r = r0; r < r1; r++) {
      u32 n = r / H, oy = (r % H) / fh;
      float *d = dx + (unsigned long)r * rowLen;
      if (oy >= Ho) {
        zero_f32(d, rowLen);
        continue;
      }
      const float *g = dy + ((unsigned long)n * Ho + oy) * Wo * C;
      for (u32 ox = 0; ox < Wo; ox++) {
        float *dw = d + ox * fw * C;
        u32 c = 0;
        for (; c + 4 <= C; c += 4) {
          v128_t v = wasm_v128_load(g + ox * C + c);
          /* 0 + dy first, as the sum: −0 becomes +0. */
          v128_t lo = wasm_f32x4_demote_f64x2_zero(wasm_f64x2_mul(wasm_f64x2_add(zero, wasm_f64x2_promote_low_f32x4(v)), k));
          v128_t hi = wasm_f32x4_demote_f64x2_zero(wasm_f64x2_mul(wasm_f64x2_add(zero,
            wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 2, 3))), k));
          v128_t out = wasm_i32x4_shuffle(lo, hi, 0, 1, 4, 5);
          for (u32 b = 0; b < fw; b++) wasm_v128_store(dw + b * C + c, out);
        }
        for (; c < C; c++) {
          float out = (float)((0.0 + g[ox * C + c]) * scale);
          for (u32 b = 0; b < fw; b++) dw[b * C + c] = out;
        }
      }
      zero_f32(d + covered, rowLen - covered);
    }
    return;
  }
  for (u32 r = r0; r < r1; r++) {
    u32 n = r / H, y = r % H;
    u32 oya = windows_from((int)y, top, fh, sh), oyb = windows_to((int)y, top, sh, Ho);
    for (u32 xx = 0; xx < W; xx++) {
      u32 oxa = windows_from((int)xx, left, fw, sw), oxb = windows_to((int)xx, left, sw, Wo);
      float *d = dx + ((unsigned long)r * W + xx) * C;
      u32 c = 0;
      for (; c + 4 <= C; c += 4) {
        v128_t s0 = wasm_f64x2_splat(0.0), s1 = s0;
        for (u32 oy = oya; oy < oyb; oy++) {
          for (u32 ox = oxa; ox < oxb; ox++) {
            v128_t v = wasm_v128_load(dy + (((unsigned long)n * Ho + oy) * Wo + ox) * C + c);
            s0 = wasm_f64x2_add(s0, wasm_f64x2_promote_low_f32x4(v));
            s1 = wasm_f64x2_add(s1, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 2, 3)));
          }
        }
        v128_t lo = wasm_f32x4_demote_f64x2_zero(wasm_f64x2_mul(s0, k));
        v128_t hi = wasm_f32x4_demote_f64x2_zero(wasm_f64x2_mul(s1, k));
        wasm_v128_store(d + c, wasm_i32x4_shuffle(lo, hi, 0, 1, 4, 5));
      }
      for (; c < C; c++) {
        double s = 0.0;
        for (u32 oy = oya; oy < oyb; oy++) {
          for (u32 ox = oxa; ox < oxb; ox++) s += dy[(((unsigned long)n * Ho + oy) * Wo + ox) * C + c];
        }
        d[c] = (float)(s * scale);
      }
    }
  }
}

/*
 * MaxPool forward of output rows [r0, r1) (r = n·Ho + oy): each output channel the largest of
 * its window's pixels inside the image (padding never wins; a window of padding only gives −∞),
 * compared as cpu's pool: from −∞, a pixel replaces the running maximum only when greater (a NaN
 * never does). 4 channels at a time. Why not XNNPACK's: on the
 * threaded binary its thread-pool hand-over alone cost 0.4 ms and more per call (../poolForward.ts).
 */
EXPORT void max_pool(const float *x, float *y, u32 r0, u32 r1, u32 H, u32 W, u32 C, u32 Ho, u32 Wo,
                     u32 fh, u32 fw, u32 sh, u32 sw, u32 top, u32 left) {
  for (u32 r = r0; r < r1; r++) {
    u32 n = r / Ho, oy = r % Ho;
    int y0 = (int)(oy * sh) - (int)top;
    u32 yMin = y0 < 0 ? 0 : (u32)y0;
    u32 yMax = y0 + (int)fh > (int)H ? H : (u32)(y0 + (int)fh);
    const float *xn = x + (unsigned long)n * H * W * C;
    float *o = y + (unsigned long)r * Wo * C;
    for (u32 ox = 0; ox < Wo; ox++, o += C) {
      int x0 = (int)(ox * sw) - (int)left;
      u32 xMin = x0 < 0 ? 0 : (u32)x0;
      u32 xMax = x0 + (int)fw > (int)W ? W : (u32)(x0 + (int)fw);
      u32 c = 0;
      for (; c + 4 <= C; c += 4) {
        v128_t m = wasm_f32x4_splat(-__builtin_inff());
        for (u32 yy = yMin; yy < yMax; yy++) {
          const float *p = xn + ((unsigned long)yy * W + xMin) * C + c;
          for (u32 xx = xMin; xx < xMax; xx++, p += C) {
            v128_t v = wasm_v128_load(p);
            m = wasm_v128_bitselect(v, m, wasm_f32x4_gt(v, m));
          }
        }
        wasm_v128_store(o + c, m);
      }
      for (; c < C; c++) {
        float m = -__builtin_inff();
        for (u32 yy = yMin; yy < yMax; yy++) {
          const float *p = xn + ((unsigned long)yy * W + xMin) * C + c;
          for (u32 xx = xMin; xx < xMax; xx++, p += C) if (*p > m) m = *p;
        }
        o[c] = m;
      }
    }
  }
}

/*
 * AvgPool forward of output rows [r0, r1) for windows of at most 9 pixels: XNNPACK's arithmetic
 * (its 9-input average-pool kernel), so the same bits: the window's taps column by column (x
 * outer, y inner) as i0…i8, taps outside the image and unused slots 0, summed as
 * ((i2+i3)+(i4+i5)) + (((i0+i1)+i8)+(i6+i7)), times f32(1/count) (count: the taps inside the
 * image). Why not XNNPACK's: on the threaded binary its thread-pool hand-over alone cost more
 * than the pooling (≈1 ms a call, ../poolForward.ts).
 */
/* Element offset of slot j (column-major tap kx = j / fh, ky = j % fh) in an image, or -1 (outside, unused). */
INLINE long avg_tap(u32 j, u32 fh, u32 fw, int y0, int x0, u32 H, u32 W, u32 C, u32 *count) {
  if (j >= fh * fw) return -1;
  int yy = y0 + (int)(j % fh), xx = x0 + (int)(j / fh);
  if (yy < 0 || yy >= (int)H || xx < 0 || xx >= (int)W) return -1;
  (*count)++;
  return ((long)yy * W + xx) * C;
}

EXPORT void avg_pool9(const float *x, float *y, u32 r0, u32 r1, u32 H, u32 W, u32 C, u32 Ho, u32 Wo,
                      u32 fh, u32 fw, u32 sh, u32 sw, u32 top, u32 left) {
  v128_t zero = wasm_f32x4_splat(0.0f);
  for (u32 r = r0; r < r1; r++) {
    u32 n = r / Ho, oy = r % Ho;
    int y0 = (int)(oy * sh) - (int)top;
    const float *xn = x + (unsigned long)n * H * W * C;
    float *o = y + (unsigned long)r * Wo * C;
    for (u32 ox = 0; ox < Wo; ox++, o += C) {
      int x0 = (int)(ox * sw) - (int)left;
      u32 count = 0;
      long a0 = avg_tap(0, fh, fw, y0, x0, H, W, C, &count), a1 = avg_tap(1, fh, fw, y0, x0, H, W, C, &count);
      long a2 = avg_tap(2, fh, fw, y0, x0, H, W, C, &count), a3 = avg_tap(3, fh, fw, y0, x0, H, W, C, &count);
      long a4 = avg_tap(4, fh, fw, y0, x0, H, W, C, &count), a5 = avg_tap(5, fh, fw, y0, x0, H, W, C, &count);
      long a6 = avg_tap(6, fh, fw, y0, x0, H, W, C, &count), a7 = avg_tap(7, fh, fw, y0, x0, H, W, C, &count);
      long a8 = avg_tap(8, fh, fw, y0, x0, H, W, C, &count);
      float scale = 1.0f / (float)count;
      v128_t vs = wasm_f32x4_splat(scale);
      u32 c = 0;
      for (; c + 4 <= C; c += 4) {
#define TAP(a) ((a) < 0 ? zero : wasm_v128_load(xn + (a) + c))
        v128_t s01 = wasm_f32x4_add(TAP(a0), TAP(a1)), s23 = wasm_f32x4_add(TAP(a2), TAP(a3));
        v128_t s45 = wasm_f32x4_add(TAP(a4), TAP(a5)), s67 = wasm_f32x4_add(TAP(a6), TAP(a7));
        v128_t s018 = wasm_f32x4_add(s01, TAP(a8));
#undef TAP
        v128_t sum = wasm_f32x4_add(wasm_f32x4_add(s23, s45), wasm_f32x4_add(s018, s67));
        wasm_v128_store(o + c, wasm_f32x4_mul(sum, vs));
      }
      for (; c < C; c++) {
#define TAP(a) ((a) < 0 ? 0.0f : xn[(a) + c])
        float s01 = TAP(a0) + TAP(a1), s23 = TAP(a2) + TAP(a3), s45 = TAP(a4) + TAP(a5), s67 = TAP(a6) + TAP(a7);
        float s018 = s01 + TAP(a8);
#undef TAP
        o[c] = ((s23 + s45) + (s018 + s67)) * scale;
      }
    }
  }
}
