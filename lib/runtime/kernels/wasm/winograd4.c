/*
 * Winograd F(4×4, 3×3): forward convolution (and, through it, the input gradient) of 3×3,
 * stride-1 'same' layers with large maps. Part of trainKernels.c (#included there, not compiled
 * on its own; see kernels.h for the rules).
 *
 * Why: F(2×2, 3×3) (winograd.c) computes 4 outputs from 16 products (2.25× fewer multiplications
 * than direct); F(4×4, 3×3) computes 16 from 36 (4×). The GEMMs dominate both, so at 64+
 * channels the larger tile pays (measured figures in trainWasm.ts winograd4Applies). Points 0,
 * ±1, ±2, ±½ (Lavin & Gray's matrices):
 *   Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
 *   G  = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1/24 1/12 ⅙; 1/24 −1/12 ⅙; 0 0 1]
 *   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
 * Rounding: larger entries than F(2×2)'s, so larger errors (≈1e-5 of max |y| at 64–512
 * channels vs ≈3e-6; tests/runtime/trainKernels.test.ts measures them against float64 loops).
 *
 * wino4_weights: w [3, 3, Ci, Co] → U = G·g·Gᵀ per (ci, co), computed in double and rounded
 * once, stored [36·Co/8][Ci][8] (tap e, channel block cb at (e·Co/8 + cb)·Ci·8).
 *
 * conv2d_wino4: output tiles [q0, q1) of the N·⌈H/4⌉·⌈W/4⌉ 4×4 tiles (image-major, row-major),
 * WINO4_T at a time: V = Bᵀ·d·B of each tile's 6×6 input patch (zeros outside the image) into
 * scratch [T][36][Ci], M[e] = V[e]·U[e] into scratch [T][36][Co] with the 4×8 register tile,
 * then Y = Aᵀ·M·A (+ bias, relu) stored where inside the image. Both transforms go through
 * memory in two passes (rows, then columns) instead of 36-element local arrays (no stack);
 * tile-major scratch keeps a tile's 36 elements within 36·Ci floats. (Element-major
 * [36][T][Ci], as winograd.c has it, put them 32·Ci floats apart: at 64 channels 8 KiB, one
 * L1 set for all 36 lines, and this kernel ran 0.64× F(2×2)'s speed.)
 * scratch: 36·WINO4_T·(Ci + Co) floats. bias may be 0.
 */
#include "kernels.h"

#define WINO4_T 32

/* u = G·g for one column or row (double; products, not divisions: 54 divisions per weight made
 * the transform cost 2 ms at 128 channels). */
#define WINO4_G(g0, g1, g2, u0, u1, u2, u3, u4, u5)                                                 \
  do {                                                                                              \
    double s02_ = (g0) + (g2), a_ = (g0) * (1.0 / 24.0) + (g2) * (1.0 / 6.0), b_ = (g1) * (1.0 / 12.0); \
    u0 = 0.25 * (g0);                                                                               \
    u1 = (s02_ + (g1)) * (-1.0 / 6.0);                                                              \
    u2 = (s02_ - (g1)) * (-1.0 / 6.0);                                                              \
    u3 = a_ + b_;                                                                                   \
    u4 = a_ - b_;                                                                                   \
    u5 = (g2);                                                                                      \
  } while (0)

EXPORT void wino4_weights(const float *w, u32 Ci, u32 Co, float *U) {
  u32 nb = Co / 8;
  unsigned long ts = (unsigned long)Ci * Co, es = (unsigned long)nb * Ci * 8;
  /* Channel block, input channel, then the block's 8 output channels: the 36 planes of U are
   * written sequentially (a (ci, co) order scattered every store; at 256 channels the transform
   * took 31 ms of a 44 ms layer). */
  for (u32 cb = 0; cb < nb; cb++)
  for (u32 ci = 0; ci < Ci; ci++) {
    for (u32 j = 0; j < 8; j++) {
      u32 co = cb * 8 + j;
      const float *g = w + (unsigned long)ci * Co + co; /* g[(a·3 + b)·ts] */
      float *u = U + ((unsigned long)cb * Ci + ci) * 8 + j; /* u[e·es] */
      /* G·g: column b of g → column b of the 6×3 product (a<row><col>). */
      double a00, a10, a20, a30, a40, a50, a01, a11, a21, a31, a41, a51, a02, a12, a22, a32, a42, a52;
      WINO4_G((double)g[0], (double)g[3 * ts], (double)g[6 * ts], a00, a10, a20, a30, a40, a50);
      WINO4_G((double)g[ts], (double)g[4 * ts], (double)g[7 * ts], a01, a11, a21, a31, a41, a51);
      WINO4_G((double)g[2 * ts], (double)g[5 * ts], (double)g[8 * ts], a02, a12, a22, a32, a42, a52);
      /* ·Gᵀ: row r of the product → elements r·6 .. r·6+5. */
      double v0, v1, v2, v3, v4, v5;
#define WINO4_ROW(r, b0, b1, b2)                                                                    \
  do {                                                                                              \
    WINO4_G(b0, b1, b2, v0, v1, v2, v3, v4, v5);                                                    \
    u[(6 * (r)) * es] = (float)v0; u[(6 * (r) + 1) * es] = (float)v1; u[(6 * (r) + 2) * es] = (float)v2; \
    u[(6 * (r) + 3) * es] = (float)v3; u[(6 * (r) + 4) * es] = (float)v4; u[(6 * (r) + 5) * es] = (float)v5; \
  } while (0)
      WINO4_ROW(0, a00, a01, a02);
      WINO4_ROW(1, a10, a11, a12);
      WINO4_ROW(2, a20, a21, a22);
      WINO4_ROW(3, a30, a31, a32);
      WINO4_ROW(4, a40, a41, a42);
      WINO4_ROW(5, a50, a51, a52);
#undef WINO4_ROW
    }
  }
}

/*
 * Bᵀ·(d0..d5) on four lanes into m0..m5:
 * m0 = 4d0 − 5d2 + d4, m1 = (d3 + d4) − 4(d1 + d2), m2 = (d4 − d3) + 4(d1 − d2),
 * m3 = (d4 − d2) + 2(d3 − d1), m4 = (d4 − d2) − 2(d3 − d1), m5 = 4d1 − 5d3 + d5.
 */
#define WINO4_BT(d0, d1, d2, d3, d4, d5, m0, m1, m2, m3, m4, m5)                                     \
  do {                                                                                              \
    v128_t four_ = wasm_f32x4_splat(4.0f), five_ = wasm_f32x4_splat(5.0f), two_ = wasm_f32x4_splat(2.0f); \
    v128_t p_ = wasm_f32x4_add(d3, d4), q_ = wasm_f32x4_add(d1, d2);                                 \
    v128_t r_ = wasm_f32x4_sub(d4, d3), s_ = wasm_f32x4_sub(d1, d2);                                 \
    v128_t t_ = wasm_f32x4_sub(d4, d2), u_ = wasm_f32x4_mul(two_, wasm_f32x4_sub(d3, d1));           \
    m0 = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(four_, d0), wasm_f32x4_mul(five_, d2)), d4);   \
    m1 = wasm_f32x4_sub(p_, wasm_f32x4_mul(four_, q_));                                              \
    m2 = wasm_f32x4_add(r_, wasm_f32x4_mul(four_, s_));                                              \
    m3 = wasm_f32x4_add(t_, u_);                                                                    \
    m4 = wasm_f32x4_sub(t_, u_);                                                                    \
    m5 = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(four_, d1), wasm_f32x4_mul(five_, d3)), d5);   \
  } while (0)

/*
 * Bᵀ·d·B of output tile q's 6×6 input patch (zeros outside the image): element e of channels
 * ci..ci+3 goes to out + e·es + (ci/4)·cs. Pass 1 (per patch column) writes Bᵀ·d there, pass 2
 * (per row) reads it back and writes ·B.
 */
INLINE void wino4_input_tile(const float *x, u32 q, u32 H, u32 W, u32 Ci, u32 th, u32 tw, float *out,
                             unsigned long es, unsigned long cs) {
  v128_t zero = wasm_f32x4_splat(0.0f);
  u32 n = q / (th * tw), rem = q % (th * tw), ti = rem / tw, tj = rem % tw;
  int r0 = (int)(4 * ti) - 1, c0 = (int)(4 * tj) - 1;
  /* Bit r of rok / c of cok: patch row r / column c lies inside the image. */
  u32 rok = 0, cok = 0;
  for (u32 r = 0; r < 6; r++) {
    if (r0 + (int)r >= 0 && r0 + (int)r < (int)H) rok |= 1u << r;
    if (c0 + (int)r >= 0 && c0 + (int)r < (int)W) cok |= 1u << r;
  }
  int full = rok == 63 && cok == 63;
  /* Index of patch element (0, 0), negative at the top-left border: pointers are only formed
   * for elements inside the image. */
  int bi = (((int)(n * H) + r0) * (int)W + c0) * (int)Ci, rs = (int)(W * Ci);
  for (u32 ci = 0; ci < Ci; ci += 4) {
    float *o = out + (ci / 4) * cs;
    for (u32 c = 0; c < 6; c++) {
      int cb = bi + (int)(c * Ci + ci);
      v128_t d0, d1, d2, d3, d4, d5;
      if (full) {
        d0 = wasm_v128_load(x + (u32)cb);
        d1 = wasm_v128_load(x + (u32)(cb + rs));
        d2 = wasm_v128_load(x + (u32)(cb + 2 * rs));
        d3 = wasm_v128_load(x + (u32)(cb + 3 * rs));
        d4 = wasm_v128_load(x + (u32)(cb + 4 * rs));
        d5 = wasm_v128_load(x + (u32)(cb + 5 * rs));
      } else {
        u32 ok = (cok >> c) & 1 ? rok : 0;
        d0 = ok & 1 ? wasm_v128_load(x + (u32)cb) : zero;
        d1 = ok & 2 ? wasm_v128_load(x + (u32)(cb + rs)) : zero;
        d2 = ok & 4 ? wasm_v128_load(x + (u32)(cb + 2 * rs)) : zero;
        d3 = ok & 8 ? wasm_v128_load(x + (u32)(cb + 3 * rs)) : zero;
        d4 = ok & 16 ? wasm_v128_load(x + (u32)(cb + 4 * rs)) : zero;
        d5 = ok & 32 ? wasm_v128_load(x + (u32)(cb + 5 * rs)) : zero;
      }
      v128_t m0, m1, m2, m3, m4, m5;
      WINO4_BT(d0, d1, d2, d3, d4, d5, m0, m1, m2, m3, m4, m5);
      wasm_v128_store(o + c * es, m0);
      wasm_v128_store(o + (6 + c) * es, m1);
      wasm_v128_store(o + (12 + c) * es, m2);
      wasm_v128_store(o + (18 + c) * es, m3);
      wasm_v128_store(o + (24 + c) * es, m4);
      wasm_v128_store(o + (30 + c) * es, m5);
    }
    for (u32 r = 0; r < 6; r++) {
      float *orow = o + 6 * r * es;
      v128_t d0 = wasm_v128_load(orow), d1 = wasm_v128_load(orow + es), d2 = wasm_v128_load(orow + 2 * es);
      v128_t d3 = wasm_v128_load(orow + 3 * es), d4 = wasm_v128_load(orow + 4 * es), d5 = wasm_v128_load(orow + 5 * es);
      v128_t m0, m1, m2, m3, m4, m5;
      WINO4_BT(d0, d1, d2, d3, d4, d5, m0, m1, m2, m3, m4, m5);
      wasm_v128_store(orow, m0);
      wasm_v128_store(orow + es, m1);
      wasm_v128_store(orow + 2 * es, m2);
      wasm_v128_store(orow + 3 * es, m3);
      wasm_v128_store(orow + 4 * es, m4);
      wasm_v128_store(orow + 5 * es, m5);
    }
  }
}

/*
 * Aᵀ·(m0..m5) on four lanes into o0..o3: o0 = m0 + (m1 + m2) + (m3 + m4),
 * o1 = (m1 − m2) + 2(m3 − m4), o2 = (m1 + m2) + 4(m3 + m4), o3 = (m1 − m2) + 8(m3 − m4) + m5.
 */
#define WINO4_AT(m0, m1, m2, m3, m4, m5, o0, o1, o2, o3)                                             \
  do {                                                                                              \
    v128_t a_ = wasm_f32x4_add(m1, m2), b_ = wasm_f32x4_sub(m1, m2);                                 \
    v128_t c_ = wasm_f32x4_add(m3, m4), d_ = wasm_f32x4_sub(m3, m4);                                 \
    o0 = wasm_f32x4_add(wasm_f32x4_add(m0, a_), c_);                                                 \
    o1 = wasm_f32x4_add(b_, wasm_f32x4_mul(wasm_f32x4_splat(2.0f), d_));                             \
    o2 = wasm_f32x4_add(a_, wasm_f32x4_mul(wasm_f32x4_splat(4.0f), c_));                             \
    o3 = wasm_f32x4_add(wasm_f32x4_add(b_, wasm_f32x4_mul(wasm_f32x4_splat(8.0f), d_)), m5);         \
  } while (0)

EXPORT void conv2d_wino4(const float *x, const float *U, const float *bias, float *y, float *scratch, u32 q0, u32 q1,
                         u32 H, u32 W, u32 Ci, u32 Co, int relu) {
  u32 th = (H + 3) / 4, tw = (W + 3) / 4, nb = Co / 8;
  unsigned long vt = 36ul * Ci, mt = 36ul * Co;     /* floats per tile in V, M */
  float *V = scratch;                               /* [WINO4_T][36][Ci] */
  float *M = scratch + WINO4_T * vt;                /* [WINO4_T][36][Co] */
  v128_t zero = wasm_f32x4_splat(0.0f);
  for (u32 qa = q0; qa < q1; qa += WINO4_T) {
    u32 cnt = q1 - qa < WINO4_T ? q1 - qa : WINO4_T;
    u32 cnt4 = (cnt + 3) & ~3u;
    /* Input transform (tiles beyond cnt: zeros, for whole 4-row register tiles). */
    for (u32 t = 0; t < cnt4; t++) {
      float *v = V + t * vt;
      if (t >= cnt) {
        for (unsigned long i = 0; i < vt; i += 4) wasm_v128_store(v + i, zero);
        continue;
      }
      wino4_input_tile(x, qa + t, H, W, Ci, th, tw, v, Ci, 4);
    }
    /* 36 GEMMs: M[t][e][co] = Σ_ci V[t][e][ci] · U[e][ci][co]. */
    for (u32 e = 0; e < 36; e++) {
      for (u32 cb = 0; cb < nb; cb++) {
        const float *Ub = U + (unsigned long)(e * nb + cb) * Ci * 8;
        for (u32 t = 0; t < cnt4; t += 4) {
          const float *x0 = V + t * vt + e * Ci, *x1 = x0 + vt, *x2 = x1 + vt, *x3 = x2 + vt;
          v128_t c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero, c30 = zero, c31 = zero;
          const float *wp = Ub;
          for (u32 ci = 0; ci < Ci; ci++, wp += 8) {
            v128_t w0 = wasm_v128_load(wp), w1 = wasm_v128_load(wp + 4);
            TILE4X8_MAC(c, x0 + ci, x1 + ci, x2 + ci, x3 + ci, w0, w1);
          }
          float *o = M + t * mt + e * Co + cb * 8;
          TILE4X8_STORE(o, mt);
        }
      }
    }
    /* Output transform: pass 1 (per column c) overwrites M rows 0..3 of column c with Aᵀ·m,
     * pass 2 (per output row i) applies ·A and stores. */
    for (u32 t = 0; t < cnt; t++) {
      u32 q = qa + t, n = q / (th * tw), rem = q % (th * tw), ti = rem / tw, tj = rem % tw;
      u32 i0 = 4 * ti, j0 = 4 * tj;
      u32 rows = H - i0 < 4 ? H - i0 : 4, cols = W - j0 < 4 ? W - j0 : 4;
      float *y0 = y + (((unsigned long)n * H + i0) * W + j0) * Co;
      float *mc0 = M + t * mt;
      unsigned long ms = Co;
      for (u32 co = 0; co < Co; co += 4) {
        float *mc = mc0 + co;
        for (u32 c = 0; c < 6; c++) {
          v128_t m0 = wasm_v128_load(mc + c * ms), m1 = wasm_v128_load(mc + (6 + c) * ms);
          v128_t m2 = wasm_v128_load(mc + (12 + c) * ms), m3 = wasm_v128_load(mc + (18 + c) * ms);
          v128_t m4 = wasm_v128_load(mc + (24 + c) * ms), m5 = wasm_v128_load(mc + (30 + c) * ms);
          v128_t o0, o1, o2, o3;
          WINO4_AT(m0, m1, m2, m3, m4, m5, o0, o1, o2, o3);
          wasm_v128_store(mc + c * ms, o0);
          wasm_v128_store(mc + (6 + c) * ms, o1);
          wasm_v128_store(mc + (12 + c) * ms, o2);
          wasm_v128_store(mc + (18 + c) * ms, o3);
        }
        v128_t b = bias ? wasm_v128_load(bias + co) : zero;
        for (u32 i = 0; i < rows; i++) {
          float *mr = mc + 6 * i * ms;
          v128_t m0 = wasm_v128_load(mr), m1 = wasm_v128_load(mr + ms), m2 = wasm_v128_load(mr + 2 * ms);
          v128_t m3 = wasm_v128_load(mr + 3 * ms), m4 = wasm_v128_load(mr + 4 * ms), m5 = wasm_v128_load(mr + 5 * ms);
          v128_t o0, o1, o2, o3;
          WINO4_AT(m0, m1, m2, m3, m4, m5, o0, o1, o2, o3);
          o0 = wasm_f32x4_add(o0, b); o1 = wasm_f32x4_add(o1, b);
          o2 = wasm_f32x4_add(o2, b); o3 = wasm_f32x4_add(o3, b);
          if (relu) {
            o0 = wasm_f32x4_max(o0, zero); o1 = wasm_f32x4_max(o1, zero);
            o2 = wasm_f32x4_max(o2, zero); o3 = wasm_f32x4_max(o3, zero);
          }
          float *yr = y0 + (unsigned long)i * W * Co + co;
          wasm_v128_store(yr, o0);
          if (cols > 1) wasm_v128_store(yr + Co, o1);
          if (cols > 2) wasm_v128_store(yr + 2 * Co, o2);
          if (cols > 3) wasm_v128_store(yr + 3 * Co, o3);
        }
      }
    }
  }
}

/*
 * Filter gradient F(3×3, 4×4) for the same convolutions (3×3, stride 1, padding 1, Ci % 4 == 0,
 * Co % 8 == 0), the transpose of the forward's algorithm: per 4×4 tile of dy,
 * dW_tile = Gᵀ·[(A·dy·Aᵀ) ⊙ (Bᵀ·d·B)]·G with the forward's B and G (A·g = [g0, g0+g1+g2+g3,
 * g0−g1+g2−g3, g0+2g1+4g2+8g3, g0−2g1+4g2−8g3, g3]). conv2d_wino4_fgrad adds Σ over tiles
 * [q0, q1) of the 36 products into acc [36][Ci][Co] (zeroed first), WINO4_TF tiles at a time
 * packed as V [36][Ci/4][T][4] and D [36][Co/8][T][8] (4×8 register-tile panels, as winograd.c;
 * planes 16 floats further apart than their size so that a tile's 36 stores do not share one
 * L1 set); the input transform goes through a tile-major block first (wino4_input_tile's two
 * passes stay within 36·Ci floats). wino4_fgrad_out turns acc into dW [3, 3, Ci, Co].
 * scratch: 36·(WINO4_TF·(Ci + Co) + 2·WINO4_PAD + Ci) floats.
 */
#define WINO4_TF 32
#define WINO4_PAD 16

/* A·(g0..g3) on four lanes into D0..D5. */
#define WINO4_A(g0, g1, g2, g3, D0, D1, D2, D3, D4, D5)                                              \
  do {                                                                                              \
    v128_t e_ = wasm_f32x4_add(g0, g2), o_ = wasm_f32x4_add(g1, g3);                                 \
    v128_t e2_ = wasm_f32x4_add(g0, wasm_f32x4_mul(wasm_f32x4_splat(4.0f), g2));                     \
    v128_t o2_ = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_splat(2.0f), g1), wasm_f32x4_mul(wasm_f32x4_splat(8.0f), g3)); \
    D0 = g0; D1 = wasm_f32x4_add(e_, o_); D2 = wasm_f32x4_sub(e_, o_);                               \
    D3 = wasm_f32x4_add(e2_, o2_); D4 = wasm_f32x4_sub(e2_, o2_); D5 = g3;                           \
  } while (0)

EXPORT void conv2d_wino4_fgrad(const float *x, const float *dy, float *acc, float *scratch, u32 q0, u32 q1, u32 H,
                               u32 W, u32 Ci, u32 Co) {
  u32 th = (H + 3) / 4, tw = (W + 3) / 4;
  unsigned long vs = (unsigned long)WINO4_TF * Ci + WINO4_PAD, ds = (unsigned long)WINO4_TF * Co + WINO4_PAD;
  unsigned long as = (unsigned long)Ci * Co;
  float *V = scratch, *D = scratch + 36 * vs, *tmp = D + 36 * ds; /* tmp: [36][Ci] */
  v128_t zero = wasm_f32x4_splat(0.0f);
  for (unsigned long k = 0; k < 36 * as; k++) acc[k] = 0.0f;
  for (u32 qa = q0; qa < q1; qa += WINO4_TF) {
    u32 cnt = q1 - qa < WINO4_TF ? q1 - qa : WINO4_TF;
    for (u32 t = 0; t < cnt; t++) {
      u32 q = qa + t;
      wino4_input_tile(x, q, H, W, Ci, th, tw, tmp, Ci, 4);
      for (u32 e = 0; e < 36; e++)
        for (u32 ci = 0; ci < Ci; ci += 4)
          wasm_v128_store(V + e * vs + (unsigned long)ci * WINO4_TF + 4 * t, wasm_v128_load(tmp + e * Ci + ci));
      u32 n = q / (th * tw), rem = q % (th * tw), ti = rem / tw, tj = rem % tw;
      u32 i0 = 4 * ti, j0 = 4 * tj;
      u32 rows = H - i0 < 4 ? H - i0 : 4, cols = W - j0 < 4 ? W - j0 : 4;
      const float *y0 = dy + (((unsigned long)n * H + i0) * W + j0) * Co;
      for (u32 co = 0; co < Co; co += 4) {
        /* A·g along the tile's rows (per column j: c<j><k>), then along the columns (per row k). */
        float *o = D + (co / 8) * 8 * WINO4_TF + (co & 7) + 8 * t;
        v128_t c0a, c0b, c0c, c0d, c0e, c0f, c1a, c1b, c1c, c1d, c1e, c1f;
        v128_t c2a, c2b, c2c, c2d, c2e, c2f, c3a, c3b, c3c, c3d, c3e, c3f;
#define WINO4_LOAD(i, j) ((i) < rows && (j) < cols ? wasm_v128_load(y0 + ((unsigned long)(i) * W + (j)) * Co + co) : zero)
        WINO4_A(WINO4_LOAD(0, 0), WINO4_LOAD(1, 0), WINO4_LOAD(2, 0), WINO4_LOAD(3, 0), c0a, c0b, c0c, c0d, c0e, c0f);
        WINO4_A(WINO4_LOAD(0, 1), WINO4_LOAD(1, 1), WINO4_LOAD(2, 1), WINO4_LOAD(3, 1), c1a, c1b, c1c, c1d, c1e, c1f);
        WINO4_A(WINO4_LOAD(0, 2), WINO4_LOAD(1, 2), WINO4_LOAD(2, 2), WINO4_LOAD(3, 2), c2a, c2b, c2c, c2d, c2e, c2f);
        WINO4_A(WINO4_LOAD(0, 3), WINO4_LOAD(1, 3), WINO4_LOAD(2, 3), WINO4_LOAD(3, 3), c3a, c3b, c3c, c3d, c3e, c3f);
#undef WINO4_LOAD
#define WINO4_DROW(k, g0, g1, g2, g3)                                                               \
  do {                                                                                              \
    v128_t D0, D1, D2, D3, D4, D5;                                                                  \
    WINO4_A(g0, g1, g2, g3, D0, D1, D2, D3, D4, D5);                                                 \
    wasm_v128_store(o + (6 * (k)) * ds, D0); wasm_v128_store(o + (6 * (k) + 1) * ds, D1);           \
    wasm_v128_store(o + (6 * (k) + 2) * ds, D2); wasm_v128_store(o + (6 * (k) + 3) * ds, D3);       \
    wasm_v128_store(o + (6 * (k) + 4) * ds, D4); wasm_v128_store(o + (6 * (k) + 5) * ds, D5);       \
  } while (0)
        WINO4_DROW(0, c0a, c1a, c2a, c3a);
        WINO4_DROW(1, c0b, c1b, c2b, c3b);
        WINO4_DROW(2, c0c, c1c, c2c, c3c);
        WINO4_DROW(3, c0d, c1d, c2d, c3d);
        WINO4_DROW(4, c0e, c1e, c2e, c3e);
        WINO4_DROW(5, c0f, c1f, c2f, c3f);
#undef WINO4_DROW
      }
    }
    /* acc[e][ci][co] += Σ_t V[e][t][ci] · D[e][t][co]. */
    for (u32 e = 0; e < 36; e++) {
      for (u32 ci = 0; ci < Ci; ci += 4) {
        const float *vp = V + e * vs + (unsigned long)ci * WINO4_TF;
        for (u32 co = 0; co < Co; co += 8) {
          const float *dp = D + e * ds + (unsigned long)co * WINO4_TF;
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

/* Gᵀ·(p0..p5) on four lanes into w0..w2: w0 = p0/4 − (p1+p2)/6 + (p3+p4)/24,
 * w1 = −(p1−p2)/6 + (p3−p4)/12, w2 = ((p3+p4) − (p1+p2))/6 + p5. */
#define WINO4_GT(p0, p1, p2, p3, p4, p5, w0, w1, w2)                                                 \
  do {                                                                                              \
    v128_t s12_ = wasm_f32x4_add(p1, p2), d12_ = wasm_f32x4_sub(p1, p2);                             \
    v128_t s34_ = wasm_f32x4_add(p3, p4), d34_ = wasm_f32x4_sub(p3, p4);                             \
    w0 = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(wasm_f32x4_splat(0.25f), p0),                  \
                                       wasm_f32x4_mul(wasm_f32x4_splat(1.0f / 6.0f), s12_)),         \
                        wasm_f32x4_mul(wasm_f32x4_splat(1.0f / 24.0f), s34_));                       \
    w1 = wasm_f32x4_sub(wasm_f32x4_mul(wasm_f32x4_splat(1.0f / 12.0f), d34_),                        \
                        wasm_f32x4_mul(wasm_f32x4_splat(1.0f / 6.0f), d12_));                        \
    w2 = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_splat(1.0f / 6.0f), wasm_f32x4_sub(s34_, s12_)), p5); \
  } while (0)

EXPORT void wino4_fgrad_out(const float *acc, u32 Ci, u32 Co, float *dw) {
  unsigned long as = (unsigned long)Ci * Co;
  for (unsigned long k = 0; k < as; k += 4) {
    const float *m = acc + k;
    /* Gᵀ along the rows (per column l: r<a><l>), then along the columns. */
    v128_t r00, r10, r20, r01, r11, r21, r02, r12, r22, r03, r13, r23, r04, r14, r24, r05, r15, r25;
#define WINO4_COL(l, a0, a1, a2)                                                                    \
    WINO4_GT(wasm_v128_load(m + (l) * as), wasm_v128_load(m + (6 + (l)) * as), wasm_v128_load(m + (12 + (l)) * as), \
             wasm_v128_load(m + (18 + (l)) * as), wasm_v128_load(m + (24 + (l)) * as), wasm_v128_load(m + (30 + (l)) * as), \
             a0, a1, a2)
    WINO4_COL(0, r00, r10, r20);
    WINO4_COL(1, r01, r11, r21);
    WINO4_COL(2, r02, r12, r22);
    WINO4_COL(3, r03, r13, r23);
    WINO4_COL(4, r04, r14, r24);
    WINO4_COL(5, r05, r15, r25);
#undef WINO4_COL
    v128_t w0, w1, w2;
    WINO4_GT(r00, r01, r02, r03, r04, r05, w0, w1, w2);
    wasm_v128_store(dw + k, w0); wasm_v128_store(dw + as + k, w1); wasm_v128_store(dw + 2 * as + k, w2);
    WINO4_GT(r10, r11, r12, r13, r14, r15, w0, w1, w2);
    wasm_v128_store(dw + 3 * as + k, w0); wasm_v128_store(dw + 4 * as + k, w1); wasm_v128_store(dw + 5 * as + k, w2);
    WINO4_GT(r20, r21, r22, r23, r24, r25, w0, w1, w2);
    wasm_v128_store(dw + 6 * as + k, w0); wasm_v128_store(dw + 7 * as + k, w1); wasm_v128_store(dw + 8 * as + k, w2);
  }
}
