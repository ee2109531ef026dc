/*
 * Depthwise convolutions: forward, filter gradient, input gradient.
 * Part of trainKernels.c (#included there, not compiled on its own; see kernels.h for the rules).
 *
 * NHWC, dilation 1, filter [fh, fw, C, m] (channel multiplier m): output channel co = c·m + q
 * comes from input channel c and filter slice [:, :, c, q]; Co = C·m. Channels are contiguous,
 * so with m = 1 (MobileNetV2) the vectors run over them, 16 channels (4 vectors) at a time, then
 * 4, then one; other multipliers take scalar loops. With pad top/left:
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
  for (u32 n = n0; n < n1; n++) {
    for (u32 i = 0; i < Ho; i++) {
      const float *dyrow = dy + ((unsigned long)n * Ho + i) * Wo * Co;
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
              s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(xp), wasm_v128_load(dp)));
              s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load(xp + 4), wasm_v128_load(dp + 4)));
              s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(wasm_v128_load(xp + 8), wasm_v128_load(dp + 8)));
              s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(wasm_v128_load(xp + 12), wasm_v128_load(dp + 12)));
            }
            dw_flush4(t + c, s0);
            dw_flush4(t + c + 4, s1);
            dw_flush4(t + c + 8, s2);
            dw_flush4(t + c + 12, s3);
          }
          for (; c + 4 <= C; c += 4) {
            v128_t s0 = wasm_f32x4_splat(0.0f);
            const float *xp = xs + c, *dp = ds + c;
            for (u32 j = 0; j < len; j++, xp += xstep, dp += C) s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(xp), wasm_v128_load(dp)));
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

/* lo <= v <= hi, lane by lane (act 1: relu, 2: relu6; max/min propagate NaN as tfjs' cpu kernels do). */
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

/*
 * Forward depthwise convolution of the output rows [r0, r1) of the N·Ho rows: y = act(conv + bias)
 * (bias 0: none; act 0 linear, 1 relu, 2 relu6). Each output pixel sums only its valid taps
 * (rows a0..a1, columns b0..b1 of the filter): no padded copy of x, no per-tap tests.
 */
EXPORT void dw_forward(const float *x, const float *w, const float *bias, float *y, u32 r0, u32 r1, u32 H, u32 W, u32 C,
                       u32 m, u32 Ho, u32 Wo, u32 fh, u32 fw, u32 sh, u32 sw, int top, int left, u32 act) {
  u32 Co = C * m;
  for (u32 r = r0; r < r1; r++) {
    u32 n = r / Ho, i = r % Ho;
    int yi = (int)(i * sh) - top; /* input row of tap a = 0 */
    int a0i = yi < 0 ? -yi : 0, a1i = (int)H - yi < (int)fh ? (int)H - yi : (int)fh;
    u32 a0 = (u32)a0i, a1 = a1i > a0i ? (u32)a1i : a0; /* a1 <= a0: the row lies in the padding */
    const float *ximg = x + (unsigned long)n * H * W * C;
    float *yrow = y + (unsigned long)r * Wo * Co;
    for (u32 j = 0; j < Wo; j++) {
      int zj = (int)(j * sw) - left;
      int b0i = zj < 0 ? -zj : 0, b1i = (int)W - zj < (int)fw ? (int)W - zj : (int)fw;
      u32 b0 = (u32)b0i, b1 = b1i > b0i ? (u32)b1i : b0;
      float *o = yrow + (unsigned long)j * Co;
      if (m != 1) {
        for (u32 co = 0; co < Co; co++) {
          float s = bias ? bias[co] : 0.0f;
          for (u32 a = a0; a < a1; a++)
            for (u32 b = b0; b < b1; b++)
              s += ximg[((unsigned long)(yi + (int)a) * W + (u32)(zj + (int)b)) * C + co / m] * w[(a * fw + b) * Co + co];
          o[co] = dw_act1(s, act);
        }
        continue;
      }
      u32 c = 0;
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
            s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(xr), wasm_v128_load(wr)));
            s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load(xr + 4), wasm_v128_load(wr + 4)));
            s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(wasm_v128_load(xr + 8), wasm_v128_load(wr + 8)));
            s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(wasm_v128_load(xr + 12), wasm_v128_load(wr + 12)));
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
          for (u32 b = b0; b < b1; b++, xr += C, wr += C) s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(xr), wasm_v128_load(wr)));
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
  }
}

/*
 * Input gradient of the rows [r0, r1) of the N·H rows of dx (each element written once, no
 * zero fill). Pixel (y, z) meets the taps a ≡ y + top (mod sh) with i = (y + top − a)/sh < Ho,
 * and likewise b and j: with stride 2 a quarter of the 3×3 taps, found without tests per tap.
 */
EXPORT void dw_input_grad(const float *dy, const float *w, float *dx, u32 r0, u32 r1, u32 H, u32 W, u32 C, u32 m,
                          u32 Ho, u32 Wo, u32 fh, u32 fw, u32 sh, u32 sw, int top, int left) {
  u32 Co = C * m;
  for (u32 r = r0; r < r1; r++) {
    u32 n = r / H, yy = r % H;
    int yt = (int)yy + top; /* = i·sh + a */
    if (yt < 0) yt = -1; /* no tap reaches a row above the padding */
    /* Taps a = yt − i·sh for i from min(Ho − 1, yt / sh) down while a < fh. */
    const float *dyimg = dy + (unsigned long)n * Ho * Wo * Co;
    float *dxrow = dx + (unsigned long)r * W * C;
    for (u32 z = 0; z < W; z++) {
      int zt = (int)z + left;
      float *o = dxrow + (unsigned long)z * C;
      int iHi = yt < 0 ? -1 : yt / (int)sh;
      if (iHi > (int)Ho - 1) iHi = (int)Ho - 1;
      int jHi = zt < 0 ? -1 : zt / (int)sw;
      if (jHi > (int)Wo - 1) jHi = (int)Wo - 1;
      if (m != 1) {
        for (u32 c = 0; c < C; c++) {
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
        continue;
      }
      u32 c = 0;
      for (; c + 16 <= C; c += 16) {
        v128_t s0 = wasm_f32x4_splat(0.0f), s1 = s0, s2 = s0, s3 = s0;
        for (int i = iHi; i >= 0 && yt - i * (int)sh < (int)fh; i--) {
          u32 a = (u32)(yt - i * (int)sh);
          for (int j = jHi; j >= 0 && zt - j * (int)sw < (int)fw; j--) {
            u32 b = (u32)(zt - j * (int)sw);
            const float *d = dyimg + ((unsigned long)i * Wo + (u32)j) * C + c;
            const float *wp = w + (a * fw + b) * C + c;
            s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(d), wasm_v128_load(wp)));
            s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load(d + 4), wasm_v128_load(wp + 4)));
            s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(wasm_v128_load(d + 8), wasm_v128_load(wp + 8)));
            s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(wasm_v128_load(d + 12), wasm_v128_load(wp + 12)));
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
            s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(dyimg + ((unsigned long)i * Wo + (u32)j) * C + c),
                                                   wasm_v128_load(w + (a * fw + b) * C + c)));
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
  }
}
