/**
 * A float64 real FFT for any even length whose half factors into small primes (2560 = 2 × 5 × 4⁴
 * for the reference n_fft), written for the STFT hot loop: split re/im arrays, a precomputed
 * mixed-radix plan (radix 8, 5, 4, 3, 2 butterflies, a plain DFT for other primes), no allocation
 * per call. fft.js handles only powers of two, which is why this exists.
 *
 * Method: the N real inputs are packed as N/2 complex values z[n] = x[2n] + i·x[2n+1], a
 * decimation-in-time complex FFT of length N/2 runs on them (inputs loaded in mixed-radix
 * digit-reversed order), and the N/2 + 1 spectrum bins are untangled from the result.
 */

/** One stage of the mixed-radix plan (read by the WebAssembly mel-power kernel too). */
export interface Stage {
  radix: number;
  /** Length of the sub-transforms this stage combines. */
  m: number;
  /** Twiddles w_L^{j·q}, L = m · radix, at `(q − 1) · m + j` for q = 1..radix−1, j = 0..m−1. */
  twRe: Float64Array;
  twIm: Float64Array;
}

/** A precomputed real-FFT plan for length `n` (reused across frames and clips). */
export class RealFft {
  readonly n: number;
  /** n / 2: length of the inner complex FFT. */
  readonly half: number;
  /** Number of output bins, n / 2 + 1. */
  readonly bins: number;
  /** perm[p] = index n' of the packed complex input stored at position p. */
  readonly perm: Int32Array;
  readonly stages: Stage[];
  /** Untangle twiddles cos(2πk/n), sin(2πk/n), k = 0..n/2. */
  readonly postCos: Float64Array;
  readonly postSin: Float64Array;
  /** Work buffers of the complex FFT, `[half]` each. */
  readonly zRe: Float64Array;
  readonly zIm: Float64Array;

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 2 || n % 2 !== 0) throw new Error(`RealFft: n must be an even integer >= 2, got ${n}`);
    this.n = n;
    const half = n / 2;
    this.half = half;
    this.bins = half + 1;
    const factors = factorize(half);
    this.perm = digitReversal(half, factors);
    this.stages = [];
    let m = 1;
    for (const radix of factors) {
      const L = m * radix;
      const twRe = new Float64Array((radix - 1) * m);
      const twIm = new Float64Array((radix - 1) * m);
      for (let q = 1; q < radix; q++) {
        for (let j = 0; j < m; j++) {
          const a = (-2 * Math.PI * j * q) / L;
          twRe[(q - 1) * m + j] = Math.cos(a);
          twIm[(q - 1) * m + j] = Math.sin(a);
        }
      }
      this.stages.push({ radix, m, twRe, twIm });
      m = L;
    }
    this.postCos = new Float64Array(half + 1);
    this.postSin = new Float64Array(half + 1);
    for (let k = 0; k <= half; k++) {
      this.postCos[k] = Math.cos((2 * Math.PI * k) / n);
      this.postSin[k] = Math.sin((2 * Math.PI * k) / n);
    }
    this.zRe = new Float64Array(half);
    this.zIm = new Float64Array(half);
  }

  /**
   * Spectrum of the real signal `x[0..n)`: X[k] = Σ x[j] e^{−2πi jk/n}, k = 0..n/2.
   * @param x input `[n]`
   * @param outRe real parts `[n/2 + 1]`
   * @param outIm imaginary parts `[n/2 + 1]`
   */
  forward(x: ArrayLike<number>, outRe: Float64Array, outIm: Float64Array): void {
    const { perm, zRe, zIm, half } = this;
    for (let p = 0; p < half; p++) {
      const j = perm[p] << 1;
      zRe[p] = x[j];
      zIm[p] = x[j + 1];
    }
    this.transformPacked(outRe, outIm);
  }

  /**
   * Runs the complex FFT on `zRe/zIm`, already filled in digit-reversed order
   * (`z[p] = x[2·perm[p]] + i·x[2·perm[p] + 1]`), and writes the n/2 + 1 bins.
   * Lets the STFT fuse framing, windowing and packing into one pass.
   */
  transformPacked(outRe: Float64Array, outIm: Float64Array): void {
    this.runStages();
    this.untangle(outRe, outIm);
  }

  /**
   * Like {@link transformPacked} but writes only the power |X[k]|² (float64) of the n/2 + 1
   * bins: the untangle and the squares in one pass, no spectrum arrays.
   */
  powerPacked(out: Float64Array): void {
    this.runStages();
    this.untanglePower(out);
  }

  private untanglePower(out: Float64Array): void {
    const { zRe, zIm, half, postCos, postSin } = this;
    const z0r = zRe[0], z0i = zIm[0];
    out[0] = (z0r + z0i) * (z0r + z0i);
    out[half] = (z0r - z0i) * (z0r - z0i);
    for (let k = 1, b = half - 1; k <= b; k++, b--) {
      const ar = zRe[k], ai = zIm[k], br = zRe[b], bi = zIm[b];
      const er = 0.5 * (ar + br), ei = 0.5 * (ai - bi);
      const or = 0.5 * (ai + bi), oi = -0.5 * (ar - br);
      const c = postCos[k], s = postSin[k];
      const wr = c * or + s * oi, wi = c * oi - s * or;
      const xr = er + wr, xi = ei + wi, yr = er - wr, yi = wi - ei;
      out[k] = xr * xr + xi * xi;
      out[b] = yr * yr + yi * yi;
    }
  }

  /**
   * Power |X[k]|² (float64) of the real frame `x[base + j]·window[j]`, j < n, into `out[n/2 + 1]`.
   * `winPacked` holds the window in the packed input order: `winPacked[2p + e] = window[2·perm[p] + e]`.
   * Loading, windowing and the first radix-5 stage (no twiddles) run in one pass when the
   * plan starts with a 5 (the reference n_fft 2560 does): one pass over the work arrays fewer.
   */
  powerWindowed(x: Float32Array, base: number, winPacked: Float64Array, out: Float64Array): void {
    const { zRe, zIm, half, perm } = this;
    const first = this.stages[0];
    if (first !== undefined && first.radix === 5) {
      for (let p = 0; p < half; p += 5) {
        const j0 = base + 2 * perm[p], j1 = base + 2 * perm[p + 1], j2 = base + 2 * perm[p + 2];
        const j3 = base + 2 * perm[p + 3], j4 = base + 2 * perm[p + 4];
        const w = 2 * p;
        const a0r = x[j0] * winPacked[w], a0i = x[j0 + 1] * winPacked[w + 1];
        const a1r = x[j1] * winPacked[w + 2], a1i = x[j1 + 1] * winPacked[w + 3];
        const a2r = x[j2] * winPacked[w + 4], a2i = x[j2 + 1] * winPacked[w + 5];
        const a3r = x[j3] * winPacked[w + 6], a3i = x[j3 + 1] * winPacked[w + 7];
        const a4r = x[j4] * winPacked[w + 8], a4i = x[j4 + 1] * winPacked[w + 9];
        const b1r = a1r + a4r, b1i = a1i + a4i, d1r = a1r - a4r, d1i = a1i - a4i;
        const b2r = a2r + a3r, b2i = a2i + a3i, d2r = a2r - a3r, d2i = a2i - a3i;
        const tr1 = a0r + C5_1 * b1r + C5_2 * b2r, ti1 = a0i + C5_1 * b1i + C5_2 * b2i;
        const tr2 = a0r + C5_2 * b1r + C5_1 * b2r, ti2 = a0i + C5_2 * b1i + C5_1 * b2i;
        const u1r = S5_1 * d1r + S5_2 * d2r, u1i = S5_1 * d1i + S5_2 * d2i;
        const u2r = S5_2 * d1r - S5_1 * d2r, u2i = S5_2 * d1i - S5_1 * d2i;
        zRe[p] = a0r + b1r + b2r; zIm[p] = a0i + b1i + b2i;
        zRe[p + 1] = tr1 + u1i; zIm[p + 1] = ti1 - u1r;
        zRe[p + 4] = tr1 - u1i; zIm[p + 4] = ti1 + u1r;
        zRe[p + 2] = tr2 + u2i; zIm[p + 2] = ti2 - u2r;
        zRe[p + 3] = tr2 - u2i; zIm[p + 3] = ti2 + u2r;
      }
      this.runStages(1);
    } else {
      for (let p = 0; p < half; p++) {
        const j = base + 2 * perm[p];
        zRe[p] = x[j] * winPacked[2 * p];
        zIm[p] = x[j + 1] * winPacked[2 * p + 1];
      }
      this.runStages(0);
    }
    this.untanglePower(out);
  }

  private runStages(from = 0): void {
    const { zRe, zIm, half } = this;
    for (let i = from; i < this.stages.length; i++) {
      const st = this.stages[i];
      if (st.radix === 4) radix4(zRe, zIm, half, st);
      else if (st.radix === 8) radix8(zRe, zIm, half, st);
      else if (st.radix === 2) radix2(zRe, zIm, half, st);
      else if (st.radix === 5) radix5(zRe, zIm, half, st);
      else if (st.radix === 3) radix3(zRe, zIm, half, st);
      else radixGeneric(zRe, zIm, half, st);
    }
  }

  private untangle(outRe: Float64Array, outIm: Float64Array): void {
    const { zRe, zIm, half } = this;
    // Untangle: X[k] = E + W^k·O with E = (Z[k] + conj Z[h−k]) / 2, O = (Z[k] − conj Z[h−k]) / 2i,
    // and X[h−k] = conj(E − W^k·O), so each pass of the loop yields two bins.
    const { postCos, postSin } = this;
    const z0r = zRe[0], z0i = zIm[0];
    outRe[0] = z0r + z0i; outIm[0] = 0;
    outRe[half] = z0r - z0i; outIm[half] = 0;
    for (let k = 1, b = half - 1; k <= b; k++, b--) {
      const ar = zRe[k], ai = zIm[k], br = zRe[b], bi = zIm[b];
      const er = 0.5 * (ar + br), ei = 0.5 * (ai - bi);
      const or = 0.5 * (ai + bi), oi = -0.5 * (ar - br);
      const c = postCos[k], s = postSin[k];
      const wr = c * or + s * oi, wi = c * oi - s * or;
      outRe[k] = er + wr; outIm[k] = ei + wi;
      outRe[b] = er - wr; outIm[b] = wi - ei;
    }
  }
}

/**
 * Factors n into radices: odd primes first (the first stage needs no twiddles), then the power of
 * two as 4s, with one 8 when it is an odd power (2^3 and up) and a 2 only for a lone factor 2.
 * Radix 4 over radix 8: the WebAssembly kernel (128-bit vectors, 16 registers on x86) ran the
 * 1280-point FFT of n_fft 2560 as [5, 4, 4, 4, 4] in 4.25-4.31 ms CPU a 10 s clip against
 * 4.82-4.93 ms as [5, 8, 8, 4] (the JavaScript loop, the fallback without SIMD: 17.4 against
 * 15.8 ms). The rounding moves the float64 mel power by ≤ 2.5e-14 relative: on the 8 golden
 * inputs and the 4 bench clips not one float32 dB value or image pixel changed.
 */
function factorize(n: number): number[] {
  const odd: number[] = [];
  let r = n;
  for (const p of [5, 3]) while (r % p === 0) { odd.push(p); r /= p; }
  let twosCount = 0;
  while (r % 2 === 0) { twosCount++; r /= 2; }
  for (let p = 7; p * p <= r; p += 2) while (r % p === 0) { odd.push(p); r /= p; }
  if (r > 1) odd.push(r);
  const twos: number[] = [];
  if (twosCount >= 3 && twosCount % 2 === 1) { twos.push(8); twosCount -= 3; }
  for (; twosCount >= 2; twosCount -= 2) twos.push(4);
  if (twosCount === 1) twos.push(2);
  return [...odd, ...twos];
}

/**
 * Input order of the iterative DIT FFT: the last stage combines `radix` sub-transforms of the
 * decimated sequences x[q], x[q + radix], ..., stored one after another; recursively.
 */
function digitReversal(n: number, factors: number[]): Int32Array {
  const perm = new Int32Array(n);
  const rec = (p: number, size: number, k: number): number => {
    if (k < 0) return 0;
    const r = factors[k];
    const sub = size / r;
    const q = Math.floor(p / sub);
    return q + r * rec(p - q * sub, sub, k - 1);
  };
  for (let p = 0; p < n; p++) perm[p] = rec(p, n, factors.length - 1);
  return perm;
}

function radix2(re: Float64Array, im: Float64Array, n: number, st: Stage): void {
  const { m, twRe, twIm } = st;
  const L = 2 * m;
  for (let base = 0; base < n; base += L) {
    for (let j = 0; j < m; j++) {
      const i0 = base + j, i1 = i0 + m;
      const wr = twRe[j], wi = twIm[j];
      const br = re[i1] * wr - im[i1] * wi, bi = re[i1] * wi + im[i1] * wr;
      const ar = re[i0], ai = im[i0];
      re[i0] = ar + br; im[i0] = ai + bi;
      re[i1] = ar - br; im[i1] = ai - bi;
    }
  }
}

function radix4(re: Float64Array, im: Float64Array, n: number, st: Stage): void {
  const { m, twRe, twIm } = st;
  const L = 4 * m;
  for (let j = 0; j < m; j++) {
    const w1r = twRe[j], w1i = twIm[j], w2r = twRe[m + j], w2i = twIm[m + j], w3r = twRe[2 * m + j], w3i = twIm[2 * m + j];
    for (let base = 0; base < n; base += L) {
      const i0 = base + j, i1 = i0 + m, i2 = i1 + m, i3 = i2 + m;
      const a0r = re[i0], a0i = im[i0];
      const a1r = re[i1] * w1r - im[i1] * w1i, a1i = re[i1] * w1i + im[i1] * w1r;
      const a2r = re[i2] * w2r - im[i2] * w2i, a2i = re[i2] * w2i + im[i2] * w2r;
      const a3r = re[i3] * w3r - im[i3] * w3i, a3i = re[i3] * w3i + im[i3] * w3r;
      const t0r = a0r + a2r, t0i = a0i + a2i, t1r = a0r - a2r, t1i = a0i - a2i;
      const t2r = a1r + a3r, t2i = a1i + a3i, t3r = a1r - a3r, t3i = a1i - a3i;
      re[i0] = t0r + t2r; im[i0] = t0i + t2i;
      re[i2] = t0r - t2r; im[i2] = t0i - t2i;
      re[i1] = t1r + t3i; im[i1] = t1i - t3r;
      re[i3] = t1r - t3i; im[i3] = t1i + t3r;
    }
  }
}

export const SQRT1_2 = Math.SQRT1_2;

function radix8(re: Float64Array, im: Float64Array, n: number, st: Stage): void {
  const { m, twRe, twIm } = st;
  const L = 8 * m;
  // j outer: each butterfly column's 7 twiddles are loaded once, not once per block.
  for (let j = 0; j < m; j++) {
    const w1r = twRe[j], w1i = twIm[j], w2r = twRe[m + j], w2i = twIm[m + j];
    const w3r = twRe[2 * m + j], w3i = twIm[2 * m + j], w4r = twRe[3 * m + j], w4i = twIm[3 * m + j];
    const w5r = twRe[4 * m + j], w5i = twIm[4 * m + j], w6r = twRe[5 * m + j], w6i = twIm[5 * m + j];
    const w7r = twRe[6 * m + j], w7i = twIm[6 * m + j];
    for (let base = 0; base < n; base += L) {
      const i0 = base + j;
      const a0r = re[i0], a0i = im[i0];
      let a1r = re[i0 + m], a1i = im[i0 + m], a2r = re[i0 + 2 * m], a2i = im[i0 + 2 * m];
      let a3r = re[i0 + 3 * m], a3i = im[i0 + 3 * m], a4r = re[i0 + 4 * m], a4i = im[i0 + 4 * m];
      let a5r = re[i0 + 5 * m], a5i = im[i0 + 5 * m], a6r = re[i0 + 6 * m], a6i = im[i0 + 6 * m];
      let a7r = re[i0 + 7 * m], a7i = im[i0 + 7 * m];
      if (j > 0) { // column 0: every twiddle is 1
        let t = a1r * w1r - a1i * w1i; a1i = a1r * w1i + a1i * w1r; a1r = t;
        t = a2r * w2r - a2i * w2i; a2i = a2r * w2i + a2i * w2r; a2r = t;
        t = a3r * w3r - a3i * w3i; a3i = a3r * w3i + a3i * w3r; a3r = t;
        t = a4r * w4r - a4i * w4i; a4i = a4r * w4i + a4i * w4r; a4r = t;
        t = a5r * w5r - a5i * w5i; a5i = a5r * w5i + a5i * w5r; a5r = t;
        t = a6r * w6r - a6i * w6i; a6i = a6r * w6i + a6i * w6r; a6r = t;
        t = a7r * w7r - a7i * w7i; a7i = a7r * w7i + a7i * w7r; a7r = t;
      }
      const b0r = a0r + a4r, b0i = a0i + a4i, b1r = a0r - a4r, b1i = a0i - a4i;
      const b2r = a2r + a6r, b2i = a2i + a6i, b3r = a2r - a6r, b3i = a2i - a6i;
      const b4r = a1r + a5r, b4i = a1i + a5i, b5r = a1r - a5r, b5i = a1i - a5i;
      const b6r = a3r + a7r, b6i = a3i + a7i, b7r = a3r - a7r, b7i = a3i - a7i;
      // Even half E (DFT-4 of a0, a2, a4, a6) and odd half O (of a1, a3, a5, a7).
      const e0r = b0r + b2r, e0i = b0i + b2i, e2r = b0r - b2r, e2i = b0i - b2i;
      const e1r = b1r + b3i, e1i = b1i - b3r, e3r = b1r - b3i, e3i = b1i + b3r;
      const o0r = b4r + b6r, o0i = b4i + b6i, o2r = b4r - b6r, o2i = b4i - b6i;
      const o1r = b5r + b7i, o1i = b5i - b7r, o3r = b5r - b7i, o3i = b5i + b7r;
      // W8^1·O1 = √½((x + y) + i(y − x)), W8^2·O2 = y − ix, W8^3·O3 = √½((y − x) − i(x + y)).
      const p1r = SQRT1_2 * (o1r + o1i), p1i = SQRT1_2 * (o1i - o1r);
      const p2r = o2i, p2i = -o2r;
      const p3r = SQRT1_2 * (o3i - o3r), p3i = -SQRT1_2 * (o3r + o3i);
      re[i0] = e0r + o0r; im[i0] = e0i + o0i;
      re[i0 + 4 * m] = e0r - o0r; im[i0 + 4 * m] = e0i - o0i;
      re[i0 + m] = e1r + p1r; im[i0 + m] = e1i + p1i;
      re[i0 + 5 * m] = e1r - p1r; im[i0 + 5 * m] = e1i - p1i;
      re[i0 + 2 * m] = e2r + p2r; im[i0 + 2 * m] = e2i + p2i;
      re[i0 + 6 * m] = e2r - p2r; im[i0 + 6 * m] = e2i - p2i;
      re[i0 + 3 * m] = e3r + p3r; im[i0 + 3 * m] = e3i + p3i;
      re[i0 + 7 * m] = e3r - p3r; im[i0 + 7 * m] = e3i - p3i;
    }
  }
}

/** Butterfly constants, exported so the WebAssembly kernel multiplies by the very same doubles. */
export const C5_1 = Math.cos((2 * Math.PI) / 5), C5_2 = Math.cos((4 * Math.PI) / 5);
export const S5_1 = Math.sin((2 * Math.PI) / 5), S5_2 = Math.sin((4 * Math.PI) / 5);

function radix5(re: Float64Array, im: Float64Array, n: number, st: Stage): void {
  const { m, twRe, twIm } = st;
  const L = 5 * m;
  for (let base = 0; base < n; base += L) {
    for (let j = 0; j < m; j++) {
      const i0 = base + j, i1 = i0 + m, i2 = i1 + m, i3 = i2 + m, i4 = i3 + m;
      let a1r = re[i1], a1i = im[i1], a2r = re[i2], a2i = im[i2], a3r = re[i3], a3i = im[i3], a4r = re[i4], a4i = im[i4];
      if (m > 1) {
        let wr = twRe[j], wi = twIm[j], t = a1r * wr - a1i * wi; a1i = a1r * wi + a1i * wr; a1r = t;
        wr = twRe[m + j]; wi = twIm[m + j]; t = a2r * wr - a2i * wi; a2i = a2r * wi + a2i * wr; a2r = t;
        wr = twRe[2 * m + j]; wi = twIm[2 * m + j]; t = a3r * wr - a3i * wi; a3i = a3r * wi + a3i * wr; a3r = t;
        wr = twRe[3 * m + j]; wi = twIm[3 * m + j]; t = a4r * wr - a4i * wi; a4i = a4r * wi + a4i * wr; a4r = t;
      }
      const a0r = re[i0], a0i = im[i0];
      const b1r = a1r + a4r, b1i = a1i + a4i, d1r = a1r - a4r, d1i = a1i - a4i;
      const b2r = a2r + a3r, b2i = a2i + a3i, d2r = a2r - a3r, d2i = a2i - a3i;
      const tr1 = a0r + C5_1 * b1r + C5_2 * b2r, ti1 = a0i + C5_1 * b1i + C5_2 * b2i;
      const tr2 = a0r + C5_2 * b1r + C5_1 * b2r, ti2 = a0i + C5_2 * b1i + C5_1 * b2i;
      // y1 = t1 − i·u1, y4 = t1 + i·u1 with u1 = s1·d1 + s2·d2; y2 = t2 − i·u2, y3 = t2 + i·u2, u2 = s2·d1 − s1·d2.
      const u1r = S5_1 * d1r + S5_2 * d2r, u1i = S5_1 * d1i + S5_2 * d2i;
      const u2r = S5_2 * d1r - S5_1 * d2r, u2i = S5_2 * d1i - S5_1 * d2i;
      re[i0] = a0r + b1r + b2r; im[i0] = a0i + b1i + b2i;
      re[i1] = tr1 + u1i; im[i1] = ti1 - u1r;
      re[i4] = tr1 - u1i; im[i4] = ti1 + u1r;
      re[i2] = tr2 + u2i; im[i2] = ti2 - u2r;
      re[i3] = tr2 - u2i; im[i3] = ti2 + u2r;
    }
  }
}

export const S3 = Math.sin((2 * Math.PI) / 3);

function radix3(re: Float64Array, im: Float64Array, n: number, st: Stage): void {
  const { m, twRe, twIm } = st;
  const L = 3 * m;
  for (let base = 0; base < n; base += L) {
    for (let j = 0; j < m; j++) {
      const i0 = base + j, i1 = i0 + m, i2 = i1 + m;
      let a1r = re[i1], a1i = im[i1], a2r = re[i2], a2i = im[i2];
      if (m > 1) {
        let wr = twRe[j], wi = twIm[j], t = a1r * wr - a1i * wi; a1i = a1r * wi + a1i * wr; a1r = t;
        wr = twRe[m + j]; wi = twIm[m + j]; t = a2r * wr - a2i * wi; a2i = a2r * wi + a2i * wr; a2r = t;
      }
      const a0r = re[i0], a0i = im[i0];
      const br = a1r + a2r, bi = a1i + a2i, dr = a1r - a2r, di = a1i - a2i;
      const tr = a0r - 0.5 * br, ti = a0i - 0.5 * bi;
      re[i0] = a0r + br; im[i0] = a0i + bi;
      re[i1] = tr + S3 * di; im[i1] = ti - S3 * dr;
      re[i2] = tr - S3 * di; im[i2] = ti + S3 * dr;
    }
  }
}

function radixGeneric(re: Float64Array, im: Float64Array, n: number, st: Stage): void {
  const { radix: r, m, twRe, twIm } = st;
  const L = r * m;
  const xr = new Float64Array(r), xi = new Float64Array(r);
  const cr = new Float64Array(r), ci = new Float64Array(r);
  for (let k = 0; k < r; k++) { cr[k] = Math.cos((-2 * Math.PI * k) / r); ci[k] = Math.sin((-2 * Math.PI * k) / r); }
  for (let base = 0; base < n; base += L) {
    for (let j = 0; j < m; j++) {
      for (let q = 0; q < r; q++) {
        const i = base + j + q * m;
        if (q === 0) { xr[0] = re[i]; xi[0] = im[i]; continue; }
        const wr = twRe[(q - 1) * m + j], wi = twIm[(q - 1) * m + j];
        xr[q] = re[i] * wr - im[i] * wi; xi[q] = re[i] * wi + im[i] * wr;
      }
      for (let k = 0; k < r; k++) {
        let sr = 0, si = 0;
        for (let q = 0; q < r; q++) {
          const e = (q * k) % r;
          sr += xr[q] * cr[e] - xi[q] * ci[e];
          si += xr[q] * ci[e] + xi[q] * cr[e];
        }
        const i = base + j + k * m;
        re[i] = sr; im[i] = si;
      }
    }
  }
}
