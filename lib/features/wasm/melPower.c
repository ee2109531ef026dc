/*
 * Mel power spectrogram of a padded waveform, two frames at a time: WebAssembly SIMD with one
 * frame per float64 lane. It is lib/features/fft.ts (StftPlan.framePowerF64) and the sparse mel
 * product of lib/features/logmel.ts operation for operation, so the two give bit-identical
 * results: same plan, same evaluation order, no fused multiply-add (built with
 * -ffp-contract=off). Everything the loops read comes from JavaScript through `Plan`, the
 * constants included, so both sides use the very same doubles.
 *
 * The same module also makes the uint8 clip image from the dB matrix (`clip_image`, at the end),
 * on an instance and memory of its own (lib/features/image.ts).
 *
 * Freestanding: no libc, no static data, no allocation. The memory is imported: JavaScript sizes
 * it once per plan (growing a memory would detach its ArrayBuffer, which costs V8 a fast path for
 * every typed array in the thread) and lays out the plan, the work arrays and a chunk of input
 * and output there (see lib/features/melPowerWasm.ts).
 */
#include <stdint.h>
#include <wasm_simd128.h>

typedef v128_t f64x2;

/* Marks an exported function (scripts/build-wasm.ts reads the marked signatures). */
#define EXPORT

/* All fields 4 bytes (wasm32 pointers), in this order: JavaScript writes them by index. */
typedef struct {
  int32_t half;            /* n_fft / 2: length of the inner complex FFT */
  int32_t hop;
  int32_t n_stages;
  int32_t n_mels;
  const int32_t *off;      /* [half]: 2·perm[p], the frame offset of packed input p */
  const double *win;       /* [2·half]: window in packed order */
  const double *post_cos;  /* [half + 1] */
  const double *post_sin;
  const int32_t *radix;    /* [n_stages]; a radix 5 at stage 0 is fused with the load */
  const int32_t *m;        /* [n_stages]: sub-transform length */
  const int32_t *tw_at;    /* [n_stages]: index of the stage's twiddles in tw_re/tw_im */
  const double *tw_re;
  const double *tw_im;
  const double *k;         /* constants: cos 2π/5, cos 4π/5, sin 2π/5, sin 4π/5, sin 2π/3, √½ */
  double *z_re;            /* [2·half] work, lanes interleaved */
  double *z_im;
  double *power;           /* [2·(half + 1)] */
  const int32_t *mel_start;
  const int32_t *mel_length;
  const int32_t *mel_offset;
  const double *mel_weights;
} Plan;

#define LD(p, i) wasm_v128_load((p) + 2 * (i))
#define ST(p, i, v) wasm_v128_store((p) + 2 * (i), (v))
#define ADD wasm_f64x2_add
#define SUB wasm_f64x2_sub
#define MUL wasm_f64x2_mul
#define NEG wasm_f64x2_neg
#define SPLAT wasm_f64x2_splat

/* (x·wr − y·wi, x·wi + y·wr) with scalar twiddles, as the JavaScript writes it. */
#define TWIDDLE(xr, xi, wr, wi) do { \
    f64x2 t_ = SUB(MUL(xr, wr), MUL(xi, wi)); \
    xi = ADD(MUL(xr, wi), MUL(xi, wr)); xr = t_; } while (0)

static inline f64x2 load_pair(const float *x, int32_t a, int32_t b) {
  return wasm_f64x2_make((double)x[a], (double)x[b]);
}

/* Loading, windowing and the first radix-5 stage (no twiddles), frames at base0 and base1. */
static void first_radix5(const Plan *P, const float *x, int32_t base0, int32_t base1, int32_t lo, int32_t hi) {
  const int32_t *off = P->off;
  const double *w = P->win;
  double *zr = P->z_re, *zi = P->z_im;
  const f64x2 c1 = SPLAT(P->k[0]), c2 = SPLAT(P->k[1]), s1 = SPLAT(P->k[2]), s2 = SPLAT(P->k[3]);
  for (int32_t p = lo; p < hi; p += 5) {
    f64x2 ar0, ai0, ar1, ai1, ar2, ai2, ar3, ai3, ar4, ai4;
    /* (x[j], x[j+1]) of each frame as one 64-bit load, widened, windowed by (w_re, w_im), then
     * regrouped into the frames' real parts and imaginary parts. */
#define LOADQ(q) do { const int32_t j = off[p + q]; \
      const f64x2 wv = wasm_v128_load(w + 2 * (p + q)); \
      const f64x2 a0 = MUL(wasm_f64x2_promote_low_f32x4(wasm_v128_load64_zero(x + base0 + j)), wv); \
      const f64x2 a1 = MUL(wasm_f64x2_promote_low_f32x4(wasm_v128_load64_zero(x + base1 + j)), wv); \
      ar##q = wasm_i64x2_shuffle(a0, a1, 0, 2); ai##q = wasm_i64x2_shuffle(a0, a1, 1, 3); } while (0)
    LOADQ(0); LOADQ(1); LOADQ(2); LOADQ(3); LOADQ(4);
#undef LOADQ
    const f64x2 b1r = ADD(ar1, ar4), b1i = ADD(ai1, ai4), d1r = SUB(ar1, ar4), d1i = SUB(ai1, ai4);
    const f64x2 b2r = ADD(ar2, ar3), b2i = ADD(ai2, ai3), d2r = SUB(ar2, ar3), d2i = SUB(ai2, ai3);
    const f64x2 tr1 = ADD(ADD(ar0, MUL(c1, b1r)), MUL(c2, b2r)), ti1 = ADD(ADD(ai0, MUL(c1, b1i)), MUL(c2, b2i));
    const f64x2 tr2 = ADD(ADD(ar0, MUL(c2, b1r)), MUL(c1, b2r)), ti2 = ADD(ADD(ai0, MUL(c2, b1i)), MUL(c1, b2i));
    const f64x2 u1r = ADD(MUL(s1, d1r), MUL(s2, d2r)), u1i = ADD(MUL(s1, d1i), MUL(s2, d2i));
    const f64x2 u2r = SUB(MUL(s2, d1r), MUL(s1, d2r)), u2i = SUB(MUL(s2, d1i), MUL(s1, d2i));
    ST(zr, p, ADD(ADD(ar0, b1r), b2r)); ST(zi, p, ADD(ADD(ai0, b1i), b2i));
    ST(zr, p + 1, ADD(tr1, u1i)); ST(zi, p + 1, SUB(ti1, u1r));
    ST(zr, p + 4, SUB(tr1, u1i)); ST(zi, p + 4, ADD(ti1, u1r));
    ST(zr, p + 2, ADD(tr2, u2i)); ST(zi, p + 2, SUB(ti2, u2r));
    ST(zr, p + 3, SUB(tr2, u2i)); ST(zi, p + 3, ADD(ti2, u2r));
  }
}

/* Loading and windowing only, for plans that do not start with a radix 5. */
static void load_window(const Plan *P, const float *x, int32_t base0, int32_t base1, int32_t lo, int32_t hi) {
  const int32_t *off = P->off;
  const double *w = P->win;
  for (int32_t p = lo; p < hi; p++) {
    const int32_t j = off[p];
    ST(P->z_re, p, MUL(load_pair(x, base0 + j, base1 + j), SPLAT(w[2 * p])));
    ST(P->z_im, p, MUL(load_pair(x, base0 + j + 1, base1 + j + 1), SPLAT(w[2 * p + 1])));
  }
}

static void radix2(const Plan *P, int32_t m, const double *twr, const double *twi, int32_t lo, int32_t hi) {
  double *re = P->z_re, *im = P->z_im;
  const int32_t L = 2 * m;
  for (int32_t base = lo; base < hi; base += L) {
    for (int32_t j = 0; j < m; j++) {
      const int32_t i0 = base + j, i1 = i0 + m;
      const f64x2 wr = SPLAT(twr[j]), wi = SPLAT(twi[j]);
      const f64x2 xr = LD(re, i1), xi = LD(im, i1);
      const f64x2 br = SUB(MUL(xr, wr), MUL(xi, wi)), bi = ADD(MUL(xr, wi), MUL(xi, wr));
      const f64x2 ar = LD(re, i0), ai = LD(im, i0);
      ST(re, i0, ADD(ar, br)); ST(im, i0, ADD(ai, bi));
      ST(re, i1, SUB(ar, br)); ST(im, i1, SUB(ai, bi));
    }
  }
}

static void radix3(const Plan *P, int32_t m, const double *twr, const double *twi, int32_t lo, int32_t hi) {
  double *re = P->z_re, *im = P->z_im;
  const int32_t L = 3 * m;
  const f64x2 s3 = SPLAT(P->k[4]), h = SPLAT(0.5);
  for (int32_t base = lo; base < hi; base += L) {
    for (int32_t j = 0; j < m; j++) {
      const int32_t i0 = base + j, i1 = i0 + m, i2 = i1 + m;
      f64x2 a1r = LD(re, i1), a1i = LD(im, i1), a2r = LD(re, i2), a2i = LD(im, i2);
      if (m > 1) {
        TWIDDLE(a1r, a1i, SPLAT(twr[j]), SPLAT(twi[j]));
        TWIDDLE(a2r, a2i, SPLAT(twr[m + j]), SPLAT(twi[m + j]));
      }
      const f64x2 a0r = LD(re, i0), a0i = LD(im, i0);
      const f64x2 br = ADD(a1r, a2r), bi = ADD(a1i, a2i), dr = SUB(a1r, a2r), di = SUB(a1i, a2i);
      const f64x2 tr = SUB(a0r, MUL(h, br)), ti = SUB(a0i, MUL(h, bi));
      ST(re, i0, ADD(a0r, br)); ST(im, i0, ADD(a0i, bi));
      ST(re, i1, ADD(tr, MUL(s3, di))); ST(im, i1, SUB(ti, MUL(s3, dr)));
      ST(re, i2, SUB(tr, MUL(s3, di))); ST(im, i2, ADD(ti, MUL(s3, dr)));
    }
  }
}

static void radix4(const Plan *P, int32_t m, const double *twr, const double *twi, int32_t lo, int32_t hi) {
  double *re = P->z_re, *im = P->z_im;
  const int32_t L = 4 * m;
  for (int32_t j = 0; j < m; j++) {
    const f64x2 w1r = SPLAT(twr[j]), w1i = SPLAT(twi[j]), w2r = SPLAT(twr[m + j]), w2i = SPLAT(twi[m + j]);
    const f64x2 w3r = SPLAT(twr[2 * m + j]), w3i = SPLAT(twi[2 * m + j]);
    for (int32_t base = lo; base < hi; base += L) {
      const int32_t i0 = base + j, i1 = i0 + m, i2 = i1 + m, i3 = i2 + m;
      const f64x2 a0r = LD(re, i0), a0i = LD(im, i0);
      const f64x2 x1r = LD(re, i1), x1i = LD(im, i1), x2r = LD(re, i2), x2i = LD(im, i2), x3r = LD(re, i3), x3i = LD(im, i3);
      const f64x2 a1r = SUB(MUL(x1r, w1r), MUL(x1i, w1i)), a1i = ADD(MUL(x1r, w1i), MUL(x1i, w1r));
      const f64x2 a2r = SUB(MUL(x2r, w2r), MUL(x2i, w2i)), a2i = ADD(MUL(x2r, w2i), MUL(x2i, w2r));
      const f64x2 a3r = SUB(MUL(x3r, w3r), MUL(x3i, w3i)), a3i = ADD(MUL(x3r, w3i), MUL(x3i, w3r));
      const f64x2 t0r = ADD(a0r, a2r), t0i = ADD(a0i, a2i), t1r = SUB(a0r, a2r), t1i = SUB(a0i, a2i);
      const f64x2 t2r = ADD(a1r, a3r), t2i = ADD(a1i, a3i), t3r = SUB(a1r, a3r), t3i = SUB(a1i, a3i);
      ST(re, i0, ADD(t0r, t2r)); ST(im, i0, ADD(t0i, t2i));
      ST(re, i2, SUB(t0r, t2r)); ST(im, i2, SUB(t0i, t2i));
      ST(re, i1, ADD(t1r, t3i)); ST(im, i1, SUB(t1i, t3r));
      ST(re, i3, SUB(t1r, t3i)); ST(im, i3, ADD(t1i, t3r));
    }
  }
}

static void radix5(const Plan *P, int32_t m, const double *twr, const double *twi, int32_t lo, int32_t hi) {
  double *re = P->z_re, *im = P->z_im;
  const int32_t L = 5 * m;
  const f64x2 c1 = SPLAT(P->k[0]), c2 = SPLAT(P->k[1]), s1 = SPLAT(P->k[2]), s2 = SPLAT(P->k[3]);
  for (int32_t base = lo; base < hi; base += L) {
    for (int32_t j = 0; j < m; j++) {
      const int32_t i0 = base + j, i1 = i0 + m, i2 = i1 + m, i3 = i2 + m, i4 = i3 + m;
      f64x2 a1r = LD(re, i1), a1i = LD(im, i1), a2r = LD(re, i2), a2i = LD(im, i2);
      f64x2 a3r = LD(re, i3), a3i = LD(im, i3), a4r = LD(re, i4), a4i = LD(im, i4);
      if (m > 1) {
        TWIDDLE(a1r, a1i, SPLAT(twr[j]), SPLAT(twi[j]));
        TWIDDLE(a2r, a2i, SPLAT(twr[m + j]), SPLAT(twi[m + j]));
        TWIDDLE(a3r, a3i, SPLAT(twr[2 * m + j]), SPLAT(twi[2 * m + j]));
        TWIDDLE(a4r, a4i, SPLAT(twr[3 * m + j]), SPLAT(twi[3 * m + j]));
      }
      const f64x2 a0r = LD(re, i0), a0i = LD(im, i0);
      const f64x2 b1r = ADD(a1r, a4r), b1i = ADD(a1i, a4i), d1r = SUB(a1r, a4r), d1i = SUB(a1i, a4i);
      const f64x2 b2r = ADD(a2r, a3r), b2i = ADD(a2i, a3i), d2r = SUB(a2r, a3r), d2i = SUB(a2i, a3i);
      const f64x2 tr1 = ADD(ADD(a0r, MUL(c1, b1r)), MUL(c2, b2r)), ti1 = ADD(ADD(a0i, MUL(c1, b1i)), MUL(c2, b2i));
      const f64x2 tr2 = ADD(ADD(a0r, MUL(c2, b1r)), MUL(c1, b2r)), ti2 = ADD(ADD(a0i, MUL(c2, b1i)), MUL(c1, b2i));
      const f64x2 u1r = ADD(MUL(s1, d1r), MUL(s2, d2r)), u1i = ADD(MUL(s1, d1i), MUL(s2, d2i));
      const f64x2 u2r = SUB(MUL(s2, d1r), MUL(s1, d2r)), u2i = SUB(MUL(s2, d1i), MUL(s1, d2i));
      ST(re, i0, ADD(ADD(a0r, b1r), b2r)); ST(im, i0, ADD(ADD(a0i, b1i), b2i));
      ST(re, i1, ADD(tr1, u1i)); ST(im, i1, SUB(ti1, u1r));
      ST(re, i4, SUB(tr1, u1i)); ST(im, i4, ADD(ti1, u1r));
      ST(re, i2, ADD(tr2, u2i)); ST(im, i2, SUB(ti2, u2r));
      ST(re, i3, SUB(tr2, u2i)); ST(im, i3, ADD(ti2, u2r));
    }
  }
}

static void radix8(const Plan *P, int32_t m, const double *twr, const double *twi, int32_t lo, int32_t hi) {
  double *re = P->z_re, *im = P->z_im;
  const int32_t L = 8 * m;
  const f64x2 r = SPLAT(P->k[5]);
  for (int32_t j = 0; j < m; j++) {
    f64x2 wr[8], wi[8];
    for (int q = 1; q < 8; q++) { wr[q] = SPLAT(twr[(q - 1) * m + j]); wi[q] = SPLAT(twi[(q - 1) * m + j]); }
    for (int32_t base = lo; base < hi; base += L) {
      const int32_t i0 = base + j;
      f64x2 ar[8], ai[8];
      for (int q = 0; q < 8; q++) { ar[q] = LD(re, i0 + q * m); ai[q] = LD(im, i0 + q * m); }
      if (j > 0) for (int q = 1; q < 8; q++) TWIDDLE(ar[q], ai[q], wr[q], wi[q]);
      const f64x2 b0r = ADD(ar[0], ar[4]), b0i = ADD(ai[0], ai[4]), b1r = SUB(ar[0], ar[4]), b1i = SUB(ai[0], ai[4]);
      const f64x2 b2r = ADD(ar[2], ar[6]), b2i = ADD(ai[2], ai[6]), b3r = SUB(ar[2], ar[6]), b3i = SUB(ai[2], ai[6]);
      const f64x2 b4r = ADD(ar[1], ar[5]), b4i = ADD(ai[1], ai[5]), b5r = SUB(ar[1], ar[5]), b5i = SUB(ai[1], ai[5]);
      const f64x2 b6r = ADD(ar[3], ar[7]), b6i = ADD(ai[3], ai[7]), b7r = SUB(ar[3], ar[7]), b7i = SUB(ai[3], ai[7]);
      const f64x2 e0r = ADD(b0r, b2r), e0i = ADD(b0i, b2i), e2r = SUB(b0r, b2r), e2i = SUB(b0i, b2i);
      const f64x2 e1r = ADD(b1r, b3i), e1i = SUB(b1i, b3r), e3r = SUB(b1r, b3i), e3i = ADD(b1i, b3r);
      const f64x2 o0r = ADD(b4r, b6r), o0i = ADD(b4i, b6i), o2r = SUB(b4r, b6r), o2i = SUB(b4i, b6i);
      const f64x2 o1r = ADD(b5r, b7i), o1i = SUB(b5i, b7r), o3r = SUB(b5r, b7i), o3i = ADD(b5i, b7r);
      const f64x2 p1r = MUL(r, ADD(o1r, o1i)), p1i = MUL(r, SUB(o1i, o1r));
      const f64x2 p2r = o2i, p2i = NEG(o2r);
      /* −SQRT1_2·(o3r + o3i) in JavaScript is (−SQRT1_2)·(…): negating the product is the same double. */
      const f64x2 p3r = MUL(r, SUB(o3i, o3r)), p3i = NEG(MUL(r, ADD(o3r, o3i)));
      ST(re, i0, ADD(e0r, o0r)); ST(im, i0, ADD(e0i, o0i));
      ST(re, i0 + 4 * m, SUB(e0r, o0r)); ST(im, i0 + 4 * m, SUB(e0i, o0i));
      ST(re, i0 + m, ADD(e1r, p1r)); ST(im, i0 + m, ADD(e1i, p1i));
      ST(re, i0 + 5 * m, SUB(e1r, p1r)); ST(im, i0 + 5 * m, SUB(e1i, p1i));
      ST(re, i0 + 2 * m, ADD(e2r, p2r)); ST(im, i0 + 2 * m, ADD(e2i, p2i));
      ST(re, i0 + 6 * m, SUB(e2r, p2r)); ST(im, i0 + 6 * m, SUB(e2i, p2i));
      ST(re, i0 + 3 * m, ADD(e3r, p3r)); ST(im, i0 + 3 * m, ADD(e3i, p3i));
      ST(re, i0 + 7 * m, SUB(e3r, p3r)); ST(im, i0 + 7 * m, SUB(e3i, p3i));
    }
  }
}

/* Stages [from, to) of the plan on the groups in [lo, hi). */
static void run_stages(const Plan *P, int32_t from, int32_t to, int32_t lo, int32_t hi) {
  for (int32_t s = from; s < to; s++) {
    const int32_t m = P->m[s];
    const double *twr = P->tw_re + P->tw_at[s], *twi = P->tw_im + P->tw_at[s];
    switch (P->radix[s]) {
      case 2: radix2(P, m, twr, twi, lo, hi); break;
      case 3: radix3(P, m, twr, twi, lo, hi); break;
      case 4: radix4(P, m, twr, twi, lo, hi); break;
      case 5: radix5(P, m, twr, twi, lo, hi); break;
      default: radix8(P, m, twr, twi, lo, hi); break;
    }
  }
}

/* Most complex values per depth-first block: 512 · 2 frames · 16 bytes = 16 KiB of z_re and z_im. */
#define BLOCK 512

/* |X[k]|² of both frames from the packed complex FFT (the real-FFT untangle). */
static void untangle_power(const Plan *P) {
  const int32_t half = P->half;
  const double *zr = P->z_re, *zi = P->z_im;
  double *out = P->power;
  const f64x2 h = SPLAT(0.5), mh = SPLAT(-0.5);
  const f64x2 z0r = LD(zr, 0), z0i = LD(zi, 0);
  const f64x2 s = ADD(z0r, z0i), d = SUB(z0r, z0i);
  ST(out, 0, MUL(s, s));
  ST(out, half, MUL(d, d));
  for (int32_t k = 1, b = half - 1; k <= b; k++, b--) {
    const f64x2 ar = LD(zr, k), ai = LD(zi, k), br = LD(zr, b), bi = LD(zi, b);
    const f64x2 er = MUL(h, ADD(ar, br)), ei = MUL(h, SUB(ai, bi));
    const f64x2 or_ = MUL(h, ADD(ai, bi)), oi = MUL(mh, SUB(ar, br));
    const f64x2 c = SPLAT(P->post_cos[k]), sn = SPLAT(P->post_sin[k]);
    const f64x2 wr = ADD(MUL(c, or_), MUL(sn, oi)), wi = SUB(MUL(c, oi), MUL(sn, or_));
    const f64x2 xr = ADD(er, wr), xi = ADD(ei, wi), yr = SUB(er, wr), yi = SUB(wi, ei);
    ST(out, k, ADD(MUL(xr, xr), MUL(xi, xi)));
    ST(out, b, ADD(MUL(yr, yr), MUL(yi, yi)));
  }
}

/*
 * Mel power of frames [0, frames) of `padded` into out[m·out_stride + t] (float64, `[n_mels][…]`).
 * Every stage must be a radix 2, 3, 4, 5 or 8 (JavaScript checks before it calls).
 */
EXPORT void mel_power(const Plan *P, const float *padded, int32_t frames, double *out, int32_t out_stride) {
  const int32_t n_mels = P->n_mels;
  for (int32_t t = 0; t < frames; t += 2) {
    const int32_t pair = t + 1 < frames;
    const int32_t base0 = t * P->hop, base1 = pair ? base0 + P->hop : base0;
    const int32_t fused = P->radix[0] == 5;
    /* Depth first: the stages whose groups span at most BLOCK complex values run block by block
     * (each block's work arrays stay in the level-1 cache), the rest over the whole array. Every
     * butterfly reads and writes the same values as stage by stage: the same bits. */
    int32_t deep = 0, span = 1;
    while (deep < P->n_stages && span * P->radix[deep] <= BLOCK) span *= P->radix[deep++];
    for (int32_t lo = 0; lo < P->half; lo += span) {
      if (fused) first_radix5(P, padded, base0, base1, lo, lo + span);
      else load_window(P, padded, base0, base1, lo, lo + span);
      run_stages(P, fused, deep, lo, lo + span);
    }
    run_stages(P, deep, P->n_stages, 0, P->half);
    untangle_power(P);
    const double *pw = P->power;
    for (int32_t mm = 0; mm < n_mels; mm++) {
      /* Two accumulators (even and odd bins) as in JavaScript, each a pair of frames. */
      f64x2 acc0 = SPLAT(0.0), acc1 = SPLAT(0.0);
      const int32_t k0 = P->mel_start[mm], o = P->mel_offset[mm], len = P->mel_length[mm];
      const double *wt = P->mel_weights + o;
      int32_t j = 0;
      for (; j + 1 < len; j += 2) {
        acc0 = ADD(acc0, MUL(SPLAT(wt[j]), LD(pw, k0 + j)));
        acc1 = ADD(acc1, MUL(SPLAT(wt[j + 1]), LD(pw, k0 + j + 1)));
      }
      if (j < len) acc0 = ADD(acc0, MUL(SPLAT(wt[j]), LD(pw, k0 + j)));
      const f64x2 sum = ADD(acc0, acc1);
      double *dst = out + mm * out_stride + t;
      dst[0] = wasm_f64x2_extract_lane(sum, 0);
      if (pair) dst[1] = wasm_f64x2_extract_lane(sum, 1);
    }
  }
}

/*
 * The uint8 clip image of a float32 dB matrix (lib/features/image.ts dbToImage): numpy 1.24's
 * float32 mean and std of the three stacked channels, z-score, min-max, truncation. Every step
 * is the float32 operation numpy does (a float32 add, sub, mul or div is the double one rounded
 * once, so it equals JavaScript's Math.fround(a op b)); the pairwise sums keep numpy's order,
 * their eight accumulators two f32x4 vectors. The same bytes as the JavaScript loop.
 */

/*
 * numpy sums the stacked array X = stack([D, D, D], -1), whose element T is D[T / 3] (floor). It
 * is not written out: four consecutive elements from T = 12u + w (w = 0, 4, 8) come from the four
 * values D[4u .. 4u + 4) as (0, 0, 0, 1), (1, 1, 2, 2) or (2, 3, 3, 3), one load and one shuffle
 * (10 s clip: the stack's writes and reads were 3.7 MB of memory traffic per image). With
 * `squares`, X of the float32 squares (D − mean)² instead, as numpy's second pass. Loads may read
 * up to three floats past D's end (inside the module's memory; never summed).
 */
static inline v128_t stacked4(const float *d, int32_t t, int32_t squares, v128_t mean) {
  const int32_t u = t / 12, w = t - 12 * u;
  v128_t v = wasm_v128_load(d + 4 * u);
  if (squares) { v = wasm_f32x4_sub(v, mean); v = wasm_f32x4_mul(v, v); }
  if (w == 0) return wasm_i32x4_shuffle(v, v, 0, 0, 0, 1);
  if (w == 4) return wasm_i32x4_shuffle(v, v, 1, 1, 2, 2);
  return wasm_i32x4_shuffle(v, v, 2, 3, 3, 3);
}

static inline float stacked1(const float *d, int32_t t, int32_t squares, float mean) {
  const float v = d[t / 3];
  if (!squares) return v;
  const float e = v - mean;
  return e * e;
}

/* numpy's pairwise_sum_FLOAT of X[t0 .. t0 + n) (t0 a multiple of 4): blocks of <= 128 with eight
 * accumulators as two f32x4, halves split on multiples of 8. */
static float pairwise_sum(const float *d, int32_t t0, int32_t n, int32_t squares, float mean) {
  if (n < 8) {
    float res = 0.0f;
    for (int32_t i = 0; i < n; i++) res = res + stacked1(d, t0 + i, squares, mean);
    return res;
  }
  if (n <= 128) {
    const v128_t vm = wasm_f32x4_splat(mean);
    v128_t r03 = stacked4(d, t0, squares, vm), r47 = stacked4(d, t0 + 4, squares, vm);
    const int32_t end = n - (n % 8);
    int32_t i = 8;
    for (; i < end; i += 8) {
      r03 = wasm_f32x4_add(r03, stacked4(d, t0 + i, squares, vm));
      r47 = wasm_f32x4_add(r47, stacked4(d, t0 + i + 4, squares, vm));
    }
    const float r0 = wasm_f32x4_extract_lane(r03, 0), r1 = wasm_f32x4_extract_lane(r03, 1);
    const float r2 = wasm_f32x4_extract_lane(r03, 2), r3 = wasm_f32x4_extract_lane(r03, 3);
    const float r4 = wasm_f32x4_extract_lane(r47, 0), r5 = wasm_f32x4_extract_lane(r47, 1);
    const float r6 = wasm_f32x4_extract_lane(r47, 2), r7 = wasm_f32x4_extract_lane(r47, 3);
    float res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
    for (; i < n; i++) res = res + stacked1(d, t0 + i, squares, mean);
    return res;
  }
  int32_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(d, t0, n2, squares, mean) + pairwise_sum(d, t0 + n2, n - n2, squares, mean);
}

/* np.add.reduce of X[0 .. count): chunks of 8192 (numpy's buffer), each pairwise. */
static float numpy_sum(const float *d, int32_t count, int32_t squares, float mean) {
  float total = 0.0f;
  for (int32_t s = 0; s < count; s += 8192) total = total + pairwise_sum(d, s, count - s < 8192 ? count - s : 8192, squares, mean);
  return total;
}

/*
 * db[0..n) → out[0..n) (uint8), with the work array z[n]. eps: the std's epsilon (the
 * reference's 1e-6, a double as in numpy < 2).
 */
EXPORT void clip_image(const float *db, int32_t n, double eps, float *z, uint8_t *out) {
  const int32_t count = 3 * n;
  const float mean = (float)((double)numpy_sum(db, count, 0, 0.0f) / (double)count);
  const float std = (float)__builtin_sqrt((double)(float)((double)numpy_sum(db, count, 1, mean) / (double)count));
  const float divisor = (float)((double)std + eps);
  /* Running min and max as JavaScript's `v < mn`, `v > mx` (NaN skipped): pmin/pmax per lane. */
  const v128_t vmean = wasm_f32x4_splat(mean), vdiv = wasm_f32x4_splat(divisor);
  v128_t vmn = wasm_f32x4_splat(__builtin_inff()), vmx = wasm_f32x4_splat(-__builtin_inff());
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t v = wasm_f32x4_div(wasm_f32x4_sub(wasm_v128_load(db + i), vmean), vdiv);
    wasm_v128_store(z + i, v);
    vmn = wasm_f32x4_pmin(vmn, v);
    vmx = wasm_f32x4_pmax(vmx, v);
  }
  float mn = __builtin_inff(), mx = -__builtin_inff();
#define FOLD_LANE(q) do { \
    const float a_ = wasm_f32x4_extract_lane(vmn, q), b_ = wasm_f32x4_extract_lane(vmx, q); \
    if (a_ < mn) mn = a_; \
    if (b_ > mx) mx = b_; } while (0)
  FOLD_LANE(0); FOLD_LANE(1); FOLD_LANE(2); FOLD_LANE(3);
#undef FOLD_LANE
  for (; i < n; i++) {
    const float v = (db[i] - mean) / divisor;
    z[i] = v;
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  const float range = mx - mn;
  if (!((double)range > 1e-6)) {
    for (int32_t j = 0; j < n; j++) out[j] = 0;
    return;
  }
  for (int32_t j = 0; j < n; j++) out[j] = (uint8_t)(int32_t)((255.0f * (z[j] - mn)) / range);
}

/*
 * power_to_db (lib/features/image.ts powerToDb): 10·log10 as DB_PER_NEPER·ln, ln being fdlibm's
 * __ieee754_log, which is V8's Math.log bit for bit (checked on 4.2 million values; the test
 * compares this kernel with the JavaScript loop). Two values per f64x2: every branch of fdlibm
 * is computed and the lane's own is selected, so each lane gets the double that the scalar code
 * returns. Inputs are max(amin, p) with amin a normal double (JavaScript checks), so the
 * subnormal, zero and negative cases of fdlibm never occur; NaN and +inf come back as x + x.
 */
static v128_t log_f64x2(v128_t x) {
  const v128_t ln2_hi = SPLAT(6.93147180369123816490e-01), ln2_lo = SPLAT(1.90821492927058770002e-10);
  const v128_t lg1 = SPLAT(6.666666666666735130e-01), lg2 = SPLAT(3.999999999940941908e-01);
  const v128_t lg3 = SPLAT(2.857142874366239149e-01), lg4 = SPLAT(2.222219843214978396e-01);
  const v128_t lg5 = SPLAT(1.818357216161805012e-01), lg6 = SPLAT(1.531383769920937332e-01);
  const v128_t lg7 = SPLAT(1.479819860511658591e-01);
  const v128_t one = SPLAT(1.0), two = SPLAT(2.0), half = SPLAT(0.5), third = SPLAT(0.33333333333333333);
  /* The high word (x is positive, or a NaN: logical shifts, native on x86 where the arithmetic
   * i64x2 shift is emulated). */
  const v128_t hx = wasm_u64x2_shr(x, 32);
  const v128_t special = wasm_i64x2_ge(hx, wasm_i64x2_splat(0x7ff00000));
  v128_t k = wasm_i64x2_sub(wasm_u64x2_shr(hx, 20), wasm_i64x2_splat(1023));
  const v128_t hxm = wasm_v128_and(hx, wasm_i64x2_splat(0x000fffff));
  const v128_t i = wasm_v128_and(wasm_i64x2_add(hxm, wasm_i64x2_splat(0x95f64)), wasm_i64x2_splat(0x100000));
  const v128_t hi = wasm_v128_or(hxm, wasm_v128_xor(i, wasm_i64x2_splat(0x3ff00000)));
  const v128_t xn = wasm_v128_or(wasm_i64x2_shl(hi, 32), wasm_v128_and(x, wasm_i64x2_splat(0xffffffff)));
  k = wasm_i64x2_add(k, wasm_u64x2_shr(i, 20));
  const v128_t k0 = wasm_i64x2_eq(k, wasm_i64x2_splat(0));
  const v128_t dk = wasm_f64x2_convert_low_i32x4(wasm_i32x4_shuffle(k, k, 0, 2, 0, 2));
  const v128_t f = SUB(xn, one);
  const v128_t s = wasm_f64x2_div(f, ADD(two, f));
  const v128_t z = MUL(s, s);
  const v128_t w = MUL(z, z);
  const v128_t ij = wasm_v128_or(wasm_i64x2_sub(hxm, wasm_i64x2_splat(0x6147a)), wasm_i64x2_sub(wasm_i64x2_splat(0x6b851), hxm));
  const v128_t pos = wasm_i64x2_gt(ij, wasm_i64x2_splat(0));
  const v128_t t1 = MUL(w, ADD(lg2, MUL(w, ADD(lg4, MUL(w, lg6)))));
  const v128_t t2 = MUL(z, ADD(lg1, MUL(w, ADD(lg3, MUL(w, ADD(lg5, MUL(w, lg7)))))));
  const v128_t R = ADD(t2, t1);
  const v128_t hfsq = MUL(MUL(half, f), f);
  const v128_t shR = MUL(s, ADD(hfsq, R)), sfR = MUL(s, SUB(f, R));
  /* k != 0 forms; the k == 0 ones (x in [0.7, 1.4)) and the short path (x within 2^-20 of a power
   * of two) only when a lane needs them: both are rare for power spectra. */
  v128_t r = wasm_v128_bitselect(SUB(MUL(dk, ln2_hi), SUB(SUB(hfsq, ADD(shR, MUL(dk, ln2_lo))), f)),
    SUB(MUL(dk, ln2_hi), SUB(SUB(sfR, MUL(dk, ln2_lo)), f)), pos);
  if (wasm_v128_any_true(k0)) {
    r = wasm_v128_bitselect(wasm_v128_bitselect(SUB(f, SUB(hfsq, shR)), SUB(f, sfR), pos), r, k0);
  }
  /* -2**-20 <= f < 2**-20 */
  const v128_t tiny = wasm_i64x2_lt(wasm_v128_and(wasm_i64x2_add(hxm, wasm_i64x2_splat(2)), wasm_i64x2_splat(0x000fffff)), wasm_i64x2_splat(3));
  if (wasm_v128_any_true(tiny)) {
    const v128_t fzero = wasm_f64x2_eq(f, SPLAT(0.0));
    const v128_t tz = wasm_v128_bitselect(SPLAT(0.0), ADD(MUL(dk, ln2_hi), MUL(dk, ln2_lo)), k0);
    const v128_t Rt = MUL(MUL(f, f), SUB(half, MUL(third, f)));
    const v128_t tn = wasm_v128_bitselect(SUB(f, Rt), SUB(MUL(dk, ln2_hi), SUB(SUB(Rt, MUL(dk, ln2_lo)), f)), k0);
    r = wasm_v128_bitselect(wasm_v128_bitselect(tz, tn, fzero), r, tiny);
  }
  return wasm_v128_bitselect(ADD(x, x), r, special);
}

/*
 * ln x to about 1e-12 (absolute) for positive normal x: fdlibm's reduction (the same k and f),
 * then ln(1 + f) = 2·atanh(s), s = f / (2 + f), |s| <= 0.1716, as 2s·(1 + z/3 + … + z⁶/13),
 * z = s² (the rest of the series is below 4.5e-13; the roundings add ~1e-13, mostly k·ln2's,
 * which is split in fdlibm's two parts). About
 * half of log_f64x2's work: no second form for the mantissas near √2, no k = 0 or tiny-f
 * branches. power_to_db uses it where the float32 dB value it gives cannot differ from the exact
 * one's (see there).
 */
static v128_t log_fast_f64x2(v128_t x) {
  const v128_t hx = wasm_u64x2_shr(x, 32);
  v128_t k = wasm_i64x2_sub(wasm_u64x2_shr(hx, 20), wasm_i64x2_splat(1023));
  const v128_t hxm = wasm_v128_and(hx, wasm_i64x2_splat(0x000fffff));
  const v128_t i = wasm_v128_and(wasm_i64x2_add(hxm, wasm_i64x2_splat(0x95f64)), wasm_i64x2_splat(0x100000));
  const v128_t hi = wasm_v128_or(hxm, wasm_v128_xor(i, wasm_i64x2_splat(0x3ff00000)));
  const v128_t xn = wasm_v128_or(wasm_i64x2_shl(hi, 32), wasm_v128_and(x, wasm_i64x2_splat(0xffffffff)));
  k = wasm_i64x2_add(k, wasm_u64x2_shr(i, 20));
  const v128_t dk = wasm_f64x2_convert_low_i32x4(wasm_i32x4_shuffle(k, k, 0, 2, 0, 2));
  const v128_t f = SUB(xn, SPLAT(1.0));
  const v128_t s = wasm_f64x2_div(f, ADD(SPLAT(2.0), f));
  const v128_t z = MUL(s, s);
  /* Estrin's scheme: a shorter dependency chain than Horner's (the pass is latency-bound). */
  const v128_t z2 = MUL(z, z), z4 = MUL(z2, z2);
  const v128_t p01 = ADD(SPLAT(2.0), MUL(z, SPLAT(2.0 / 3.0))), p23 = ADD(SPLAT(2.0 / 5.0), MUL(z, SPLAT(2.0 / 7.0)));
  const v128_t p45 = ADD(SPLAT(2.0 / 9.0), MUL(z, SPLAT(2.0 / 11.0)));
  const v128_t q = ADD(ADD(p01, MUL(z2, p23)), MUL(z4, ADD(p45, MUL(z2, SPLAT(2.0 / 13.0)))));
  const v128_t t = MUL(s, q);
  return ADD(MUL(dk, SPLAT(6.93147180369123816490e-01)), ADD(t, MUL(dk, SPLAT(1.90821492927058770002e-10))));
}

/* The largest of p[0..n) as JavaScript's `if (v > max) max = v` from −inf (NaN skipped). */
EXPORT double max_f64(const double *p, int32_t n) {
  v128_t m = SPLAT(-__builtin_inf());
  int32_t i = 0;
  for (; i + 2 <= n; i += 2) { const v128_t v = LD(p, i / 2); m = wasm_v128_bitselect(v, m, wasm_f64x2_gt(v, m)); }
  double best = -__builtin_inf();
  const double a = wasm_f64x2_extract_lane(m, 0), b = wasm_f64x2_extract_lane(m, 1);
  if (a > best) best = a;
  if (b > best) best = b;
  for (; i < n; i++) if (p[i] > best) best = p[i];
  return best;
}

/*
 * out[i] = float32(scale·ln(max(amin, p[i])) − ref_db), raised to `floor` when clip (NaN too, as
 * `v > floor ? v : floor` does); clip 0: no floor. work: [n] doubles.
 *
 * Two passes. The first takes log_fast_f64x2 for every pair into work: its dB value v' is within
 * 1e-11 dB of the exact v (ln within ~1e-12 of fdlibm's, which is within an ulp of ln, times
 * scale ≈ 4.34, plus the roundings of v). float32(v') is float32(v) unless v' lies that close to a float32 rounding midpoint,
 * where the 29 mantissa bits that the rounding drops are 2^28. The second pass sends a pair to
 * the exact log_f64x2 when a lane's dropped bits lie within 2^20 of 2^28 (2^20 ulps of v', at
 * least 2.3e-10 dB for |v'| >= 1, so |v'| < 1 goes exact too), or the floor lies within 1e-9 dB,
 * or x is NaN or infinite (a 10 s clip: ~0.5 % of the pairs). The same bits as the exact log
 * alone. Why two passes: the log is a long dependency chain, and a loop of nothing but fast
 * logs overlaps more of them (0.48 ms for a 10 s clip) than one that also checks and rounds
 * (0.74 ms, no faster than the exact log's 0.78).
 */
EXPORT void power_to_db(const double *p, int32_t n, double amin, double scale, double ref_db, double floor, int32_t clip, float *out, double *work) {
  const v128_t va = SPLAT(amin), vs = SPLAT(scale), vr = SPLAT(ref_db), vf = SPLAT(floor);
  int32_t i = 0;
  for (; i + 2 <= n; i += 2) ST(work, i / 2, SUB(MUL(vs, log_fast_f64x2(wasm_f64x2_max(va, LD(p, i / 2)))), vr));
  const v128_t guard = SPLAT(1e-9), one = SPLAT(1.0), inf = SPLAT(__builtin_inf());
  const v128_t vf_hi = ADD(vf, guard), vf_lo = SUB(vf, guard);
  const v128_t mid_shift = wasm_i64x2_splat((1 << 20) - (1 << 28)), dropped = wasm_i64x2_splat((1 << 29) - 1);
  const v128_t window = wasm_i64x2_splat(1 << 21);
  for (int32_t j = 0; j + 2 <= n; j += 2) {
    v128_t v = LD(work, j / 2);
    v128_t exact = wasm_v128_or(wasm_i64x2_lt(wasm_v128_and(wasm_i64x2_add(v, mid_shift), dropped), window),
                                wasm_f64x2_lt(wasm_f64x2_abs(v), one));
    if (clip) {
      const v128_t below = wasm_f64x2_lt(v, vf_lo);
      exact = wasm_v128_or(wasm_v128_andnot(exact, below), wasm_v128_andnot(wasm_f64x2_le(v, vf_hi), below));
    }
    const v128_t x = wasm_f64x2_max(va, LD(p, j / 2));
    exact = wasm_v128_or(exact, wasm_v128_not(wasm_f64x2_lt(x, inf)));
    if (wasm_v128_any_true(exact)) v = SUB(MUL(vs, log_f64x2(x)), vr);
    if (clip) v = wasm_v128_bitselect(v, vf, wasm_f64x2_gt(v, vf));
    wasm_v128_store64_lane(out + j, wasm_f32x4_demote_f64x2_zero(v), 0);
  }
  for (; i < n; i++) {
    v128_t v = SUB(MUL(vs, log_f64x2(wasm_f64x2_max(va, SPLAT(p[i])))), vr);
    if (clip) v = wasm_v128_bitselect(v, vf, wasm_f64x2_gt(v, vf));
    out[i] = (float)wasm_f64x2_extract_lane(v, 0);
  }
}

/*
 * Sums of squares of `count` consecutive blocks of `hop` samples (hop a multiple of 4) starting at
 * x: out[b] = x[b·hop]² + x[b·hop + 1]² + … in float64, each block one sequential chain from 0
 * (lib/features/trim.ts trimSilence, the same bits). Two blocks per f64x2, eight in flight: a
 * chain waits on its own add, so independent chains keep the adder busy.
 */
static inline v128_t square_sum4(v128_t s, v128_t a, v128_t b) {
  /* (a0, b0), (a1, b1), (a2, b2), (a3, b3) in turn, each widened, squared and added. */
  const v128_t lo = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), hi = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7);
  const v128_t v0 = wasm_f64x2_promote_low_f32x4(lo), v1 = wasm_f64x2_promote_low_f32x4(wasm_i64x2_shuffle(lo, lo, 1, 0));
  const v128_t v2 = wasm_f64x2_promote_low_f32x4(hi), v3 = wasm_f64x2_promote_low_f32x4(wasm_i64x2_shuffle(hi, hi, 1, 0));
  s = ADD(s, MUL(v0, v0));
  s = ADD(s, MUL(v1, v1));
  s = ADD(s, MUL(v2, v2));
  return ADD(s, MUL(v3, v3));
}

EXPORT void block_sums(const float *x, int32_t hop, int32_t count, double *out) {
  int32_t b = 0;
  for (; b + 8 <= count; b += 8) {
    const float *p = x + b * hop;
    v128_t s0 = SPLAT(0.0), s1 = SPLAT(0.0), s2 = SPLAT(0.0), s3 = SPLAT(0.0);
    for (int32_t i = 0; i < hop; i += 4) {
      s0 = square_sum4(s0, wasm_v128_load(p + i), wasm_v128_load(p + hop + i));
      s1 = square_sum4(s1, wasm_v128_load(p + 2 * hop + i), wasm_v128_load(p + 3 * hop + i));
      s2 = square_sum4(s2, wasm_v128_load(p + 4 * hop + i), wasm_v128_load(p + 5 * hop + i));
      s3 = square_sum4(s3, wasm_v128_load(p + 6 * hop + i), wasm_v128_load(p + 7 * hop + i));
    }
    ST(out + b, 0, s0); ST(out + b, 1, s1); ST(out + b, 2, s2); ST(out + b, 3, s3);
  }
  for (; b + 2 <= count; b += 2) {
    const float *p = x + b * hop;
    v128_t s = SPLAT(0.0);
    for (int32_t i = 0; i < hop; i += 4) s = square_sum4(s, wasm_v128_load(p + i), wasm_v128_load(p + hop + i));
    ST(out + b, 0, s);
  }
  for (; b < count; b++) {
    const float *p = x + b * hop;
    double s = 0.0;
    for (int32_t i = 0; i < hop; i++) s = s + (double)p[i] * (double)p[i];
    out[b] = s;
  }
}
