/*
 * Depthwise convolutions: forward, filter gradient, input gradient.
 * Part of trainKernels.c (#included there, not compiled on its own; see kernels.h for the rules).
 *
 * NHWC, dilation 1, filter [fh, fw, C, m] (channel multiplier m): output channel co = c·m + q
 * comes from input channel c and filter slice [:, :, c, q]; Co = C·m. Channels are contiguous,
 * so with m = 1 (MobileNetV2) the vectors run over them, 16 channels (4 vectors) at a time, then
 * 4, then one; other multipliers take scalar loops. The vector multiply-adds are kernels.h's
 * MAC (fused in the relaxed-SIMD builds, as in the other convolutions). With pad top/left:
 *   y[n, i, j, co]  = Σ_{a,b} x[n, i·sh + a − top, j·sw + b − left, c] · W[a, b, c, q]
 *   dW[a, b, c, q]  = Σ_{n,i,j} x[n, i·sh + a − top, j·sw + b − left, c] · dy[n, i, j, co]
 *   dx[n, y, z, c]  = Σ_{q,a,b,i,j: i·sh + a − top = y, j·sw + b − left = z} dy[n, i, j, co] · W[a, b, c, q]
 */
#include "kernels.h"

/* First output column j whose tap b lands at or after column 0: j·s + b − pad >= 0. */
INLINE u32 dw_first_j(u32 b, int pad, u32 s) {
  int lo = pad - (int)b;
  return lo <= 0 ? 0 : (u32)((lo + (int)s - 1) / (int)s);
}

/* One past the last output column j (at most Wo) whose tap b lands before column W. */
INLINE u32 dw_end_j(u32 b, int pad, u32 s, u32 W, u32 Wo) {
  int hi = (int)W - 1 + pad - (int)b; /* j·s <= hi */
  if (hi < 0) return 0;
  u32 e = (u32)hi / s + 1;
  return e > Wo ? Wo : e;
}

/* t[0..3] += s (float32 lanes added in float64). */
INLINE void dw_flush4(double *t, v128_t s) {
  v128_t lo = wasm_f64x2_promote_low_f32x4(s);
  v128_t hi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(s, s, 2, 3, 2, 3));
  wasm_v128_store(t, wasm_f64x2_add(wasm_v128_load(t), lo));
  wasm_v128_store(t + 2, wasm_f64x2_add(wasm_v128_load(t + 2), hi));
}

/* s += x[b] · d when tap column b lies in [b0, b1) (border columns of dw_fgrad_row3x3). */
#define DW_TAP_IF(s, xp, d, b) \
  if ((b) >= b0 && (b) < b1) s = MAC(s, wasm_v128_load((xp) + (b) * (int)C), d)

/*
 * One row of dy (3×3 filter, multiplier 1, all three input rows inside the image) into acc:
 * 4 channels at a time, the nine taps' float32 sums over the row in registers (each x and dy
 * vector loaded once per tap row instead of once per product), added to the float64 totals at
 * the end of the row. The same sums, in the same order, as the per-tap loops of dw_filter_grad.
 */
INLINE void dw_fgrad_row3x3(const float *x0, const float *dyrow, double *acc, u32 C, u32 W, u32 Wo, u32 sw, int left,
                            u32 jA, u32 jB) {
  const float *x1 = x0 + (unsigned long)W * C, *x2 = x1 + (unsigned long)W * C;
  u32 c = 0;
  for (; c + 4 <= C; c += 4) {
    v128_t s00 = wasm_f32x4_splat(0.0f), s01 = s00, s02 = s00, s10 = s00, s11 = s00, s12 = s00, s20 = s00, s21 = s00, s22 = s00;
    for (u32 j = 0; j < Wo; j++) {
      if (j == jA && jA < jB) {
        /* The interior: every tap inside the image. */
        const float *p0 = x0 + (long)((int)(j * sw) - left) * (int)C + c, *p1 = p0 + (x1 - x0), *p2 = p0 + (x2 - x0);
        const float *d = dyrow + (unsigned long)j * C + c;
        u32 step = sw * C;
        for (; j < jB; j++, p0 += step, p1 += step, p2 += step, d += C) {
          v128_t dv = wasm_v128_load(d);
          s00 = MAC(s00, wasm_v128_load(p0), dv);
          s01 = MAC(s01, wasm_v128_load(p0 + C), dv);
          s02 = MAC(s02, wasm_v128_load(p0 + 2 * C), dv);
          s10 = MAC(s10, wasm_v128_load(p1), dv);
          s11 = MAC(s11, wasm_v128_load(p1 + C), dv);
          s12 = MAC(s12, wasm_v128_load(p1 + 2 * C), dv);
          s20 = MAC(s20, wasm_v128_load(p2), dv);
          s21 = MAC(s21, wasm_v128_load(p2 + C), dv);
          s22 = MAC(s22, wasm_v128_load(p2 + 2 * C), dv);
        }
        if (j >= Wo) break;
      }
      /* A border column: only the taps inside the image. */
      int zj = (int)(j * sw) - left;
      int b0 = zj < 0 ? -zj : 0, b1 = (int)W - zj < 3 ? (int)W - zj : 3;
      v128_t dv = wasm_v128_load(dyrow + (unsigned long)j * C + c);
      const float *p0 = x0 + (long)zj * (int)C + c, *p1 = x1 + (long)zj * (int)C + c, *p2 = x2 + (long)zj * (int)C + c;
      DW_TAP_IF(s00, p0, dv, 0); DW_TAP_IF(s01, p0, dv, 1); DW_TAP_IF(s02, p0, dv, 2);
      DW_TAP_IF(s10, p1, dv, 0); DW_TAP_IF(s11, p1, dv, 1); DW_TAP_IF(s12, p1, dv, 2);
      DW_TAP_IF(s20, p2, dv, 0); DW_TAP_IF(s21, p2, dv, 1); DW_TAP_IF(s22, p2, dv, 2);
    }
    dw_flush4(acc + c, s00); dw_flush4(acc + C + c, s01); dw_flush4(acc + 2 * C + c, s02);
    dw_flush4(acc + 3 * C + c, s10); dw_flush4(acc + 4 * C + c, s11); dw_flush4(acc + 5 * C + c, s12);
    dw_flush4(acc + 6 * C + c, s20); dw_flush4(acc + 7 * C + c, s21); dw_flush4(acc + 8 * C + c, s22);
  }
  for (; c < C; c++) {
    for (u32 a = 0; a < 3; a++) {
      const float *xr = a == 0 ? x0 : a == 1 ? x1 : x2;
      for (u32 b = 0; b < 3; b++) {
        u32 j0 = dw_first_j(b, left, sw), j1 = dw_end_j(b, left, sw, W, Wo);
        float s = 0.0f;
        for (u32 j = j0; j < j1; j++) s += xr[(unsigned long)((int)(j * sw + b) - left) * C + c] * dyrow[(unsigned long)j * C + c];
        acc[(a * 3 + b) * C + c] += (double)s;
      }
    }
  }
}

/*
 * Filter gradient of the images [n0, n1) into acc [fh, fw, C, m] in float64 (overwritten; the
 * caller rounds it, dw_finish). Row by row, as conv2d_filter_grad: a row of dy and the fh rows of
 * x it meets stay in L1; for every tap the products over the row's valid columns are summed in
 * float32 (at most Wo terms), then added to the float64 total, so the rounding does not grow
 * with N·Ho as a float32 total's would.
 */
EXPORT void dw_filter_grad(const float *x, const float *dy, double *acc, u32 n0, u32 n1, u32 H, u32 W, u32 C, u32 m,
                           u32 Ho, u32 Wo, u32 fh, u32 fw, u32 sh, u32 sw, int top, int left) {
  u32 Co = C * m;
  u32 total = fh * fw * Co;
  for (u32 k = 0; k < total; k++) acc[k] = 0.0;
  /* 3×3 path: columns j whose 3 taps all lie inside the image. */
  u32 jA = dw_first_j(0, left, sw), jB = dw_end_j(2, left, sw, W, Wo);
  if (jB < jA) jB = jA;
  for (u32 n = n0; n < n1; n++) {
    for (u32 i = 0; i < Ho; i++) {
      const float *dyrow = dy + ((unsigned long)n * Ho + i) * Wo * Co;
      int yi = (int)(i * sh) - top;
      if (m == 1 && fh == 3 && fw == 3 && yi >= 0 && yi + 3 <= (int)H && C >= 4) {
        dw_fgrad_row3x3(x + ((unsigned long)n * H + (u32)yi) * W * C, dyrow, acc, C, W, Wo, sw, left, jA, jB);
        continue;
      }
      for (u32 a = 0; a < fh; a++) {
        int xr = (int)(i * sh + a) - top;
        if (xr < 0 || xr >= (int)H) continue;
        const float *xrow = x + ((unsigned long)n * H + (u32)xr) * W * C;
        for (u32 b = 0; b < fw; b++) {
          u32 j0 = dw_first_j(b, left, sw), j1 = dw_end_j(b, left, sw, W, Wo);
          if (j0 >= j1) continue;
          const float *xs = xrow + ((int)(j0 * sw + b) - left) * (int)C; /* x column of j0 */
          const float *ds = dyrow + (unsigned long)j0 * Co;
          u32 len = j1 - j0, xstep = sw * C;
          double *t = acc + (unsigned long)(a * fw + b) * Co;
          if (m != 1) {
            for (u32 co = 0; co < Co; co++) {
              const float *xp = xs + co / m, *dp = ds + co;
              float s = 0.0f;
              for (u32 j = 0; j < len; j++, xp += xstep, dp += Co) s += *xp * *dp;
              t[co] += (double)s;
            }
            continue;
          }
          u32 c = 0;
          for (; c + 16 <= C; c += 16) {
            v128_t s0 = wasm_f32x4_splat(0.0f), s1 = s0, s2 = s0, s3 = s0;
            const float *xp = xs + c, *dp = ds + c;
            for (u32 j = 0; j < len; j++, xp += xstep, dp += C) {
              s0 = MAC(s0, wasm_v128_load(xp), wasm_v128_load(dp));
              s1 = MAC(s1, wasm_v128_load(xp + 4), wasm_v128_load(dp + 4));
              s2 = MAC(s2, wasm_v128_load(xp + 8), wasm_v128_load(dp + 8));
              s3 = MAC(s3, wasm_v128_load(xp + 12), wasm_v128_load(dp + 12));
            }
            dw_flush4(t + c, s0);
            dw_flush4(t + c + 4, s1);
            dw_flush4(t + c + 8, s2);
            dw_flush4(t + c + 12, s3);
          }
          for (; c + 4 <= C; c += 4) {
            v128_t s0 = wasm_f32x4_splat(0.0f);
            const float *xp = xs + c, *dp = ds + c;
            for (u32 j = 0; j < len; j++, xp += xstep, dp += C) s0 = MAC(s0, wasm_v128_load(xp), wasm_v128_load(dp));
            dw_flush4(t + c, s0);
          }
          for (; c < C; c++) {
            const float *xp = xs + c, *dp = ds + c;
            float s = 0.0f;
            for (u32 j = 0; j < len; j++, xp += xstep, dp += C) s += *xp * *dp;
            t[c] += (double)s;
          }
        }
      }
    }
  }
}

/* dw[k] = f32(acc0[k] + acc1[k]) (acc1 = 0: acc0 alone): the float64 totals of the halves, rounded once. */
EXPORT void dw_finish(const double *acc0, const double *acc1, u32 size, float *dw) {
  if (acc1) {
    for (u32 k = 0; k < size; k++) dw[k] = (float)(acc0[k] + acc1[k]);
  } else {
    for (u32 k = 0; k < size; k++) dw[k] = (float)acc0[k];
  }
}

/* act 1: relu, 2: relu6 (max/min propagate NaN, as tfjs' cpu kernels do). */
INLINE v128_t dw_act(v128_t v, u32 act) {
  if (act == 0) return v;
  v = wasm_f32x4_max(v, wasm_f32x4_splat(0.0f));
  return act == 2 ? wasm_f32x4_min(v, wasm_f32x4_splat(6.0f)) : v;
}
INLINE float dw_act1(float v, u32 act) {
  if (act == 0 || v != v) return v;
  if (v < 0.0f) v = 0.0f;
  return act == 2 && v > 6.0f ? 6.0f : v;
}

#define DW_MAC(s, p, q) s = MAC(s, wasm_v128_load(p), wasm_v128_load(q))

/*
 * One output pixel of the forward pass, channels [c0, Co): act(bias + Σ of the valid taps,
 * rows a0..a1 and columns b0..b1 of the filter, in (a, b) order). yi, zj: input row and column
 * of tap (0, 0).
 */
INLINE void dw_forward_pixel(const float *ximg, const float *w, const float *bias, float *o, u32 c0, u32 W, u32 C,
                             u32 m, u32 fw, int yi, u32 a0, u32 a1, int zj, u32 act) {
  u32 Co = C * m;
  int b0i = zj < 0 ? -zj : 0, b1i = (int)W - zj < (int)fw ? (int)W - zj : (int)fw;
  u32 b0 = (u32)b0i, b1 = b1i > b0i ? (u32)b1i : b0;
  if (m != 1) {
    for (u32 co = c0; co < Co; co++) {
      float s = bias ? bias[co] : 0.0f;
      for (u32 a = a0; a < a1; a++)
        for (u32 b = b0; b < b1; b++)
          s += ximg[((unsigned long)(yi + (int)a) * W + (u32)(zj + (int)b)) * C + co / m] * w[(a * fw + b) * Co + co];
      o[co] = dw_act1(s, act);
    }
    return;
  }
  u32 c = c0;
  for (; c + 16 <= C; c += 16) {
    v128_t s0, s1, s2, s3;
    if (bias) {
      s0 = wasm_v128_load(bias + c); s1 = wasm_v128_load(bias + c + 4);
      s2 = wasm_v128_load(bias + c + 8); s3 = wasm_v128_load(bias + c + 12);
    } else {
      s0 = s1 = s2 = s3 = wasm_f32x4_splat(0.0f);
    }
    for (u32 a = a0; a < a1; a++) {
      const float *xr = ximg + ((unsigned long)(yi + (int)a) * W + (u32)(zj + (int)b0)) * C + c;
      const float *wr = w + (a * fw + b0) * C + c;
      for (u32 b = b0; b < b1; b++, xr += C, wr += C) {
        DW_MAC(s0, xr, wr); DW_MAC(s1, xr + 4, wr + 4); DW_MAC(s2, xr + 8, wr + 8); DW_MAC(s3, xr + 12, wr + 12);
      }
    }
    wasm_v128_store(o + c, dw_act(s0, act));
    wasm_v128_store(o + c + 4, dw_act(s1, act));
    wasm_v128_store(o + c + 8, dw_act(s2, act));
    wasm_v128_store(o + c + 12, dw_act(s3, act));
  }
  for (; c + 4 <= C; c += 4) {
    v128_t s0 = bias ? wasm_v128_load(bias + c) : wasm_f32x4_splat(0.0f);
    for (u32 a = a0; a < a1; a++) {
      const float *xr = ximg + ((unsigned long)(yi + (int)a) * W + (u32)(zj + (int)b0)) * C + c;
      const float *wr = w + (a * fw + b0) * C + c;
      for (u32 b = b0; b < b1; b++, xr += C, wr += C) DW_MAC(s0, xr, wr);
    }
    wasm_v128_store(o + c, dw_act(s0, act));
  }
  for (; c < C; c++) {
    float s = bias ? bias[c] : 0.0f;
    for (u32 a = a0; a < a1; a++)
      for (u32 b = b0; b < b1; b++)
        s += ximg[((unsigned long)(yi + (int)a) * W + (u32)(zj + (int)b)) * C + c] * w[(a * fw + b) * C + c];
    o[c] = dw_act1(s, act);
  }
}

/*
 * s + Σ_{a,b} p[a·rs + b·cs] · w_ab over a 3×3 window (4 channels), in (a, b) order: the same
 * sums as the per-pixel loops, with the nine filter vectors held in registers across a row.
 */
#define DW_3X3(s, p, rs, cs)                                                                          \
  do {                                                                                                \
    s = MAC(s, wasm_v128_load(p), w00);                                    \
    s = MAC(s, wasm_v128_load((p) + (cs)), w01);                           \
    s = MAC(s, wasm_v128_load((p) + 2 * (cs)), w02);                       \
    s = MAC(s, wasm_v128_load((p) + (rs)), w10);                           \
    s = MAC(s, wasm_v128_load((p) + (rs) + (cs)), w11);                    \
    s = MAC(s, wasm_v128_load((p) + (rs) + 2 * (cs)), w12);                \
    s = MAC(s, wasm_v128_load((p) + 2 * (rs)), w20);                       \
    s = MAC(s, wasm_v128_load((p) + 2 * (rs) + (cs)), w21);                \
    s = MAC(s, wasm_v128_load((p) + 2 * (rs) + 2 * (cs)), w22);            \
  } while (0)

#define DW_LOAD_W3X3(wc, C)                                                                           \
  v128_t w00 = wasm_v128_load(wc), w01 = wasm_v128_load((wc) + (C)), w02 = wasm_v128_load((wc) + 2 * (C)); \
  v128_t w10 = wasm_v128_load((wc) + 3 * (C)), w11 = wasm_v128_load((wc) + 4 * (C));                  \
  v128_t w12 = wasm_v128_load((wc) + 5 * (C)), w20 = wasm_v128_load((wc) + 6 * (C));                  \
  v128_t w21 = wasm_v128_load((wc) + 7 * (C)), w22 = wasm_v128_load((wc) + 8 * (C))

/*
 * Two neighbouring pixels of a stride-1 3×3 window (4 channels): s gets the pixel whose tap (a, b)
 * is at p + a·rs + b·cs, t the next one (p + C + a·rs + b·cs); each column vector loaded once for
 * both (4 loads a filter row instead of 6). The same sums in the same order as DW_3X3.
 */
#define DW_3X3_ROW_PAIR(s, t, q, cs, wa0, wa1, wa2)                                                   \
  do {                                                                                                \
    v128_t u0 = wasm_v128_load(q), u1 = wasm_v128_load((q) + (cs)), u2 = wasm_v128_load((q) + 2 * (cs)); \
    v128_t u3 = wasm_v128_load((q) + 3 * (cs));                                                       \
    s = MAC(s, u0, wa0);                                                   \
    t = MAC(t, u1, wa0);                                                   \
    s = MAC(s, u1, wa1);                                                   \
    t = MAC(t, u2, wa1);                                                   \
    s = MAC(s, u2, wa2);                                                   \
    t = MAC(t, u3, wa2);                                                   \
  } while (0)

/*
 * Forward depthwise convolution of the output rows [r0, r1) of the N·Ho rows: y = act(conv + bias)
 * (bias 0: none; act 0 linear, 1 relu, 2 relu6). Each output pixel sums only its valid taps: no
 * padded copy of x, no per-tap tests. 3×3 filters (multiplier 1) away from the borders run 4
 * channels at a time along the row with the filter in registers (MobileNetV2 width 1/8: 8 to 48
 * channels, where per-pixel loops spent their time in loop control).
 */
EXPORT void dw_forward(const float *x, const float *w, const float *bias, float *y, u32 r0, u32 r1, u32 H, u32 W, u32 C,
                       u32 m, u32 Ho, u32 Wo, u32 fh, u32 fw, u32 sh, u32 sw, int top, int left, u32 act) {
  u32 Co = C * m;
  /* Columns j whose 3 taps all lie inside the image (3×3 path). */
  u32 jA = dw_first_j(0, left, sw), jB = dw_end_j(2, left, sw, W, Wo);
  if (jB < jA) jB = jA;
  for (u32 r = r0; r < r1; r++) {
    u32 n = r / Ho, i = r % Ho;
    int yi = (int)(i * sh) - top; /* input row of tap a = 0 */
    int a0i = yi < 0 ? -yi : 0, a1i = (int)H - yi < (int)fh ? (int)H - yi : (int)fh;
    u32 a0 = (u32)a0i, a1 = a1i > a0i ? (u32)a1i : a0; /* a1 <= a0: the row lies in the padding */
    const float *ximg = x + (unsigned long)n * H * W * C;
    float *yrow = y + (unsigned long)r * Wo * Co;
    if (m == 1 && fh == 3 && fw == 3 && a0 == 0 && a1 == 3 && C >= 4 && jA < jB) {
      for (u32 j = 0; j < jA; j++) dw_forward_pixel(ximg, w, bias, yrow + (unsigned long)j * C, 0, W, C, 1, 3, yi, 0, 3, (int)(j * sw) - left, act);
      for (u32 j = jB; j < Wo; j++) dw_forward_pixel(ximg, w, bias, yrow + (unsigned long)j * C, 0, W, C, 1, 3, yi, 0, 3, (int)(j * sw) - left, act);
      u32 rs = W * C, cs = C, step = sw * C;
      u32 c = 0;
      for (; c + 4 <= C; c += 4) {
        DW_LOAD_W3X3(w + c, C);
        v128_t b = bias ? wasm_v128_load(bias + c) : wasm_f32x4_splat(0.0f);
        const float *p = ximg + ((unsigned long)yi * W + (u32)((int)(jA * sw) - left)) * C + c;
        float *o = yrow + (unsigned long)jA * C + c;
        /* One loop per activation (the compiler does not unswitch it). */
#define DW_FWD_ROW(ACT)                                                                     \
  u32 j = jA;                                                                               \
  if (sw == 1) {                                                                            \
    for (; j + 2 <= jB; j += 2, p += 2 * C, o += 2 * C) {                                   \
      v128_t s = b, t = b;                                                                  \
      DW_3X3_ROW_PAIR(s, t, p, (int)C, w00, w01, w02);                                      \
      DW_3X3_ROW_PAIR(s, t, p + rs, (int)C, w10, w11, w12);                                 \
      DW_3X3_ROW_PAIR(s, t, p + 2 * rs, (int)C, w20, w21, w22);                             \
      wasm_v128_store(o, dw_act(s, ACT));                                                   \
      wasm_v128_store(o + C, dw_act(t, ACT));                                               \
    }                                                                                       \
  }                                                                                         \
  for (; j < jB; j++, p += step, o += C) {                                                  \
    v128_t s = b;                                                                           \
    DW_3X3(s, p, rs, cs);                                                                   \
    wasm_v128_store(o, dw_act(s, ACT));                                                     \
  }
        if (act == 0) { DW_FWD_ROW(0) } else if (act == 1) { DW_FWD_ROW(1) } else { DW_FWD_ROW(2) }
#undef DW_FWD_ROW
      }
      if (c < C) {
        for (u32 j = jA; j < jB; j++) dw_forward_pixel(ximg, w, bias, yrow + (unsigned long)j * C, c, W, C, 1, 3, yi, 0, 3, (int)(j * sw) - left, act);
      }
      continue;
    }
    for (u32 j = 0; j < Wo; j++) dw_forward_pixel(ximg, w, bias, yrow + (unsigned long)j * Co, 0, W, C, m, fw, yi, a0, a1, (int)(j * sw) - left, act);
  }
}

/*
 * One pixel of dx, channels [c0, C): Σ over the taps that reach it (a = yt − i·sh for i from iHi
 * down while a < fh, likewise b, j), in (a, b) order.
 */
INLINE void dw_input_pixel(const float *dyimg, const float *w, float *o, u32 c0, u32 C, u32 m, u32 Wo, u32 fh, u32 fw,
                           u32 sh, u32 sw, int yt, int iHi, int zt, int jHi) {
  u32 Co = C * m;
  if (m != 1) {
    for (u32 c = c0; c < C; c++) {
      float s = 0.0f;
      for (int i = iHi; i >= 0 && yt - i * (int)sh < (int)fh; i--) {
        u32 a = (u32)(yt - i * (int)sh);
        for (int j = jHi; j >= 0 && zt - j * (int)sw < (int)fw; j--) {
          u32 b = (u32)(zt - j * (int)sw);
          const float *d = dyimg + ((unsigned long)i * Wo + (u32)j) * Co + c * m;
          const float *wp = w + (a * fw + b) * Co + c * m;
          for (u32 q = 0; q < m; q++) s += d[q] * wp[q];
        }
      }
      o[c] = s;
    }
    return;
  }
  u32 c = c0;
  for (; c + 16 <= C; c += 16) {
    v128_t s0 = wasm_f32x4_splat(0.0f), s1 = s0, s2 = s0, s3 = s0;
    for (int i = iHi; i >= 0 && yt - i * (int)sh < (int)fh; i--) {
      u32 a = (u32)(yt - i * (int)sh);
      for (int j = jHi; j >= 0 && zt - j * (int)sw < (int)fw; j--) {
        u32 b = (u32)(zt - j * (int)sw);
        const float *d = dyimg + ((unsigned long)i * Wo + (u32)j) * C + c;
        const float *wp = w + (a * fw + b) * C + c;
        DW_MAC(s0, d, wp); DW_MAC(s1, d + 4, wp + 4); DW_MAC(s2, d + 8, wp + 8); DW_MAC(s3, d + 12, wp + 12);
      }
    }
    wasm_v128_store(o + c, s0);
    wasm_v128_store(o + c + 4, s1);
    wasm_v128_store(o + c + 8, s2);
    wasm_v128_store(o + c + 12, s3);
  }
  for (; c + 4 <= C; c += 4) {
    v128_t s0 = wasm_f32x4_splat(0.0f);
    for (int i = iHi; i >= 0 && yt - i * (int)sh < (int)fh; i--) {
      u32 a = (u32)(yt - i * (int)sh);
      for (int j = jHi; j >= 0 && zt - j * (int)sw < (int)fw; j--) {
        u32 b = (u32)(zt - j * (int)sw);
        DW_MAC(s0, dyimg + ((unsigned long)i * Wo + (u32)j) * C + c, w + (a * fw + b) * C + c);
      }
    }
    wasm_v128_store(o + c, s0);
  }
  for (; c < C; c++) {
    float s = 0.0f;
    for (int i = iHi; i >= 0 && yt - i * (int)sh < (int)fh; i--) {
      u32 a = (u32)(yt - i * (int)sh);
      for (int j = jHi; j >= 0 && zt - j * (int)sw < (int)fw; j--) {
        u32 b = (u32)(zt - j * (int)sw);
        s += dyimg[((unsigned long)i * Wo + (u32)j) * C + c] * w[(a * fw + b) * C + c];
      }
    }
    o[c] = s;
  }
}

/*
 * The columns [zA, zB) of a dx row of a 3×3 stride-2 convolution (multiplier 1) whose taps all
 * lie inside dy: the row (yt = y + top) meets filter rows a = 0 and 2 (dy rows yt/2, yt/2 − 1)
 * when yt is even, a = 1 (dy row (yt − 1)/2) when odd; columns likewise. 4 channels at a time along the row, the
 * filter rows it needs in registers; the same sums in the same (a, b) order as dw_input_pixel.
 */
INLINE void dw_input_row_s2(const float *dyimg, const float *w, float *dxrow, u32 C, u32 Wo, int yt, int left, u32 zA, u32 zB) {
  int even = !(yt & 1);
  u32 aF = even ? 0 : 1; /* first filter row, and its dy row */
  const float *dF = dyimg + (unsigned long)((yt - (int)aF) >> 1) * Wo * C;
  const float *dS = dF - (unsigned long)Wo * C; /* a = 2 (even rows only) */
  u32 c = 0;
  for (; c + 4 <= C; c += 4) {
    const float *wF = w + aF * 3 * C + c, *wS = w + 6 * C + c;
    v128_t f0 = wasm_v128_load(wF), f1 = wasm_v128_load(wF + C), f2 = wasm_v128_load(wF + 2 * C);
    v128_t g0 = wasm_v128_load(wS), g1 = wasm_v128_load(wS + C), g2 = wasm_v128_load(wS + 2 * C);
    for (u32 z = zA; z < zB; z++) {
      int zt = (int)z + left;
      v128_t s = wasm_f32x4_splat(0.0f);
      if (zt & 1) {
        unsigned long j = (unsigned long)(zt >> 1) * C + c;
        s = MAC(s, wasm_v128_load(dF + j), f1);
        if (even) s = MAC(s, wasm_v128_load(dS + j), g1);
      } else {
        unsigned long j = (unsigned long)(zt >> 1) * C + c;
        s = MAC(s, wasm_v128_load(dF + j), f0);
        s = MAC(s, wasm_v128_load(dF + j - C), f2);
        if (even) {
          s = MAC(s, wasm_v128_load(dS + j), g0);
          s = MAC(s, wasm_v128_load(dS + j - C), g2);
        }
      }
      wasm_v128_store(dxrow + (unsigned long)z * C + c, s);
    }
  }
  if (c < C) {
    int iHi = yt >> 1;
    for (u32 z = zA; z < zB; z++) {
      int zt = (int)z + left;
      dw_input_pixel(dyimg, w, dxrow + (unsigned long)z * C, c, C, 1, Wo, 3, 3, 2, 2, yt, iHi, zt, zt >> 1);
    }
  }
}

/* Highest output index t with t·s <= v (v >= 0), at most hi; −1 for v < 0. */
INLINE int dw_last_out(int v, u32 s, u32 hi) {
  if (v < 0) return -1;
  int t = s == 1 ? v : s == 2 ? v >> 1 : v / (int)s;
  return t > (int)hi - 1 ? (int)hi - 1 : t;
}

/*
 * Input gradient of the rows [r0, r1) of the N·H rows of dx (each element written once, no zero
 * fill). Pixel (y, z) meets the taps a ≡ y + top (mod sh) with i = (y + top − a)/sh < Ho, and
 * likewise b and j: with stride 2 a quarter of the 3×3 taps, found without tests per tap.
 * 3×3 (multiplier 1) away from the borders: stride 1 as dw_forward (4 channels along the row,
 * the filter in registers, two pixels at a time), stride 2 by dw_input_row_s2.
 */
EXPORT void dw_input_grad(const float *dy, const float *w, float *dx, u32 r0, u32 r1, u32 H, u32 W, u32 C, u32 m,
                          u32 Ho, u32 Wo, u32 fh, u32 fw, u32 sh, u32 sw, int top, int left) {
  u32 Co = C * m;
  /* 3×3 stride 1: columns z with all 3 taps, 2 <= z + left <= Wo − 1. */
  int zAi = 2 - left, zBi = (int)Wo - left;
  u32 zA = zAi < 0 ? 0 : (u32)zAi, zB = zBi < 0 ? 0 : (u32)zBi;
  if (zB > W) zB = W;
  if (zB < zA) zB = zA;
  /* 3×3 stride 2: columns z with all their taps (2 for even z + left, 1 for odd), 2 <= z + left <= 2·Wo − 1. */
  int z2Ai = 2 - left, z2Bi = 2 * (int)Wo - left;
  u32 z2A = z2Ai < 0 ? 0 : (u32)z2Ai, z2B = z2Bi < 0 ? 0 : (u32)z2Bi;
  if (z2B > W) z2B = W;
  if (z2B < z2A) z2B = z2A;
  for (u32 r = r0; r < r1; r++) {
    u32 n = r / H, yy = r % H;
    int yt = (int)yy + top; /* = i·sh + a */
    int iHi = dw_last_out(yt, sh, Ho);
    const float *dyimg = dy + (unsigned long)n * Ho * Wo * Co;
    float *dxrow = dx + (unsigned long)r * W * C;
    if (m == 1 && fh == 3 && fw == 3 && sh == 1 && sw == 1 && yt >= 2 && yt <= (int)Ho - 1 && C >= 4 && zA < zB) {
      for (u32 z = 0; z < zA; z++) {
        int zt = (int)z + left;
        dw_input_pixel(dyimg, w, dxrow + (unsigned long)z * C, 0, C, 1, Wo, 3, 3, 1, 1, yt, iHi, zt, dw_last_out(zt, 1, Wo));
      }
      for (u32 z = zB; z < W; z++) {
        int zt = (int)z + left;
        dw_input_pixel(dyimg, w, dxrow + (unsigned long)z * C, 0, C, 1, Wo, 3, 3, 1, 1, yt, iHi, zt, dw_last_out(zt, 1, Wo));
      }
      /* dx[z] = Σ_{a,b} dy[yt − a, z + left − b] · w[a, b]: from p = dy[yt, z + left] backwards. */
      int rs = -(int)(Wo * C), cs = -(int)C;
      u32 c = 0;
      for (; c + 4 <= C; c += 4) {
        DW_LOAD_W3X3(w + c, C);
        const float *p = dyimg + ((unsigned long)yt * Wo + (u32)((int)zA + left)) * C + c;
        float *o = dxrow + (unsigned long)zA * C + c;
        u32 z = zA;
        for (; z + 2 <= zB; z += 2, p += 2 * C, o += 2 * C) {
          /* Columns p − 2C … p + C: pixel z takes (p, p − C, p − 2C), z + 1 (p + C, p, p − C). */
          v128_t s = wasm_f32x4_splat(0.0f), t = s;
          DW_3X3_ROW_PAIR(t, s, p + C, cs, w00, w01, w02);
          DW_3X3_ROW_PAIR(t, s, p + C + rs, cs, w10, w11, w12);
          DW_3X3_ROW_PAIR(t, s, p + C + 2 * rs, cs, w20, w21, w22);
          wasm_v128_store(o, s);
          wasm_v128_store(o + C, t);
        }
        for (; z < zB; z++, p += C, o += C) {
          v128_t s = wasm_f32x4_splat(0.0f);
          DW_3X3(s, p, rs, cs);
          wasm_v128_store(o, s);
        }
      }
      if (c < C) {
        for (u32 z = zA; z < zB; z++) {
          int zt = (int)z + left;
          dw_input_pixel(dyimg, w, dxrow + (unsigned long)z * C, c, C, 1, Wo, 3, 3, 1, 1, yt, iHi, zt, zt);
        }
      }
      continue;
    }
    if (m == 1 && fh == 3 && fw == 3 && sh == 2 && sw == 2 && C >= 4 && z2A < z2B && yt >= 1 && yt <= 2 * (int)Ho - 1
        && (yt & 1 || (yt >= 2 && yt <= 2 * (int)Ho - 2))) {
      for (u32 z = 0; z < W; z++) {
        if (z == z2A) z = z2B;
        if (z >= W) break;
        int zt = (int)z + left;
        dw_input_pixel(dyimg, w, dxrow + (unsigned long)z * C, 0, C, 1, Wo, 3, 3, 2, 2, yt, iHi, zt, dw_last_out(zt, 2, Wo));
      }
      dw_input_row_s2(dyimg, w, dxrow, C, Wo, yt, left, z2A, z2B);
      continue;
    }
    for (u32 z = 0; z < W; z++) {
      int zt = (int)z + left;
      dw_input_pixel(dyimg, w, dxrow + (unsigned long)z * C, 0, C, m, Wo, fh, fw, sh, sw, yt, iHi, zt, dw_last_out(zt, sw, Wo));
    }
  }
}
