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
