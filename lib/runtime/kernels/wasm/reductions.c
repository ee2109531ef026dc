/*
 * Column sums and moments (float64, row order) and batch norm in training mode, forward and backward.
 * Part of trainKernels.c (#included there, not compiled on its own; see kernels.h for the rules).
 */
#include "kernels.h"


/* mode 0: Σ x;  1: Σ f32(f32(x−m)²);  2: Σ f32(y·f32(x−m));  3: modes 0 on y and 2 at once
 * (acc[0..cols) = Σ y, acc[cols..2cols) = Σ y·(x−m)). */
INLINE void reduce_cols(const float *x, const float *y, const float *m, u32 rows, u32 cols, double *acc, int mode) {
  u32 nacc = mode == 3 ? 2 * cols : cols;
  for (u32 c = 0; c < nacc; c++) acc[c] = 0.0;
  /* Rows per chunk: a chunk (≈16 KiB) stays in L1 while every column block walks it. */
  u32 chunk = cols >= 4096 ? 1 : 4096 / cols;
  for (u32 r0 = 0; r0 < rows; r0 += chunk) {
    u32 r1 = rows - r0 < chunk ? rows : r0 + chunk;
    u32 c = 0;
    for (; c + 8 <= cols; c += 8) {
      v128_t a0 = wasm_v128_load(acc + c), a1 = wasm_v128_load(acc + c + 2);
      v128_t a2 = wasm_v128_load(acc + c + 4), a3 = wasm_v128_load(acc + c + 6);
      v128_t b0 = a0, b1 = a0, b2 = a0, b3 = a0;
      if (mode == 3) {
        b0 = wasm_v128_load(acc + cols + c); b1 = wasm_v128_load(acc + cols + c + 2);
        b2 = wasm_v128_load(acc + cols + c + 4); b3 = wasm_v128_load(acc + cols + c + 6);
      }
      v128_t m0 = wasm_f32x4_splat(0.0f), m1 = m0;
      if (mode != 0) { m0 = wasm_v128_load(m + c); m1 = wasm_v128_load(m + c + 4); }
      for (u32 r = r0; r < r1; r++) {
        const float *p = x + (unsigned long)r * cols + c;
        v128_t v0 = wasm_v128_load(p), v1 = wasm_v128_load(p + 4);
        v128_t w0 = v0, w1 = v1;
        if (mode == 1) {
          v128_t d0 = wasm_f32x4_sub(v0, m0), d1 = wasm_f32x4_sub(v1, m1);
          v0 = wasm_f32x4_mul(d0, d0); v1 = wasm_f32x4_mul(d1, d1);
        } else if (mode >= 2) {
          const float *q = y + (unsigned long)r * cols + c;
          w0 = wasm_v128_load(q); w1 = wasm_v128_load(q + 4);
          v0 = wasm_f32x4_mul(w0, wasm_f32x4_sub(v0, m0));
          v1 = wasm_f32x4_mul(w1, wasm_f32x4_sub(v1, m1));
        }
        if (mode == 3) {
          b0 = wasm_f64x2_add(b0, wasm_f64x2_promote_low_f32x4(v0));
          b1 = wasm_f64x2_add(b1, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v0, v0, 2, 3, 2, 3)));
          b2 = wasm_f64x2_add(b2, wasm_f64x2_promote_low_f32x4(v1));
          b3 = wasm_f64x2_add(b3, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v1, v1, 2, 3, 2, 3)));
          v0 = w0; v1 = w1;
        }
        a0 = wasm_f64x2_add(a0, wasm_f64x2_promote_low_f32x4(v0));
        a1 = wasm_f64x2_add(a1, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v0, v0, 2, 3, 2, 3)));
        a2 = wasm_f64x2_add(a2, wasm_f64x2_promote_low_f32x4(v1));
        a3 = wasm_f64x2_add(a3, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v1, v1, 2, 3, 2, 3)));
      }
      wasm_v128_store(acc + c, a0); wasm_v128_store(acc + c + 2, a1);
      wasm_v128_store(acc + c + 4, a2); wasm_v128_store(acc + c + 6, a3);
      if (mode == 3) {
        wasm_v128_store(acc + cols + c, b0); wasm_v128_store(acc + cols + c + 2, b1);
        wasm_v128_store(acc + cols + c + 4, b2); wasm_v128_store(acc + cols + c + 6, b3);
      }
    }
    for (; c < cols; c++) {
      double s = acc[c], t = mode == 3 ? acc[cols + c] : 0.0;
      float mc = mode != 0 ? m[c] : 0.0f;
      for (u32 r = r0; r < r1; r++) {
        float v = x[(unsigned long)r * cols + c];
        if (mode == 0) {
          s += (double)v;
        } else if (mode == 1) {
          float d = v - mc;
          s += (double)(d * d);
        } else if (mode == 2) {
          s += (double)(y[(unsigned long)r * cols + c] * (v - mc));
        } else {
          float w = y[(unsigned long)r * cols + c];
          s += (double)w;
          t += (double)(w * (v - mc));
        }
      }
      acc[c] = s;
      if (mode == 3) acc[cols + c] = t;
    }
  }
}

/* out[c] = f32(Σ_r x[r, c] · scale). acc: `cols` doubles of scratch. */
EXPORT void col_sums(const float *x, u32 rows, u32 cols, double *acc, float *out, double scale) {
  reduce_cols(x, 0, 0, rows, cols, acc, 0);
  for (u32 c = 0; c < cols; c++) out[c] = (float)(acc[c] * scale);
}

/* Batch statistics (two passes, as tf.moments): mean, biased variance. acc: `cols` doubles. */
EXPORT void moments(const float *x, u32 rows, u32 cols, double *acc, float *mean, float *var) {
  double inv = 1.0 / (double)rows;
  reduce_cols(x, 0, 0, rows, cols, acc, 0);
  for (u32 c = 0; c < cols; c++) mean[c] = (float)(acc[c] * inv);
  reduce_cols(x, 0, mean, rows, cols, acc, 1);
  for (u32 c = 0; c < cols; c++) var[c] = (float)(acc[c] * inv);
}

/*
 * y = f32(β + f32(f32(x − μ)·γ) / sd) per column with sd = √(σ²+ε) (f32 square root) and the
 * last division and addition in double: the stock FusedBatchNorm kernel's arithmetic exactly
 * (tfjs-backend-wasm 4.22's binary keeps its normalisation factors as doubles), so the same bits.
 * res (a residual, shaped like x; 0 for none): then y = f32(y + res), as the stock Add.
 * relu: then y = relu(y) as tfjs-backend-wasm's Relu gives it (y > 0 or NaN: y; else +0).
 */
INLINE void normalize(const float *x, u32 rows, u32 cols, const float *mean, const float *gamma, const double *sd,
                      const float *beta, const float *res, float *y, int relu) {
  v128_t zero = wasm_f32x4_splat(0.0f);
  for (u32 r = 0; r < rows; r++) {
    const float *p = x + (unsigned long)r * cols;
    float *o = y + (unsigned long)r * cols;
    const float *s = res ? res + (unsigned long)r * cols : 0;
    u32 c = 0;
    for (; c + 4 <= cols; c += 4) {
      v128_t d = wasm_f32x4_sub(wasm_v128_load(p + c), wasm_v128_load(mean + c));
      v128_t q = wasm_f32x4_mul(d, wasm_v128_load(gamma + c));
      v128_t b = wasm_v128_load(beta + c);
      v128_t lo = wasm_f64x2_add(wasm_f64x2_promote_low_f32x4(b),
        wasm_f64x2_div(wasm_f64x2_promote_low_f32x4(q), wasm_v128_load(sd + c)));
      v128_t hi = wasm_f64x2_add(wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(b, b, 2, 3, 2, 3)),
        wasm_f64x2_div(wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(q, q, 2, 3, 2, 3)), wasm_v128_load(sd + c + 2)));
      v128_t v = wasm_i32x4_shuffle(wasm_f32x4_demote_f64x2_zero(lo), wasm_f32x4_demote_f64x2_zero(hi), 0, 1, 4, 5);
      if (s) v = wasm_f32x4_add(v, wasm_v128_load(s + c));
      if (relu) v = wasm_v128_bitselect(v, zero, wasm_v128_or(wasm_f32x4_gt(v, zero), wasm_f32x4_ne(v, v)));
      wasm_v128_store(o + c, v);
    }
    for (; c < cols; c++) {
      float v = (float)((double)beta[c] + (double)((p[c] - mean[c]) * gamma[c]) / sd[c]);
      if (s) v = v + s[c];
      o[c] = relu && !(v > 0.0f || v != v) ? 0.0f : v;
    }
  }
}

/*
 * Batch norm in training mode, forward: mean and biased variance over the rows (as `moments`),
 * then y = β + (x − μ)·γ/√(σ²+ε) (as FusedBatchNorm), plus res where res != 0 (a residual shaped
 * like x, as Add), and relu(y) when relu != 0 (as Relu). acc: `cols` doubles of scratch.
 */
EXPORT void bn_train_forward(const float *x, u32 rows, u32 cols, const float *gamma, const float *beta, float eps,
                             double *acc, float *mean, float *var, const float *res, float *y, int relu) {
  moments(x, rows, cols, acc, mean, var);
  for (u32 c = 0; c < cols; c++) acc[c] = (double)__builtin_sqrtf(var[c] + eps);
  normalize(x, rows, cols, mean, gamma, acc, beta, res, y, relu);
}

/*
 * Batch norm in training mode, backward (closed form, see ../batchNormTraining.ts):
 *   r = 1/√(σ²+ε), gr = γ·r, xc = x − μ, n = rows
 *   dβ = Σ dy,  dγ = r·Σ dy·xc,  dx = dy·gr + xc·(gr·r²·(−Σ dy·xc / n)) + gr·(−Σ dy / n)
 * Two passes over dy and x. acc: 2·cols doubles, then 3·cols floats of scratch.
 */
void bn_backward_coefs(const double *acc, u32 n, u32 cols, const float *var, const float *gamma, float eps,
                       float *coef, float *dgamma, float *dbeta);
void bn_dx(const float *dy, const float *x, u32 rows, u32 cols, const float *mean, const float *coef, float *dx);

EXPORT void bn_train_backward(const float *dy, const float *x, u32 rows, u32 cols, const float *mean, const float *var,
                              const float *gamma, float eps, double *acc, float *dx, float *dgamma, float *dbeta) {
  reduce_cols(x, dy, mean, rows, cols, acc, 3);
  float *coef = (float *)(acc + 2 * cols);
  bn_backward_coefs(acc, rows, cols, var, gamma, eps, coef, dgamma, dbeta);
  bn_dx(dy, x, rows, cols, mean, coef, dx);
}

/*
 * Building blocks for splitting the work between threads (../trainPool.ts): each thread reduces
 * its own rows into its own float64 accumulators, which are then added and finished.
 * mode as reduce_cols: 0 Σx, 1 Σ(x−m)², 2 Σ y·(x−m), 3 Σy and Σ y·(x−m) (2·cols accumulators).
 */
EXPORT void col_acc(const float *x, const float *y, const float *m, u32 rows, u32 cols, double *acc, int mode) {
  switch (mode) {
    case 0: reduce_cols(x, y, m, rows, cols, acc, 0); break;
    case 1: reduce_cols(x, y, m, rows, cols, acc, 1); break;
    case 2: reduce_cols(x, y, m, rows, cols, acc, 2); break;
    default: reduce_cols(x, y, m, rows, cols, acc, 3); break;
  }
}

/* dst[i] += src[i] (float64). */
EXPORT void f64_add(double *dst, const double *src, u32 n) {
  for (u32 i = 0; i < n; i++) dst[i] += src[i];
}

/* dst[i] += src[i] (float32). */
EXPORT void f32_add(float *dst, const float *src, u32 n) {
  u32 i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(dst + i, wasm_f32x4_add(wasm_v128_load(dst + i), wasm_v128_load(src + i)));
  for (; i < n; i++) dst[i] += src[i];
}

/* out[c] = f32(acc[c] · scale). */
EXPORT void col_finish(const double *acc, u32 cols, float *out, double scale) {
  for (u32 c = 0; c < cols; c++) out[c] = (float)(acc[c] * scale);
}

/* sd[c] = (double)√(σ²+ε) (f32 root), the normalisation factors of bn_normalize. */
EXPORT void bn_sd(const float *var, u32 cols, float eps, double *sd) {
  for (u32 c = 0; c < cols; c++) sd[c] = (double)__builtin_sqrtf(var[c] + eps);
}

/* y for rows of x (as bn_train_forward's second half; res: the same rows of the residual, or 0). */
EXPORT void bn_normalize(const float *x, u32 rows, u32 cols, const float *mean, const float *gamma, const double *sd,
                         const float *beta, const float *res, float *y, int relu) {
  normalize(x, rows, cols, mean, gamma, sd, beta, res, y, relu);
}

/*
 * From acc = [Σ dy | Σ dy·(x−μ)] over all n rows: dγ, dβ and coef = [gr | gr·r²·(−Σdy·xc/n) | gr·(−Σdy/n)]
 * (3·cols floats) for bn_dx.
 */
EXPORT void bn_backward_coefs(const double *acc, u32 n, u32 cols, const float *var, const float *gamma, float eps,
                              float *coef, float *dgamma, float *dbeta) {
  float *a = coef, *b = coef + cols, *sh = b + cols;
  float negInvN = -1.0f / (float)n;
  for (u32 c = 0; c < cols; c++) {
    float r = 1.0f / __builtin_sqrtf(var[c] + eps);
    float gr = gamma[c] * r;
    float sDy = (float)acc[c], sDyXc = (float)acc[cols + c];
    a[c] = gr;
    b[c] = (gr * (r * r)) * (sDyXc * negInvN);
    sh[c] = gr * (sDy * negInvN);
    dgamma[c] = sDyXc * r;
    dbeta[c] = sDy;
  }
}

/* dx = dy·a + (x−μ)·b + sh per column, for rows of dy and x (coef from bn_backward_coefs). */
EXPORT void bn_dx(const float *dy, const float *x, u32 rows, u32 cols, const float *mean, const float *coef, float *dx) {
  const float *a = coef, *b = coef + cols, *sh = b + cols;
  for (u32 r = 0; r < rows; r++) {
    const float *p = x + (unsigned long)r * cols, *q = dy + (unsigned long)r * cols;
    float *o = dx + (unsigned long)r * cols;
    u32 c = 0;
    for (; c + 4 <= cols; c += 4) {
      v128_t t1 = wasm_f32x4_mul(wasm_v128_load(q + c), wasm_v128_load(a + c));
      v128_t xc = wasm_f32x4_sub(wasm_v128_load(p + c), wasm_v128_load(mean + c));
      v128_t t2 = wasm_f32x4_mul(xc, wasm_v128_load(b + c));
      wasm_v128_store(o + c, wasm_f32x4_add(wasm_f32x4_add(t1, t2), wasm_v128_load(sh + c)));
    }
    for (; c < cols; c++) o[c] = ((q[c] * a[c]) + ((p[c] - mean[c]) * b[c])) + sh[c];
  }
}

/*
 * Batch norm's running averages after a training batch, each operation rounded to float32 as the
 * tfjs ops they replace (../batchNormTraining.ts, ../../../train/bnStats.ts):
 *   mean' = mean − (mean − μ)·decay;  var1 = var − (var − σ²)·decay   (decay = 1 − momentum)
 * and with `unbiased` (PyTorch's update from the unbiased batch variance, factor = n/(n−1)):
 *   var' = var·momentum + (var1 − var·momentum)·factor;  else var' = var1.
 */
EXPORT void bn_running_update(const float *mu, const float *sigma2, const float *mean, const float *var, u32 cols,
                              float decay, float momentum, float factor, int unbiased, float *meanOut, float *varOut) {
  for (u32 c = 0; c < cols; c++) {
    meanOut[c] = mean[c] - (mean[c] - mu[c]) * decay;
    float v1 = var[c] - (var[c] - sigma2[c]) * decay;
    if (unbiased) {
      float base = var[c] * momentum;
      v1 = base + (v1 - base) * factor;
    }
    varOut[c] = v1;
  }
}

/*
 * Gradient of a mean over the middle axes of x viewed as [A, R, C]: dx[a, r, c] = f32(dy[a, c] / n)
 * for a in [a0, a1) — the stock gradient's arithmetic (dy·1, then divided by the float32 n), so the
 * same bits, in one pass instead of Fill, a broadcasting Multiply and a RealDiv (../meanGrad.ts).
 */
EXPORT void mean_grad(const float *dy, u32 a0, u32 a1, u32 R, u32 C, float n, float *dx) {
  v128_t vn = wasm_f32x4_splat(n);
  for (u32 a = a0; a < a1; a++) {
    const float *g = dy + (unsigned long)a * C;
    for (u32 r = 0; r < R; r++) {
      float *o = dx + ((unsigned long)a * R + r) * C;
      u32 c = 0;
      for (; c + 4 <= C; c += 4) wasm_v128_store(o + c, wasm_f32x4_div(wasm_v128_load(g + c), vn));
      for (; c < C; c++) o[c] = g[c] / n;
    }
  }
}
