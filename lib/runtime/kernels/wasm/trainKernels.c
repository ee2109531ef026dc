/*
 * Training kernels for the tfjs wasm backend, run in place on tfjs' own heap (the module imports
 * tfjs' WebAssembly.Memory; every pointer is a byte offset into it, from `memoryOffset`).
 *
 * RULES (an imported-memory module shares address 0.. with tfjs): no global or static data
 * (no data segments), no arrays on the stack (no shadow stack), no libc. Scratch memory comes
 * from the caller (tfjs tensors it frees afterwards). tests/trainKernels.test.ts checks that the
 * binaries have no data section and no globals.
 *
 * Tensors are viewed as [rows, cols] float32 (cols = channels, the last axis). Column sums
 * accumulate in float64 in row order, so they equal the JavaScript reference bit for bit
 * (../reduce.ts columnSums, ../batchNormTraining.ts): a product or difference is rounded to
 * float32 first (as the tfjs kernels it replaces would), then added in double.
 *
 * Built twice: trainKernels.c for the single-threaded SIMD tfjs binary (plain memory) and
 * trainKernelsShared.c (#includes this file) for the threaded one (shared memory).
 */
#include <wasm_simd128.h>

typedef unsigned int u32;

#define INLINE static inline __attribute__((always_inline))

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
void col_sums(const float *x, u32 rows, u32 cols, double *acc, float *out, double scale) {
  reduce_cols(x, 0, 0, rows, cols, acc, 0);
  for (u32 c = 0; c < cols; c++) out[c] = (float)(acc[c] * scale);
}

/* Batch statistics (two passes, as tf.moments): mean, biased variance. acc: `cols` doubles. */
void moments(const float *x, u32 rows, u32 cols, double *acc, float *mean, float *var) {
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
 */
INLINE void normalize(const float *x, u32 rows, u32 cols, const float *mean, const float *gamma, const double *sd,
                      const float *beta, float *y) {
  for (u32 r = 0; r < rows; r++) {
    const float *p = x + (unsigned long)r * cols;
    float *o = y + (unsigned long)r * cols;
    u32 c = 0;
    for (; c + 4 <= cols; c += 4) {
      v128_t d = wasm_f32x4_sub(wasm_v128_load(p + c), wasm_v128_load(mean + c));
      v128_t q = wasm_f32x4_mul(d, wasm_v128_load(gamma + c));
      v128_t b = wasm_v128_load(beta + c);
      v128_t lo = wasm_f64x2_add(wasm_f64x2_promote_low_f32x4(b),
        wasm_f64x2_div(wasm_f64x2_promote_low_f32x4(q), wasm_v128_load(sd + c)));
      v128_t hi = wasm_f64x2_add(wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(b, b, 2, 3, 2, 3)),
        wasm_f64x2_div(wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(q, q, 2, 3, 2, 3)), wasm_v128_load(sd + c + 2)));
      wasm_v128_store(o + c, wasm_i32x4_shuffle(wasm_f32x4_demote_f64x2_zero(lo), wasm_f32x4_demote_f64x2_zero(hi), 0, 1, 4, 5));
    }
    for (; c < cols; c++) o[c] = (float)((double)beta[c] + (double)((p[c] - mean[c]) * gamma[c]) / sd[c]);
  }
}

/*
 * Batch norm in training mode, forward: mean and biased variance over the rows (as `moments`),
 * then y = β + (x − μ)·γ/√(σ²+ε) (as FusedBatchNorm). acc: `cols` doubles of scratch.
 */
void bn_train_forward(const float *x, u32 rows, u32 cols, const float *gamma, const float *beta, float eps,
                      double *acc, float *mean, float *var, float *y) {
  moments(x, rows, cols, acc, mean, var);
  for (u32 c = 0; c < cols; c++) acc[c] = (double)__builtin_sqrtf(var[c] + eps);
  normalize(x, rows, cols, mean, gamma, acc, beta, y);
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

void bn_train_backward(const float *dy, const float *x, u32 rows, u32 cols, const float *mean, const float *var,
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
void col_acc(const float *x, const float *y, const float *m, u32 rows, u32 cols, double *acc, int mode) {
  switch (mode) {
    case 0: reduce_cols(x, y, m, rows, cols, acc, 0); break;
    case 1: reduce_cols(x, y, m, rows, cols, acc, 1); break;
    case 2: reduce_cols(x, y, m, rows, cols, acc, 2); break;
    default: reduce_cols(x, y, m, rows, cols, acc, 3); break;
  }
}

/* dst[i] += src[i] (float64). */
void f64_add(double *dst, const double *src, u32 n) {
  for (u32 i = 0; i < n; i++) dst[i] += src[i];
}

/* dst[i] += src[i] (float32). */
void f32_add(float *dst, const float *src, u32 n) {
  u32 i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(dst + i, wasm_f32x4_add(wasm_v128_load(dst + i), wasm_v128_load(src + i)));
  for (; i < n; i++) dst[i] += src[i];
}

/* out[c] = f32(acc[c] · scale). */
void col_finish(const double *acc, u32 cols, float *out, double scale) {
  for (u32 c = 0; c < cols; c++) out[c] = (float)(acc[c] * scale);
}

/* sd[c] = (double)√(σ²+ε) (f32 root), the normalisation factors of bn_normalize. */
void bn_sd(const float *var, u32 cols, float eps, double *sd) {
  for (u32 c = 0; c < cols; c++) sd[c] = (double)__builtin_sqrtf(var[c] + eps);
}

/* y for rows of x (as bn_train_forward's second half). */
void bn_normalize(const float *x, u32 rows, u32 cols, const float *mean, const float *gamma, const double *sd,
                  const float *beta, float *y) {
  normalize(x, rows, cols, mean, gamma, sd, beta, y);
}

/*
 * From acc = [Σ dy | Σ dy·(x−μ)] over all n rows: dγ, dβ and coef = [gr | gr·r²·(−Σdy·xc/n) | gr·(−Σdy/n)]
 * (3·cols floats) for bn_dx.
 */
void bn_backward_coefs(const double *acc, u32 n, u32 cols, const float *var, const float *gamma, float eps,
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
void bn_dx(const float *dy, const float *x, u32 rows, u32 cols, const float *mean, const float *coef, float *dx) {
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
 * Filter gradient of a 2-D convolution (NHWC, dilation 1) for the images [n0, n1):
 *   dW[a, b, ci, co] = Σ_{n, i, j} x[n, i·sh + a − top, j·sw + b − left, ci] · dy[n, i, j, co]
 * x [N, H, W, Ci], dy [N, Ho, Wo, Co], dW [fh, fw, Ci, Co] (overwritten). Row by row: a row of
 * dy and the fh rows of x it meets stay in L1 while every tap and channel block uses them;
 * 4 input × 8 output channels accumulate in registers over a row's valid columns.
 */
void conv2d_filter_grad(const float *x, const float *dy, float *dw, u32 n0, u32 n1, u32 H, u32 W, u32 Ci,
                        u32 Ho, u32 Wo, u32 Co, u32 fh, u32 fw, u32 sh, u32 sw, int top, int left) {
  u32 total = fh * fw * Ci * Co;
  for (u32 k = 0; k < total; k++) dw[k] = 0.0f;
  for (u32 n = n0; n < n1; n++) {
    for (u32 i = 0; i < Ho; i++) {
      const float *dyrow = dy + ((unsigned long)n * Ho + i) * Wo * Co;
      for (u32 a = 0; a < fh; a++) {
        int xr = (int)(i * sh + a) - top;
        if (xr < 0 || xr >= (int)H) continue;
        const float *xrow = x + ((unsigned long)n * H + (u32)xr) * W * Ci;
        for (u32 b = 0; b < fw; b++) {
          /* Valid output columns j: 0 <= j·sw + b − left < W. */
          int lo = left - (int)b;
          u32 j0 = lo <= 0 ? 0 : (u32)((lo + (int)sw - 1) / (int)sw);
          int hi = (int)W - 1 + left - (int)b; /* j·sw <= hi */
          if (hi < 0) continue;
          u32 j1 = (u32)hi / sw + 1;
          if (j1 > Wo) j1 = Wo;
          if (j0 >= j1) continue;
          const float *xs = xrow + ((int)(j0 * sw + b) - left) * (int)Ci; /* x column of j0 */
          const float *ds = dyrow + (unsigned long)j0 * Co;
          u32 len = j1 - j0, xstep = sw * Ci;
          float *tap = dw + (unsigned long)(a * fw + b) * Ci * Co;
          u32 ci = 0;
          for (; ci + 4 <= Ci; ci += 4) {
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
                v128_t s = wasm_v128_load32_splat(xp);
                a00 = wasm_f32x4_add(a00, wasm_f32x4_mul(s, d0)); a01 = wasm_f32x4_add(a01, wasm_f32x4_mul(s, d1));
                s = wasm_v128_load32_splat(xp + 1);
                a10 = wasm_f32x4_add(a10, wasm_f32x4_mul(s, d0)); a11 = wasm_f32x4_add(a11, wasm_f32x4_mul(s, d1));
                s = wasm_v128_load32_splat(xp + 2);
                a20 = wasm_f32x4_add(a20, wasm_f32x4_mul(s, d0)); a21 = wasm_f32x4_add(a21, wasm_f32x4_mul(s, d1));
                s = wasm_v128_load32_splat(xp + 3);
                a30 = wasm_f32x4_add(a30, wasm_f32x4_mul(s, d0)); a31 = wasm_f32x4_add(a31, wasm_f32x4_mul(s, d1));
              }
              wasm_v128_store(t0 + co, a00); wasm_v128_store(t0 + co + 4, a01);
              wasm_v128_store(t1 + co, a10); wasm_v128_store(t1 + co + 4, a11);
              wasm_v128_store(t2 + co, a20); wasm_v128_store(t2 + co + 4, a21);
              wasm_v128_store(t3 + co, a30); wasm_v128_store(t3 + co + 4, a31);
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
          for (; ci < Ci; ci++) {
            float *t0 = tap + (unsigned long)ci * Co;
            u32 co = 0;
            for (; co + 8 <= Co; co += 8) {
              v128_t a00 = wasm_v128_load(t0 + co), a01 = wasm_v128_load(t0 + co + 4);
              const float *xp = xs + ci, *dp = ds + co;
              for (u32 j = 0; j < len; j++, xp += xstep, dp += Co) {
                v128_t s = wasm_v128_load32_splat(xp);
                a00 = wasm_f32x4_add(a00, wasm_f32x4_mul(s, wasm_v128_load(dp)));
                a01 = wasm_f32x4_add(a01, wasm_f32x4_mul(s, wasm_v128_load(dp + 4)));
              }
              wasm_v128_store(t0 + co, a00); wasm_v128_store(t0 + co + 4, a01);
            }
            for (; co < Co; co++) {
              float s0 = t0[co];
              const float *xp = xs + ci, *dp = ds + co;
              for (u32 j = 0; j < len; j++, xp += xstep, dp += Co) s0 += *xp * *dp;
              t0[co] = s0;
            }
          }
        }
      }
    }
  }
}

/*
 * One AdamW update of n parameters, each operation rounded to float32 exactly as the tfjs ops
 * of lib/train/adamw.ts (so the same bits as that op-by-op path on wasm):
 *   m' = m·β1 + g·(1−β1),  v' = v·β2 + g²·(1−β2)
 *   p' = p·decay − m' / (√v' / √bc2 + ε) · stepSize
 * Outputs may not alias inputs.
 */
void adamw(const float *p, const float *g, const float *m, const float *v, u32 n, float b1, float omb1, float b2,
           float omb2, float sqrtBc2, float eps, float decay, float stepSize, float *pOut, float *mOut, float *vOut) {
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

/*
 * 4 output pixels (columns j..j+3 of one row) × 8 output channels of a forward convolution.
 * Taps that fall outside the image read `zeros` (Ci zero floats) instead.
 */
INLINE void conv_block4x8(const float *ximg, const float *w, u32 wstride, const float *zeros, u32 W, u32 Ci, u32 Co,
                          u32 fw, u32 sw, int rowTop, u32 a0, u32 a1, u32 j, int left, v128_t b0, v128_t b1, int relu,
                          float *out) {
  v128_t c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1, c30 = b0, c31 = b1;
  for (u32 a = a0; a < a1; a++) {
    const float *xr = ximg + (unsigned long)(rowTop + (int)a) * W * Ci;
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
        v128_t s = wasm_v128_load32_splat(x0 + ci);
        c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(s, w0)); c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(s, w1));
        s = wasm_v128_load32_splat(x1 + ci);
        c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(s, w0)); c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(s, w1));
        s = wasm_v128_load32_splat(x2 + ci);
        c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(s, w0)); c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(s, w1));
        s = wasm_v128_load32_splat(x3 + ci);
        c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(s, w0)); c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(s, w1));
      }
    }
  }
  if (relu) {
    v128_t z = wasm_f32x4_splat(0.0f);
    c00 = wasm_f32x4_max(c00, z); c01 = wasm_f32x4_max(c01, z); c10 = wasm_f32x4_max(c10, z); c11 = wasm_f32x4_max(c11, z);
    c20 = wasm_f32x4_max(c20, z); c21 = wasm_f32x4_max(c21, z); c30 = wasm_f32x4_max(c30, z); c31 = wasm_f32x4_max(c31, z);
  }
  wasm_v128_store(out, c00); wasm_v128_store(out + 4, c01);
  wasm_v128_store(out + Co, c10); wasm_v128_store(out + Co + 4, c11);
  wasm_v128_store(out + 2 * Co, c20); wasm_v128_store(out + 2 * Co + 4, c21);
  wasm_v128_store(out + 3 * Co, c30); wasm_v128_store(out + 3 * Co + 4, c31);
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
void conv2d_forward(const float *x, const float *w, const float *wpack, const float *bias, const float *zeros, float *y,
                    u32 r0, u32 r1, u32 H, u32 W, u32 Ci, u32 Ho, u32 Wo, u32 Co, u32 fh, u32 fw, u32 sh, u32 sw, int top,
                    int left, int relu) {
  u32 blockSize = fh * fw * Ci * 8;
  u32 co8 = Wo >= 4 ? Co & ~7u : 0;
  for (u32 r = r0; r < r1; r++) {
    u32 n = r / Ho, i = r % Ho;
    int rowTop = (int)(i * sh) - top;
    u32 a0 = rowTop < 0 ? (u32)(-rowTop) : 0;
    int a1i = (int)fh;
    if (rowTop + (int)fh > (int)H) a1i = (int)H - rowTop;
    u32 a1 = a1i < (int)a0 ? a0 : (u32)a1i;
    float *yrow = y + (unsigned long)r * Wo * Co;
    const float *ximg = x + (unsigned long)n * H * W * Ci;
    for (u32 co = 0; co < co8; co += 8) {
      v128_t b0 = bias ? wasm_v128_load(bias + co) : wasm_f32x4_splat(0.0f);
      v128_t b1 = bias ? wasm_v128_load(bias + co + 4) : wasm_f32x4_splat(0.0f);
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
    if (co8 == Co) continue;
    for (u32 j = 0; j < Wo; j++) {
      /* One pixel, any position. */
      float *out = yrow + (unsigned long)j * Co;
      u32 co = co8;
      for (; co + 4 <= Co; co += 4) {
        v128_t acc = bias ? wasm_v128_load(bias + co) : wasm_f32x4_splat(0.0f);
        for (u32 a = a0; a < a1; a++) {
          for (u32 b = 0; b < fw; b++) {
            int xc = (int)(j * sw + b) - left;
            if (xc < 0 || xc >= (int)W) continue;
            const float *xp = ximg + ((unsigned long)(rowTop + (int)a) * W + (unsigned long)xc) * Ci;
            const float *wp = w + (unsigned long)(a * fw + b) * Ci * Co + co;
            for (u32 ci = 0; ci < Ci; ci++, wp += Co) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load32_splat(xp + ci), wasm_v128_load(wp)));
          }
        }
        if (relu) acc = wasm_f32x4_max(acc, wasm_f32x4_splat(0.0f));
        wasm_v128_store(out + co, acc);
      }
      for (; co < Co; co++) {
        float s = bias ? bias[co] : 0.0f;
        for (u32 a = a0; a < a1; a++) {
          for (u32 b = 0; b < fw; b++) {
            int xc = (int)(j * sw + b) - left;
            if (xc < 0 || xc >= (int)W) continue;
            const float *xp = ximg + ((unsigned long)(rowTop + (int)a) * W + (unsigned long)xc) * Ci;
            const float *wp = w + (unsigned long)(a * fw + b) * Ci * Co + co;
            for (u32 ci = 0; ci < Ci; ci++) s += xp[ci] * wp[(unsigned long)ci * Co];
          }
        }
        out[co] = relu && s < 0.0f ? 0.0f : s;
      }
    }
  }
}

/*
 * Winograd F(2×2, 3×3) forward convolution: 3×3 filter, stride 1, padding 1 on every side
 * (Ho = H, Wo = W), Ci a multiple of 4, Co a multiple of 8. 16 GEMMs of (tiles × Ci)·(Ci × Co)
 * replace the direct sum: 2.25× fewer multiplications (the direct kernel is bound by them).
 *
 * wino_weights: w [3, 3, Ci, Co] → U = G·g·Gᵀ per (ci, co), stored [16·Co/8][Ci][8] (tap e,
 * channel block cb at (e·Co/8 + cb)·Ci·8), G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
 *
 * conv2d_wino: output tiles [q0, q1) of the N·⌈H/2⌉·⌈W/2⌉ 2×2 tiles (image-major, row-major),
 * WINO_T at a time: V = Bᵀ·d·B of each tile's 4×4 input patch (zeros outside the image) into
 * scratch [16][T][Ci], M[e] = V[e]·U[e] into scratch [16][T][Co] with the forward conv's 4×8
 * register tile, then Y = Aᵀ·M·A (+ bias, relu) stored where inside the image.
 * scratch: 16·WINO_T·(Ci + Co) floats. bias may be 0.
 */
#define WINO_T 32

/* u = [g0, ½(g0+g1+g2), ½(g0−g1+g2), g2] (G·g for one column or row). */
#define WINO_G(g0, g1, g2, u0, u1, u2, u3) \
  do { u0 = (g0); u1 = 0.5f * (((g0) + (g1)) + (g2)); u2 = 0.5f * (((g0) - (g1)) + (g2)); u3 = (g2); } while (0)

void wino_weights(const float *w, u32 Ci, u32 Co, float *U) {
  u32 nb = Co / 8;
  unsigned long tapStride = (unsigned long)Ci * Co, eStride = (unsigned long)nb * Ci * 8;
  for (u32 ci = 0; ci < Ci; ci++) {
    for (u32 co = 0; co < Co; co++) {
      const float *g = w + (unsigned long)ci * Co + co; /* g[(a·3 + b)·tapStride] */
      float *u = U + ((unsigned long)(co / 8) * Ci + ci) * 8 + (co & 7); /* u[e·eStride] */
      float a00, a10, a20, a30, a01, a11, a21, a31, a02, a12, a22, a32;
      WINO_G(g[0], g[3 * tapStride], g[6 * tapStride], a00, a10, a20, a30);
      WINO_G(g[tapStride], g[4 * tapStride], g[7 * tapStride], a01, a11, a21, a31);
      WINO_G(g[2 * tapStride], g[5 * tapStride], g[8 * tapStride], a02, a12, a22, a32);
      float v0, v1, v2, v3;
      WINO_G(a00, a01, a02, v0, v1, v2, v3);
      u[0] = v0; u[eStride] = v1; u[2 * eStride] = v2; u[3 * eStride] = v3;
      WINO_G(a10, a11, a12, v0, v1, v2, v3);
      u[4 * eStride] = v0; u[5 * eStride] = v1; u[6 * eStride] = v2; u[7 * eStride] = v3;
      WINO_G(a20, a21, a22, v0, v1, v2, v3);
      u[8 * eStride] = v0; u[9 * eStride] = v1; u[10 * eStride] = v2; u[11 * eStride] = v3;
      WINO_G(a30, a31, a32, v0, v1, v2, v3);
      u[12 * eStride] = v0; u[13 * eStride] = v1; u[14 * eStride] = v2; u[15 * eStride] = v3;
    }
  }
}

/*
 * Bᵀ·d·B of output tile q's 4×4 input patch (zeros outside the image), Bᵀ = [1 0 −1 0;
 * 0 1 1 0; 0 −1 1 0; 0 1 0 −1]: element e of channels ci..ci+3 goes to out + e·es + (ci/4)·cs.
 */
INLINE void wino_input_tile(const float *x, u32 q, u32 H, u32 W, u32 Ci, u32 th, u32 tw, float *out,
                            unsigned long es, unsigned long cs) {
  v128_t zero = wasm_f32x4_splat(0.0f);
  u32 n = q / (th * tw), rem = q % (th * tw), ti = rem / tw, tj = rem % tw;
  int r0 = (int)(2 * ti) - 1, c0 = (int)(2 * tj) - 1;
  /* Bit r·4+c of ok: patch element (r, c) lies inside the image (no arrays: no stack). */
  u32 ok = 0;
  for (u32 r = 0; r < 4; r++)
    for (u32 c = 0; c < 4; c++) {
      int xr = r0 + (int)r, xc = c0 + (int)c;
      if (xr >= 0 && xr < (int)H && xc >= 0 && xc < (int)W) ok |= 1u << (r * 4 + c);
    }
  /* Index of patch element (0, 0), negative at the top-left border: pointers are only formed
   * for elements inside the image. */
  int bi = (((int)(n * H) + r0) * (int)W + c0) * (int)Ci, rs = (int)(W * Ci);
  for (u32 ci = 0; ci < Ci; ci += 4) {
    v128_t d[16];
    if (ok == 0xffff) {
      for (u32 e = 0; e < 16; e++) d[e] = wasm_v128_load(x + (u32)(bi + (int)(e >> 2) * rs + (int)((e & 3) * Ci + ci)));
    } else {
      for (u32 e = 0; e < 16; e++)
        d[e] = (ok >> e) & 1 ? wasm_v128_load(x + (u32)(bi + (int)(e >> 2) * rs + (int)((e & 3) * Ci + ci))) : zero;
    }
    /* Bᵀ·d: rows. */
    v128_t m[16];
    for (u32 c = 0; c < 4; c++) {
      m[c] = wasm_f32x4_sub(d[c], d[8 + c]);
      m[4 + c] = wasm_f32x4_add(d[4 + c], d[8 + c]);
      m[8 + c] = wasm_f32x4_sub(d[8 + c], d[4 + c]);
      m[12 + c] = wasm_f32x4_sub(d[4 + c], d[12 + c]);
    }
    /* ·B: columns. */
    float *o = out + (ci / 4) * cs;
    for (u32 r = 0; r < 4; r++) {
      v128_t a0 = m[4 * r], a1 = m[4 * r + 1], a2 = m[4 * r + 2], a3 = m[4 * r + 3];
      wasm_v128_store(o + (4 * r) * es, wasm_f32x4_sub(a0, a2));
      wasm_v128_store(o + (4 * r + 1) * es, wasm_f32x4_add(a1, a2));
      wasm_v128_store(o + (4 * r + 2) * es, wasm_f32x4_sub(a2, a1));
      wasm_v128_store(o + (4 * r + 3) * es, wasm_f32x4_sub(a1, a3));
    }
  }
}

void conv2d_wino(const float *x, const float *U, const float *bias, float *y, float *scratch, u32 q0, u32 q1, u32 H,
                 u32 W, u32 Ci, u32 Co, int relu) {
  u32 th = (H + 1) / 2, tw = (W + 1) / 2, nb = Co / 8;
  float *V = scratch;                              /* [16][WINO_T][Ci] */
  float *M = scratch + 16ul * WINO_T * Ci;         /* [16][WINO_T][Co] */
  unsigned long vs = (unsigned long)WINO_T * Ci, ms = (unsigned long)WINO_T * Co;
  v128_t zero = wasm_f32x4_splat(0.0f);
  for (u32 qa = q0; qa < q1; qa += WINO_T) {
    u32 cnt = q1 - qa < WINO_T ? q1 - qa : WINO_T;
    u32 cnt4 = (cnt + 3) & ~3u;
    /* Input transform. */
    for (u32 t = 0; t < cnt4; t++) {
      float *vt = V + (unsigned long)t * Ci;
      if (t >= cnt) {
        for (u32 e = 0; e < 16; e++)
          for (u32 ci = 0; ci < Ci; ci += 4) wasm_v128_store(vt + e * vs + ci, zero);
        continue;
      }
      wino_input_tile(x, qa + t, H, W, Ci, th, tw, vt, vs, 4);
    }
    /* 16 GEMMs: M[e][t][co] = Σ_ci V[e][t][ci] · U[e][ci][co]. */
    for (u32 e = 0; e < 16; e++) {
      const float *Ve = V + e * vs;
      float *Me = M + e * ms;
      for (u32 cb = 0; cb < nb; cb++) {
        const float *Ub = U + (unsigned long)(e * nb + cb) * Ci * 8;
        for (u32 t = 0; t < cnt4; t += 4) {
          const float *x0 = Ve + (unsigned long)t * Ci, *x1 = x0 + Ci, *x2 = x1 + Ci, *x3 = x2 + Ci;
          v128_t c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero, c30 = zero, c31 = zero;
          const float *wp = Ub;
          for (u32 ci = 0; ci < Ci; ci++, wp += 8) {
            v128_t w0 = wasm_v128_load(wp), w1 = wasm_v128_load(wp + 4);
            v128_t s = wasm_v128_load32_splat(x0 + ci);
            c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(s, w0)); c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(s, w1));
            s = wasm_v128_load32_splat(x1 + ci);
            c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(s, w0)); c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(s, w1));
            s = wasm_v128_load32_splat(x2 + ci);
            c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(s, w0)); c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(s, w1));
            s = wasm_v128_load32_splat(x3 + ci);
            c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(s, w0)); c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(s, w1));
          }
          float *o = Me + (unsigned long)t * Co + cb * 8;
          wasm_v128_store(o, c00); wasm_v128_store(o + 4, c01);
          wasm_v128_store(o + Co, c10); wasm_v128_store(o + Co + 4, c11);
          wasm_v128_store(o + 2 * Co, c20); wasm_v128_store(o + 2 * Co + 4, c21);
          wasm_v128_store(o + 3 * Co, c30); wasm_v128_store(o + 3 * Co + 4, c31);
        }
      }
    }
    /* Output transform. */
    for (u32 t = 0; t < cnt; t++) {
      u32 q = qa + t, n = q / (th * tw), rem = q % (th * tw), ti = rem / tw, tj = rem % tw;
      u32 i0 = 2 * ti, j0 = 2 * tj;
      int has_r1 = i0 + 1 < H, has_c1 = j0 + 1 < W;
      float *y00 = y + (((unsigned long)n * H + i0) * W + j0) * Co;
      float *y01 = y00 + Co, *y10 = y00 + (unsigned long)W * Co, *y11 = y10 + Co;
      const float *mt = M + (unsigned long)t * Co;
      for (u32 co = 0; co < Co; co += 4) {
        v128_t m[16];
        for (u32 e = 0; e < 16; e++) m[e] = wasm_v128_load(mt + e * ms + co);
        v128_t u0[4], u1[4];
        for (u32 c = 0; c < 4; c++) {
          u0[c] = wasm_f32x4_add(wasm_f32x4_add(m[c], m[4 + c]), m[8 + c]);
          u1[c] = wasm_f32x4_sub(wasm_f32x4_sub(m[4 + c], m[8 + c]), m[12 + c]);
        }
        v128_t b = bias ? wasm_v128_load(bias + co) : zero;
        v128_t o00 = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(u0[0], u0[1]), u0[2]), b);
        v128_t o01 = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_sub(u0[1], u0[2]), u0[3]), b);
        v128_t o10 = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(u1[0], u1[1]), u1[2]), b);
        v128_t o11 = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_sub(u1[1], u1[2]), u1[3]), b);
        if (relu) {
          o00 = wasm_f32x4_max(o00, zero); o01 = wasm_f32x4_max(o01, zero);
          o10 = wasm_f32x4_max(o10, zero); o11 = wasm_f32x4_max(o11, zero);
        }
        wasm_v128_store(y00 + co, o00);
        if (has_c1) wasm_v128_store(y01 + co, o01);
        if (has_r1) {
          wasm_v128_store(y10 + co, o10);
          if (has_c1) wasm_v128_store(y11 + co, o11);
        }
      }
    }
  }
}

/*
 * Winograd filter gradient F(3×3, 2×2) for the same convolutions (3×3, stride 1, padding 1,
 * Ci % 4 == 0, Co % 8 == 0): per 2×2 tile of dy, dW_tile = A'ᵀ·[(G'·dy·G'ᵀ) ⊙ (Bᵀ·d·B)]·A' with
 * the forward's input transform B, G' = [1 0; ½ ½; ½ −½; 0 1], A'ᵀ = [1 1 1 0; 0 1 −1 0;
 * 0 1 1 −1]. conv2d_wino_fgrad adds Σ over tiles [q0, q1) of the 16 products into
 * acc [16][Ci][Co] (zeroed first), WINO_TF tiles at a time packed as V [16][Ci/4][T][4] and
 * D [16][Co/8][T][8] (contiguous 4×8 register-tile panels; T = 32 measured best of 16–256 at
 * full width: the packed blocks stay in L1/L2); wino_fgrad_out turns acc into
 * dW [3, 3, Ci, Co]. scratch: 16·WINO_TF·(Ci + Co) floats.
 */
#define WINO_TF 32

void conv2d_wino_fgrad(const float *x, const float *dy, float *acc, float *scratch, u32 q0, u32 q1, u32 H, u32 W,
                       u32 Ci, u32 Co) {
  u32 th = (H + 1) / 2, tw = (W + 1) / 2;
  unsigned long vs = (unsigned long)WINO_TF * Ci, ds = (unsigned long)WINO_TF * Co, as = (unsigned long)Ci * Co;
  float *V = scratch, *D = scratch + 16 * vs;
  v128_t zero = wasm_f32x4_splat(0.0f), half = wasm_f32x4_splat(0.5f);
  for (unsigned long k = 0; k < 16 * as; k++) acc[k] = 0.0f;
  for (u32 qa = q0; qa < q1; qa += WINO_TF) {
    u32 cnt = q1 - qa < WINO_TF ? q1 - qa : WINO_TF;
    for (u32 t = 0; t < cnt; t++) {
      wino_input_tile(x, qa + t, H, W, Ci, th, tw, V + 4 * t, vs, 4 * WINO_TF);
      u32 q = qa + t, n = q / (th * tw), rem = q % (th * tw), ti = rem / tw, tj = rem % tw;
      u32 i0 = 2 * ti, j0 = 2 * tj;
      int has_r1 = i0 + 1 < H, has_c1 = j0 + 1 < W;
      const float *y00 = dy + (((unsigned long)n * H + i0) * W + j0) * Co;
      const float *y01 = y00 + Co, *y10 = y00 + (unsigned long)W * Co, *y11 = y10 + Co;
      float *dt = D + 8 * t;
      for (u32 co = 0; co < Co; co += 4) {
        v128_t g00 = wasm_v128_load(y00 + co);
        v128_t g01 = has_c1 ? wasm_v128_load(y01 + co) : zero;
        v128_t g10 = has_r1 ? wasm_v128_load(y10 + co) : zero;
        v128_t g11 = has_r1 && has_c1 ? wasm_v128_load(y11 + co) : zero;
        /* G'·g: rows (4×2), then ·G'ᵀ: columns (4×4). */
        v128_t a0 = g00, b0 = g01;
        v128_t a1 = wasm_f32x4_mul(half, wasm_f32x4_add(g00, g10)), b1 = wasm_f32x4_mul(half, wasm_f32x4_add(g01, g11));
        v128_t a2 = wasm_f32x4_mul(half, wasm_f32x4_sub(g00, g10)), b2 = wasm_f32x4_mul(half, wasm_f32x4_sub(g01, g11));
        v128_t a3 = g10, b3 = g11;
        float *o = dt + (co / 8) * 8 * WINO_TF + (co & 7);
#define WINO_FG_ROW(r, a, b)                                                                    \
  do {                                                                                          \
    wasm_v128_store(o + (4 * (r)) * ds, a);                                                     \
    wasm_v128_store(o + (4 * (r) + 1) * ds, wasm_f32x4_mul(half, wasm_f32x4_add(a, b)));        \
    wasm_v128_store(o + (4 * (r) + 2) * ds, wasm_f32x4_mul(half, wasm_f32x4_sub(a, b)));        \
    wasm_v128_store(o + (4 * (r) + 3) * ds, b);                                                 \
  } while (0)
        WINO_FG_ROW(0, a0, b0);
        WINO_FG_ROW(1, a1, b1);
        WINO_FG_ROW(2, a2, b2);
        WINO_FG_ROW(3, a3, b3);
#undef WINO_FG_ROW
      }
    }
    /* acc[e][ci][co] += Σ_t V[e][t][ci] · D[e][t][co]. */
    for (u32 e = 0; e < 16; e++) {
      for (u32 ci = 0; ci < Ci; ci += 4) {
        const float *vp = V + e * vs + (unsigned long)ci * WINO_TF;
        for (u32 co = 0; co < Co; co += 8) {
          const float *dp = D + e * ds + (unsigned long)co * WINO_TF;
          float *t0 = acc + e * as + (unsigned long)ci * Co + co, *t1 = t0 + Co, *t2 = t1 + Co, *t3 = t2 + Co;
          v128_t a00 = zero, a01 = zero, a10 = zero, a11 = zero, a20 = zero, a21 = zero, a30 = zero, a31 = zero;
          for (u32 t = 0; t < cnt; t++) {
            v128_t d0 = wasm_v128_load(dp + 8 * t), d1 = wasm_v128_load(dp + 8 * t + 4);
            const float *xq = vp + 4 * t;
            v128_t sv = wasm_v128_load32_splat(xq);
            a00 = wasm_f32x4_add(a00, wasm_f32x4_mul(sv, d0)); a01 = wasm_f32x4_add(a01, wasm_f32x4_mul(sv, d1));
            sv = wasm_v128_load32_splat(xq + 1);
            a10 = wasm_f32x4_add(a10, wasm_f32x4_mul(sv, d0)); a11 = wasm_f32x4_add(a11, wasm_f32x4_mul(sv, d1));
            sv = wasm_v128_load32_splat(xq + 2);
            a20 = wasm_f32x4_add(a20, wasm_f32x4_mul(sv, d0)); a21 = wasm_f32x4_add(a21, wasm_f32x4_mul(sv, d1));
            sv = wasm_v128_load32_splat(xq + 3);
            a30 = wasm_f32x4_add(a30, wasm_f32x4_mul(sv, d0)); a31 = wasm_f32x4_add(a31, wasm_f32x4_mul(sv, d1));
          }
          wasm_v128_store(t0, wasm_f32x4_add(wasm_v128_load(t0), a00));
          wasm_v128_store(t0 + 4, wasm_f32x4_add(wasm_v128_load(t0 + 4), a01));
          wasm_v128_store(t1, wasm_f32x4_add(wasm_v128_load(t1), a10));
          wasm_v128_store(t1 + 4, wasm_f32x4_add(wasm_v128_load(t1 + 4), a11));
          wasm_v128_store(t2, wasm_f32x4_add(wasm_v128_load(t2), a20));
          wasm_v128_store(t2 + 4, wasm_f32x4_add(wasm_v128_load(t2 + 4), a21));
          wasm_v128_store(t3, wasm_f32x4_add(wasm_v128_load(t3), a30));
          wasm_v128_store(t3 + 4, wasm_f32x4_add(wasm_v128_load(t3 + 4), a31));
        }
      }
    }
  }
}

void wino_fgrad_out(const float *acc, u32 Ci, u32 Co, float *dw) {
  unsigned long as = (unsigned long)Ci * Co;
  for (unsigned long k = 0; k < as; k += 4) {
    v128_t m[16];
    for (u32 e = 0; e < 16; e++) m[e] = wasm_v128_load(acc + e * as + k);
    /* A'ᵀ·m: rows (3×4), then ·A': columns (3×3). */
    v128_t u[12];
    for (u32 c = 0; c < 4; c++) {
      u[c] = wasm_f32x4_add(wasm_f32x4_add(m[c], m[4 + c]), m[8 + c]);
      u[4 + c] = wasm_f32x4_sub(m[4 + c], m[8 + c]);
      u[8 + c] = wasm_f32x4_sub(wasm_f32x4_add(m[4 + c], m[8 + c]), m[12 + c]);
    }
    for (u32 r = 0; r < 3; r++) {
      v128_t a0 = u[4 * r], a1 = u[4 * r + 1], a2 = u[4 * r + 2], a3 = u[4 * r + 3];
      wasm_v128_store(dw + (3 * r) * as + k, wasm_f32x4_add(wasm_f32x4_add(a0, a1), a2));
      wasm_v128_store(dw + (3 * r + 1) * as + k, wasm_f32x4_sub(a1, a2));
      wasm_v128_store(dw + (3 * r + 2) * as + k, wasm_f32x4_sub(wasm_f32x4_add(a1, a2), a3));
    }
  }
}

/*
 * Gradient of relu: dx = dy · step(x) with step(x) = 1 for x > 0, NaN for NaN, else 0 — the
 * product tfjs' gradient forms (Step, Cast, Multiply), in one pass.
 */
void relu_grad(const float *dy, const float *x, u32 n, float *dx) {
  u32 i = 0;
  v128_t one = wasm_f32x4_splat(1.0f), zero = wasm_f32x4_splat(0.0f);
  for (; i + 4 <= n; i += 4) {
    v128_t xv = wasm_v128_load(x + i);
    v128_t s = wasm_v128_bitselect(one, zero, wasm_f32x4_gt(xv, zero));
    s = wasm_v128_bitselect(xv, s, wasm_f32x4_ne(xv, xv));
    wasm_v128_store(dx + i, wasm_f32x4_mul(wasm_v128_load(dy + i), s));
  }
  for (; i < n; i++) {
    float xv = x[i];
    float s = xv > 0.0f ? 1.0f : (xv != xv ? xv : 0.0f);
    dx[i] = dy[i] * s;
  }
}

/* w [taps, Ci, Co] → [Co/8][taps][Ci][8] (the first Co & ~7 channels), for conv2d_forward's wpack. */
void pack_w8(const float *w, u32 taps, u32 Ci, u32 Co, float *out) {
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
