/*
 * Winograd F(2×2, 5×5): forward convolution and filter gradient of 5×5, stride-1, padding-2
 * ('same') convolutions (PANNs CNN6/10/14's blocks).
 * Part of trainKernels.c (#included there, not compiled on its own; see kernels.h for the rules).
 *
 * 6×6 input tiles per 2×2 output tile: 36 products per 4 outputs instead of 100 (2.78× fewer
 * multiplications; the direct kernel is bound by them). Interpolation points 0, ±1, ±2, ∞ (the
 * input transform is F(4×4, 3×3)'s); in a float32 simulation over 256 channels the outputs were
 * within 1.2e-6 of the largest |y| (points 0, ±1, ±½: 5.9e-6).
 *   Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
 *   G  = [¼ 0 0 0 0; −⅙ −⅙ −⅙ −⅙ −⅙; −⅙ ⅙ −⅙ ⅙ −⅙; 1/24 1/12 ⅙ ⅓ ⅔; 1/24 −1/12 ⅙ −⅓ ⅔; 0 0 0 0 1]
 *   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 1]
 * Forward: Y = Aᵀ·[(G·g·Gᵀ) ⊙ (Bᵀ·d·B)]·A per channel pair, summed over input channels (36
 * GEMMs). Filter gradient (the same identity read for the filter): dW = Gᵀ·[(A·dy·Aᵀ) ⊙
 * (Bᵀ·d·B)]·G summed over the 2×2 tiles of dy. Two-pass transforms go through the caller's
 * scratch (no arrays on the stack).
 *
 * The 36 elements of a transformed tile are 36 blocks of scratch; each block is W5_PAD floats
 * longer than its data so that element e and e + 1 start one cache line apart. Why: unpadded, a
 * block is a multiple of 4 KiB (e.g. 32 tiles × 64 channels), the 36 loads or stores of one
 * tile fall in one set of the 8-way L1 and evict one another: measured on [8,64,64,64]→128, one
 * thread, the input transform alone took ≈130 of the forward's 369 ms.
 */
#include "kernels.h"

#define W5_PAD 16

/* o = Bᵀ·d for six 4-lane vectors. */
#define W5_BT(d0, d1, d2, d3, d4, d5, o0, o1, o2, o3, o4, o5)                                       \
  do {                                                                                              \
    v128_t four_ = wasm_f32x4_splat(4.0f), five_ = wasm_f32x4_splat(5.0f), two_ = wasm_f32x4_splat(2.0f); \
    v128_t s12_ = wasm_f32x4_add(d1, d2), d12_ = wasm_f32x4_sub(d1, d2);                           \
    v128_t s34_ = wasm_f32x4_add(d3, d4), d43_ = wasm_f32x4_sub(d4, d3);                           \
    v128_t d42_ = wasm_f32x4_sub(d4, d2), d31_ = wasm_f32x4_mul(two_, wasm_f32x4_sub(d3, d1));     \
    o0 = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(four_, d0), wasm_f32x4_mul(five_, d2)), d4); \
    o1 = wasm_f32x4_sub(s34_, wasm_f32x4_mul(four_, s12_));                                        \
    o2 = wasm_f32x4_add(d43_, wasm_f32x4_mul(four_, d12_));                                        \
    o3 = wasm_f32x4_add(d42_, d31_);                                                               \
    o4 = wasm_f32x4_sub(d42_, d31_);                                                               \
    o5 = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(four_, d1), wasm_f32x4_mul(five_, d3)), d5); \
  } while (0)

/* o = G·g (5 → 6). */
#define W5_G(g0, g1, g2, g3, g4, o0, o1, o2, o3, o4, o5)                                            \
  do {                                                                                              \
    v128_t e_ = wasm_f32x4_add(wasm_f32x4_add(g0, g2), g4), od_ = wasm_f32x4_add(g1, g3);          \
    v128_t s6_ = wasm_f32x4_splat(1.0f / 6.0f);                                                    \
    v128_t p_ = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_splat(1.0f / 24.0f), g0),  \
                                              wasm_f32x4_mul(s6_, g2)),                            \
                               wasm_f32x4_mul(wasm_f32x4_splat(2.0f / 3.0f), g4));                 \
    v128_t q_ = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_splat(1.0f / 12.0f), g1),                 \
                               wasm_f32x4_mul(wasm_f32x4_splat(1.0f / 3.0f), g3));                 \
    o0 = wasm_f32x4_mul(wasm_f32x4_splat(0.25f), g0);                                              \
    o1 = wasm_f32x4_neg(wasm_f32x4_mul(s6_, wasm_f32x4_add(e_, od_)));                             \
    o2 = wasm_f32x4_mul(s6_, wasm_f32x4_sub(od_, e_));                                             \
    o3 = wasm_f32x4_add(p_, q_);                                                                   \
    o4 = wasm_f32x4_sub(p_, q_);                                                                   \
    o5 = g4;                                                                                       \
  } while (0)

/* (o0, o1) = Aᵀ·m (6 → 2). */
#define W5_AT(m0, m1, m2, m3, m4, m5, o0, o1)                                                       \
  do {                                                                                              \
    o0 = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(m0, m1), wasm_f32x4_add(m2, m3)), m4);       \
    o1 = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_sub(m1, m2),                                     \
                                       wasm_f32x4_mul(wasm_f32x4_splat(2.0f), wasm_f32x4_sub(m3, m4))), m5); \
  } while (0)

/* o = A·(y0, y1) (2 → 6). */
#define W5_A(y0, y1, o0, o1, o2, o3, o4, o5)                                                        \
  do {                                                                                              \
    v128_t t_ = wasm_f32x4_add(y1, y1);                                                            \
    o0 = y0; o1 = wasm_f32x4_add(y0, y1); o2 = wasm_f32x4_sub(y0, y1);                              \
    o3 = wasm_f32x4_add(y0, t_); o4 = wasm_f32x4_sub(y0, t_); o5 = y1;                              \
  } while (0)

/* o = Gᵀ·m (6 → 5). */
#define W5_GT(m0, m1, m2, m3, m4, m5, o0, o1, o2, o3, o4)                                           \
  do {                                                                                              \
    v128_t s12_ = wasm_f32x4_add(m1, m2), d21_ = wasm_f32x4_sub(m2, m1);                           \
    v128_t s34_ = wasm_f32x4_add(m3, m4), d34_ = wasm_f32x4_sub(m3, m4);                           \
    v128_t s6_ = wasm_f32x4_splat(1.0f / 6.0f);                                                    \
    v128_t a_ = wasm_f32x4_mul(s6_, s12_), b_ = wasm_f32x4_mul(s6_, d21_);                          \
    o0 = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(wasm_f32x4_splat(0.25f), m0), a_),           \
                        wasm_f32x4_mul(wasm_f32x4_splat(1.0f / 24.0f), s34_));                     \
    o1 = wasm_f32x4_add(b_, wasm_f32x4_mul(wasm_f32x4_splat(1.0f / 12.0f), d34_));                 \
    o2 = wasm_f32x4_sub(wasm_f32x4_mul(s6_, s34_), a_);                                            \
    o3 = wasm_f32x4_add(b_, wasm_f32x4_mul(wasm_f32x4_splat(1.0f / 3.0f), d34_));                  \
    o4 = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(wasm_f32x4_splat(2.0f / 3.0f), s34_), a_), m5); \
  } while (0)

/*
 * w [5, 5, Ci, Co] → U = G·g·Gᵀ per (ci, co), stored [36][Co/8][Ci][8] with element e = 6·r + c
 * at e·(Ci·Co + W5_PAD) (U: 36·(Ci·Co + W5_PAD) floats). Co a multiple of 8; 4 output channels
 * at a time.
 */
EXPORT void wino5_weights(const float *w, u32 Ci, u32 Co, float *U) {
  unsigned long ts = (unsigned long)Ci * Co, es = (unsigned long)Ci * Co + W5_PAD;
  for (u32 ci = 0; ci < Ci; ci++) {
    for (u32 co = 0; co < Co; co += 4) {
      const float *g = w + (unsigned long)ci * Co + co; /* tap (a, b) at g + (5a + b)·ts */
      float *u = U + ((unsigned long)(co / 8) * Ci + ci) * 8 + (co & 7); /* element e at u + e·es */
      /* Columns b: G·g[:, b] into rows r of column b. */
      for (u32 b = 0; b < 5; b++) {
        v128_t o0, o1, o2, o3, o4, o5;
        W5_G(wasm_v128_load(g + b * ts), wasm_v128_load(g + (5 + b) * ts), wasm_v128_load(g + (10 + b) * ts),
             wasm_v128_load(g + (15 + b) * ts), wasm_v128_load(g + (20 + b) * ts), o0, o1, o2, o3, o4, o5);
        wasm_v128_store(u + b * es, o0); wasm_v128_store(u + (6 + b) * es, o1);
        wasm_v128_store(u + (12 + b) * es, o2); wasm_v128_store(u + (18 + b) * es, o3);
        wasm_v128_store(u + (24 + b) * es, o4); wasm_v128_store(u + (30 + b) * es, o5);
      }
      /* Rows r: (·)·Gᵀ in place. */
      for (u32 r = 0; r < 6; r++) {
        float *ur = u + 6 * r * es;
        v128_t o0, o1, o2, o3, o4, o5;
        W5_G(wasm_v128_load(ur), wasm_v128_load(ur + es), wasm_v128_load(ur + 2 * es), wasm_v128_load(ur + 3 * es),
             wasm_v128_load(ur + 4 * es), o0, o1, o2, o3, o4, o5);
        wasm_v128_store(ur, o0); wasm_v128_store(ur + es, o1); wasm_v128_store(ur + 2 * es, o2);
        wasm_v128_store(ur + 3 * es, o3); wasm_v128_store(ur + 4 * es, o4); wasm_v128_store(ur + 5 * es, o5);
      }
    }
  }
}

/*
 * Bᵀ·d·B of output tile q's 6×6 input patch (rows 2·ti − 2 …, zeros outside the image): element
 * e of channels ci..ci+3 goes to out + e·es + (ci/4)·cs (rows first, then in place by columns).
 */
INLINE void wino5_input_tile(const float *x, u32 q, u32 H, u32 W, u32 Ci, u32 th, u32 tw, float *out,
                             unsigned long es, unsigned long cs) {
  v128_t zero = wasm_f32x4_splat(0.0f);
  u32 n = q / (th * tw), rem = q % (th * tw), ti = rem / tw, tj = rem % tw;
  int r0 = (int)(2 * ti) - 2, c0 = (int)(2 * tj) - 2;
  /* Bit k of rowok / colok: patch row / column k lies inside the image. */
  u32 rowok = 0, colok = 0;
  for (u32 k = 0; k < 6; k++) {
    if (r0 + (int)k >= 0 && r0 + (int)k < (int)H) rowok |= 1u << k;
    if (c0 + (int)k >= 0 && c0 + (int)k < (int)W) colok |= 1u << k;
  }
  int rs = (int)(W * Ci);
  /* Index of patch element (0, 0), negative at the top-left border: pointers are only formed
   * for elements inside the image. */
  int bi = (((int)(n * H) + r0) * (int)W + c0) * (int)Ci;
  for (u32 ci = 0; ci < Ci; ci += 4) {
    float *o = out + (ci / 4) * cs;
    for (u32 r = 0; r < 6; r++) {
      float *orow = o + 6 * r * es;
      if (!((rowok >> r) & 1)) {
        for (u32 c = 0; c < 6; c++) wasm_v128_store(orow + c * es, zero);
        continue;
      }
      int ri = bi + (int)r * rs + (int)ci;
#define W5_LD(c) ((colok >> (c)) & 1 ? wasm_v128_load(x + (u32)(ri + (int)((c) * Ci))) : zero)
      v128_t d0 = W5_LD(0), d1 = W5_LD(1), d2 = W5_LD(2), d3 = W5_LD(3), d4 = W5_LD(4), d5 = W5_LD(5);
#undef W5_LD
      v128_t o0, o1, o2, o3, o4, o5;
      W5_BT(d0, d1, d2, d3, d4, d5, o0, o1, o2, o3, o4, o5);
      wasm_v128_store(orow, o0); wasm_v128_store(orow + es, o1); wasm_v128_store(orow + 2 * es, o2);
      wasm_v128_store(orow + 3 * es, o3); wasm_v128_store(orow + 4 * es, o4); wasm_v128_store(orow + 5 * es, o5);
    }
    for (u32 c = 0; c < 6; c++) {
      float *oc = o + c * es;
      v128_t o0, o1, o2, o3, o4, o5;
      W5_BT(wasm_v128_load(oc), wasm_v128_load(oc + 6 * es), wasm_v128_load(oc + 12 * es), wasm_v128_load(oc + 18 * es),
            wasm_v128_load(oc + 24 * es), wasm_v128_load(oc + 30 * es), o0, o1, o2, o3, o4, o5);
      wasm_v128_store(oc, o0); wasm_v128_store(oc + 6 * es, o1); wasm_v128_store(oc + 12 * es, o2);
      wasm_v128_store(oc + 18 * es, o3); wasm_v128_store(oc + 24 * es, o4); wasm_v128_store(oc + 30 * es, o5);
    }
  }
}

/*
 * Forward: output tiles [q0, q1) of the N·⌈H/2⌉·⌈W/2⌉ 2×2 tiles (image-major, row-major),
 * T at a time: V = Bᵀ·d·B into scratch [36][T][Ci], M[e] = V[e]·U[e] into scratch
 * [36][T][Co] (the forward conv's 4×8 register tile), then Y = Aᵀ·M·A (+ bias, relu) stored
 * where inside the image (blocks padded by W5_PAD). Ci % 4 == 0, Co % 8 == 0, T % 4 == 0;
 * scratch: 36·(T·(Ci + Co) + 2·W5_PAD) floats; bias may be 0.
 */
EXPORT void conv2d_wino5(const float *x, const float *U, const float *bias, float *y, float *scratch, u32 q0, u32 q1,
                         u32 H, u32 W, u32 Ci, u32 Co, int relu, u32 T) {
  u32 th = (H + 1) / 2, tw = (W + 1) / 2, nb = Co / 8;
  unsigned long vs = (unsigned long)T * Ci + W5_PAD, ms = (unsigned long)T * Co + W5_PAD, us = (unsigned long)Ci * Co + W5_PAD;
  float *V = scratch;          /* [36][T][Ci] */
  float *M = scratch + 36 * vs; /* [36][T][Co] */
  v128_t zero = wasm_f32x4_splat(0.0f);
  for (u32 qa = q0; qa < q1; qa += T) {
    u32 cnt = q1 - qa < T ? q1 - qa : T;
    u32 cnt4 = (cnt + 3) & ~3u;
    for (u32 t = 0; t < cnt4; t++) {
      float *vt = V + (unsigned long)t * Ci;
      if (t >= cnt) {
        for (u32 e = 0; e < 36; e++)
          for (u32 ci = 0; ci < Ci; ci += 4) wasm_v128_store(vt + e * vs + ci, zero);
        continue;
      }
      wino5_input_tile(x, qa + t, H, W, Ci, th, tw, vt, vs, 4);
    }
    /* 36 GEMMs: M[e][t][co] = Σ_ci V[e][t][ci] · U[e][ci][co]. */
    for (u32 e = 0; e < 36; e++) {
      const float *Ve = V + e * vs;
      float *Me = M + e * ms;
      for (u32 cb = 0; cb < nb; cb++) {
        const float *Ub = U + e * us + (unsigned long)cb * Ci * 8;
        for (u32 t = 0; t < cnt4; t += 4) {
          const float *x0 = Ve + (unsigned long)t * Ci, *x1 = x0 + Ci, *x2 = x1 + Ci, *x3 = x2 + Ci;
          v128_t c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero, c30 = zero, c31 = zero;
          const float *wp = Ub;
          for (u32 ci = 0; ci < Ci; ci++, wp += 8) {
            v128_t w0 = wasm_v128_load(wp), w1 = wasm_v128_load(wp + 4);
            TILE4X8_MAC(c, x0 + ci, x1 + ci, x2 + ci, x3 + ci, w0, w1);
          }
          float *o = Me + (unsigned long)t * Co + cb * 8;
          TILE4X8_STORE(o, Co);
        }
      }
    }
    /* Output transform: Aᵀ over the rows of each column c, then Aᵀ over the two rows. */
    for (u32 t = 0; t < cnt; t++) {
      u32 q = qa + t, n = q / (th * tw), rem = q % (th * tw), ti = rem / tw, tj = rem % tw;
      u32 i0 = 2 * ti, j0 = 2 * tj;
      int has_r1 = i0 + 1 < H, has_c1 = j0 + 1 < W;
      float *y00 = y + (((unsigned long)n * H + i0) * W + j0) * Co;
      float *y01 = y00 + Co, *y10 = y00 + (unsigned long)W * Co, *y11 = y10 + Co;
      const float *mt = M + (unsigned long)t * Co;
      for (u32 co = 0; co < Co; co += 4) {
        const float *m = mt + co;
#define W5_COL(c, a, b)                                                                               \
  v128_t a, b;                                                                                        \
  W5_AT(wasm_v128_load(m + (c) * ms), wasm_v128_load(m + (6 + (c)) * ms), wasm_v128_load(m + (12 + (c)) * ms), \
        wasm_v128_load(m + (18 + (c)) * ms), wasm_v128_load(m + (24 + (c)) * ms), wasm_v128_load(m + (30 + (c)) * ms), a, b)
        W5_COL(0, u00, u10); W5_COL(1, u01, u11); W5_COL(2, u02, u12);
        W5_COL(3, u03, u13); W5_COL(4, u04, u14); W5_COL(5, u05, u15);
#undef W5_COL
        v128_t o00, o01, o10, o11;
        W5_AT(u00, u01, u02, u03, u04, u05, o00, o01);
        W5_AT(u10, u11, u12, u13, u14, u15, o10, o11);
        if (bias) {
          v128_t b = wasm_v128_load(bias + co);
          o00 = wasm_f32x4_add(o00, b); o01 = wasm_f32x4_add(o01, b);
          o10 = wasm_f32x4_add(o10, b); o11 = wasm_f32x4_add(o11, b);
        }
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
 * Filter gradient: conv2d_wino5_fgrad adds Σ over the 2×2 dy tiles [q0, q1) of the 36
 * products (A·dy·Aᵀ) ⊙ (Bᵀ·d·B) into acc [36][Ci][Co] (zeroed first; blocks padded by W5_PAD:
 * 36·(Ci·Co + W5_PAD) floats), T tiles at a time packed as V [36][Ci/4][T][4] and
 * D [36][Co/8][T][8] (contiguous 4×8 register-tile panels); wino5_fgrad_out turns acc into
 * dW [5, 5, Ci, Co] (overwriting acc on the way). scratch: 36·(T·(Ci + Co) + 2·W5_PAD) floats.
 */
EXPORT void conv2d_wino5_fgrad(const float *x, const float *dy, float *acc, float *scratch, u32 q0, u32 q1, u32 H,
                               u32 W, u32 Ci, u32 Co, u32 T) {
  u32 th = (H + 1) / 2, tw = (W + 1) / 2;
  unsigned long vs = (unsigned long)T * Ci + W5_PAD, ds = (unsigned long)T * Co + W5_PAD, as = (unsigned long)Ci * Co + W5_PAD;
  float *V = scratch, *D = scratch + 36 * vs;
  v128_t zero = wasm_f32x4_splat(0.0f);
  for (unsigned long k = 0; k < 36 * as; k++) acc[k] = 0.0f;
  for (u32 qa = q0; qa < q1; qa += T) {
    u32 cnt = q1 - qa < T ? q1 - qa : T;
    for (u32 t = 0; t < cnt; t++) {
      wino5_input_tile(x, qa + t, H, W, Ci, th, tw, V + 4 * t, vs, 4 * T);
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
        /* A·g: rows (6×2: column 0 in a*, column 1 in b*), then ·Aᵀ: columns (6×6). */
        v128_t a0, a1, a2, a3, a4, a5, b0, b1, b2, b3, b4, b5;
        W5_A(g00, g10, a0, a1, a2, a3, a4, a5);
        W5_A(g01, g11, b0, b1, b2, b3, b4, b5);
        float *o = dt + (co / 8) * 8 * T + (co & 7);
#define W5_FG_ROW(r, a, b)                                                                            \
  do {                                                                                                \
    v128_t p0_, p1_, p2_, p3_, p4_, p5_;                                                              \
    W5_A(a, b, p0_, p1_, p2_, p3_, p4_, p5_);                                                         \
    wasm_v128_store(o + (6 * (r)) * ds, p0_); wasm_v128_store(o + (6 * (r) + 1) * ds, p1_);           \
    wasm_v128_store(o + (6 * (r) + 2) * ds, p2_); wasm_v128_store(o + (6 * (r) + 3) * ds, p3_);       \
    wasm_v128_store(o + (6 * (r) + 4) * ds, p4_); wasm_v128_store(o + (6 * (r) + 5) * ds, p5_);       \
  } while (0)
        W5_FG_ROW(0, a0, b0); W5_FG_ROW(1, a1, b1); W5_FG_ROW(2, a2, b2);
        W5_FG_ROW(3, a3, b3); W5_FG_ROW(4, a4, b4); W5_FG_ROW(5, a5, b5);
#undef W5_FG_ROW
      }
    }
    /* acc[e][ci][co] += Σ_t V[e][t][ci] · D[e][t][co]. */
    for (u32 e = 0; e < 36; e++) {
      for (u32 ci = 0; ci < Ci; ci += 4) {
        const float *vp = V + e * vs + (unsigned long)ci * T;
        for (u32 co = 0; co < Co; co += 8) {
          const float *dp = D + e * ds + (unsigned long)co * T;
          float *t0 = acc + e * as + (unsigned long)ci * Co + co, *t1 = t0 + Co, *t2 = t1 + Co, *t3 = t2 + Co;
          v128_t a00 = zero, a01 = zero, a10 = zero, a11 = zero, a20 = zero, a21 = zero, a30 = zero, a31 = zero;
          for (u32 t = 0; t < cnt; t++) {
            v128_t d0 = wasm_v128_load(dp + 8 * t), d1 = wasm_v128_load(dp + 8 * t + 4);
            const float *xq = vp + 4 * t;
            TILE4X8_MAC(a, xq, xq + 1, xq + 2, xq + 3, d0, d1);
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

EXPORT void wino5_fgrad_out(float *acc, u32 Ci, u32 Co, float *dw) {
  unsigned long n = (unsigned long)Ci * Co, as = n + W5_PAD;
  /* Gᵀ over the rows of each column c (6 → 5, in place), then Gᵀ along each row into dW; the
   * inner loops stream along the channels (6 loads, 5 stores). */
  for (u32 c = 0; c < 6; c++) {
    float *a = acc + c * as;
    for (unsigned long k = 0; k < n; k += 4) {
      v128_t o0, o1, o2, o3, o4;
      W5_GT(wasm_v128_load(a + k), wasm_v128_load(a + 6 * as + k), wasm_v128_load(a + 12 * as + k),
            wasm_v128_load(a + 18 * as + k), wasm_v128_load(a + 24 * as + k), wasm_v128_load(a + 30 * as + k),
            o0, o1, o2, o3, o4);
      wasm_v128_store(a + k, o0); wasm_v128_store(a + 6 * as + k, o1); wasm_v128_store(a + 12 * as + k, o2);
      wasm_v128_store(a + 18 * as + k, o3); wasm_v128_store(a + 24 * as + k, o4);
    }
  }
  for (u32 r = 0; r < 5; r++) {
    const float *ar = acc + 6 * r * as;
    float *d = dw + 5 * r * n;
    for (unsigned long k = 0; k < n; k += 4) {
      v128_t o0, o1, o2, o3, o4;
      W5_GT(wasm_v128_load(ar + k), wasm_v128_load(ar + as + k), wasm_v128_load(ar + 2 * as + k),
            wasm_v128_load(ar + 3 * as + k), wasm_v128_load(ar + 4 * as + k), wasm_v128_load(ar + 5 * as + k),
            o0, o1, o2, o3, o4);
      wasm_v128_store(d + k, o0); wasm_v128_store(d + n + k, o1); wasm_v128_store(d + 2 * n + k, o2);
      wasm_v128_store(d + 3 * n + k, o3); wasm_v128_store(d + 4 * n + k, o4);
    }
  }
}

#undef W5_BT
#undef W5_G
#undef W5_AT
#undef W5_A
#undef W5_GT
