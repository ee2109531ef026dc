/*
 * Winograd F(2×2, 3×3): forward convolution and filter gradient.
 * Part of trainKernels.c (#included there, not compiled on its own; see kernels.h for the rules).
 */
#include "kernels.h"

/*
 * Winograd F(2×2, 3×3) forward convolution: 3×3 filter, stride 1, padding 1 on every side
 * (Ho = H, Wo = W), Ci a multiple of 4, Co a multiple of 8. 16 GEMMs of (tiles × Ci)·(Ci × Co)
 * replace the direct sum: 2.25× fewer multiplications (the direct kernel is bound by them).
 *
 * wino_weights: w [3, 3, Ci, Co] → U = G·g·Gᵀ per (ci, co), stored [16·Co/8][Ci][8] (tap e,
 * channel block cb at (e·Co/8 + cb)·Ci·8), G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1];
 * wino_weights_blocks builds the channel blocks [cb0, cb1) only (halves for two threads).
 *
 * conv2d_wino: output tiles [q0, q1) of the N·⌈H/2⌉·⌈W/2⌉ 2×2 tiles (image-major, row-major),
 * WINO_T at a time: V = Bᵀ·d·B of each tile's 4×4 input patch (zeros outside the image) into
 * scratch [16][T][Ci], M[e] = V[e]·U[e] into scratch [16][T][Co] with the forward conv's 4×8
 * register tile, then Y = Aᵀ·M·A (+ bias, relu) stored where inside the image.
 * scratch: 16·WINO_T·(Ci + Co) floats. bias may be 0.
 */
#define WINO_T 32

/* u = [g0, ½(g0+g1+g2), ½(g0−g1+g2), g2] (G·g for one column or row), on four lanes. */
#define WINO_GV(g0, g1, g2, u0, u1, u2, u3)                                                     \
  do {                                                                                        \
    u0 = (g0);                                                                                \
    u1 = wasm_f32x4_mul(half, wasm_f32x4_add(wasm_f32x4_add((g0), (g1)), (g2)));              \
    u2 = wasm_f32x4_mul(half, wasm_f32x4_add(wasm_f32x4_sub((g0), (g1)), (g2)));              \
    u3 = (g2);                                                                                \
  } while (0)

/*
 * Four output channels co..co+3 of input channel ci: g = w + ci·Co + co, u = their first U
 * element (tap e at u + e·eStride).
 */
INLINE void wino_weights4(const float *g, unsigned long tapStride, float *u, unsigned long eStride) {
  v128_t half = wasm_f32x4_splat(0.5f);
  v128_t a00, a10, a20, a30, a01, a11, a21, a31, a02, a12, a22, a32, v0, v1, v2, v3;
  WINO_GV(wasm_v128_load(g), wasm_v128_load(g + 3 * tapStride), wasm_v128_load(g + 6 * tapStride), a00, a10, a20, a30);
  WINO_GV(wasm_v128_load(g + tapStride), wasm_v128_load(g + 4 * tapStride), wasm_v128_load(g + 7 * tapStride), a01, a11, a21, a31);
  WINO_GV(wasm_v128_load(g + 2 * tapStride), wasm_v128_load(g + 5 * tapStride), wasm_v128_load(g + 8 * tapStride), a02, a12, a22, a32);
  WINO_GV(a00, a01, a02, v0, v1, v2, v3);
  wasm_v128_store(u, v0); wasm_v128_store(u + eStride, v1); wasm_v128_store(u + 2 * eStride, v2); wasm_v128_store(u + 3 * eStride, v3);
  WINO_GV(a10, a11, a12, v0, v1, v2, v3);
  wasm_v128_store(u + 4 * eStride, v0); wasm_v128_store(u + 5 * eStride, v1); wasm_v128_store(u + 6 * eStride, v2); wasm_v128_store(u + 7 * eStride, v3);
  WINO_GV(a20, a21, a22, v0, v1, v2, v3);
  wasm_v128_store(u + 8 * eStride, v0); wasm_v128_store(u + 9 * eStride, v1); wasm_v128_store(u + 10 * eStride, v2); wasm_v128_store(u + 11 * eStride, v3);
  WINO_GV(a30, a31, a32, v0, v1, v2, v3);
  wasm_v128_store(u + 12 * eStride, v0); wasm_v128_store(u + 13 * eStride, v1); wasm_v128_store(u + 14 * eStride, v2); wasm_v128_store(u + 15 * eStride, v3);
}

/*
 * Channel blocks [cb0, cb1) of 8 output channels (the helper thread builds the other half).
 * Four channels at a time, block by block with the input channels inner: the 16 taps' stores
 * run sequentially. Why: one channel at a time (scalar, 16 stores 16 KB apart for each co) took
 * 22.5 ms for 512→512, as long as the whole 32-tile Winograd GEMM it feeds; same arithmetic
 * per element, so the same U bit for bit.
 */
EXPORT void wino_weights_blocks(const float *w, u32 Ci, u32 Co, u32 cb0, u32 cb1, float *U) {
  u32 nb = Co / 8;
  unsigned long tapStride = (unsigned long)Ci * Co, eStride = (unsigned long)nb * Ci * 8;
  for (u32 cb = cb0; cb < cb1; cb++) {
    for (u32 ci = 0; ci < Ci; ci++) {
      const float *g = w + (unsigned long)ci * Co + cb * 8;
      float *u = U + ((unsigned long)cb * Ci + ci) * 8;
      wino_weights4(g, tapStride, u, eStride);
      wino_weights4(g + 4, tapStride, u + 4, eStride);
    }
  }
}

#undef WINO_GV

/* All Co/8 channel blocks. */
EXPORT void wino_weights(const float *w, u32 Ci, u32 Co, float *U) { wino_weights_blocks(w, Ci, Co, 0, Co / 8, U); }

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

/*
 * conv2d_wino_blocks: the output channel blocks [cb0, cb1) of 8 only (each thread transforms the
 * input tiles itself): the split for few tiles, e.g. ResNet's [8,4,4,512] layer has 32 tiles,
 * one block of WINO_T.
 */
EXPORT void conv2d_wino_blocks(const float *x, const float *U, const float *bias, float *y, float *scratch, u32 q0, u32 q1,
                               u32 cb0, u32 cb1, u32 H, u32 W, u32 Ci, u32 Co, int relu) {
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
      for (u32 cb = cb0; cb < cb1; cb++) {
        const float *Ub = U + (unsigned long)(e * nb + cb) * Ci * 8;
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
    /* Output transform. */
    for (u32 t = 0; t < cnt; t++) {
      u32 q = qa + t, n = q / (th * tw), rem = q % (th * tw), ti = rem / tw, tj = rem % tw;
      u32 i0 = 2 * ti, j0 = 2 * tj;
      int has_r1 = i0 + 1 < H, has_c1 = j0 + 1 < W;
      float *y00 = y + (((unsigned long)n * H + i0) * W + j0) * Co;
      float *y01 = y00 + Co, *y10 = y00 + (unsigned long)W * Co, *y11 = y10 + Co;
      const float *mt = M + (unsigned long)t * Co;
      for (u32 co = cb0 * 8; co < cb1 * 8; co += 4) {
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

EXPORT void conv2d_wino(const float *x, const float *U, const float *bias, float *y, float *scratch, u32 q0, u32 q1, u32 H,
                        u32 W, u32 Ci, u32 Co, int relu) {
  conv2d_wino_blocks(x, U, bias, y, scratch, q0, q1, 0, Co / 8, H, W, Ci, Co, relu);
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

EXPORT void conv2d_wino_fgrad(const float *x, const float *dy, float *acc, float *scratch, u32 q0, u32 q1, u32 H, u32 W,
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

EXPORT void wino_fgrad_out(const float *acc, u32 Ci, u32 Co, float *dw) {
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
