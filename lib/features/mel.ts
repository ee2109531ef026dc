/**
 * Slaney-style mel filterbank, consistent with librosa `filters.mel(htk=False, norm='slaney')`
 * (0.6.3 builds it in float64; {@link melFilterbankFloat32} reproduces 0.9.2's float32 default).
 */
import type { Matrix, Matrix64 } from './types';

/** Parameters of a mel filterbank. */
export interface MelOptions {
  sampleRate: number;
  nFft: number;
  nMels: number;
  /** Lowest band edge in Hz. */
  fMin: number;
  /** Highest band edge in Hz (≤ sampleRate / 2). */
  fMax: number;
}

/** A mel filterbank keeping only the non-zero weights of each band (they are contiguous). */
export interface SparseMel {
  nMels: number;
  /** Frequency bins, nFft / 2 + 1. */
  nBins: number;
  /** Band m's weights cover bins `[start[m], start[m] + length[m])`. */
  start: Int32Array;
  length: Int32Array;
  /** Band m's weights at `offset[m] .. offset[m] + length[m]` (float64). */
  offset: Int32Array;
  weights: Float64Array;
}

const F_SP = 200 / 3;
const MIN_LOG_HZ = 1000;
const MIN_LOG_MEL = MIN_LOG_HZ / F_SP;
const LOGSTEP = Math.log(6.4) / 27;

/** Hz → mel on the Slaney scale (linear below 1 kHz, logarithmic above), as librosa `hz_to_mel(htk=False)`. */
export function hzToMel(f: number): number {
  return f >= MIN_LOG_HZ ? MIN_LOG_MEL + Math.log(f / MIN_LOG_HZ) / LOGSTEP : f / F_SP;
}

/** Inverse of {@link hzToMel}. */
export function melToHz(m: number): number {
  return m >= MIN_LOG_MEL ? MIN_LOG_HZ * Math.exp(LOGSTEP * (m - MIN_LOG_MEL)) : F_SP * m;
}

function validate(o: MelOptions): void {
  if (!(o.sampleRate > 0)) throw new Error(`sampleRate must be > 0, got ${o.sampleRate}`);
  if (!Number.isInteger(o.nFft) || o.nFft < 2) throw new Error(`nFft must be an integer >= 2, got ${o.nFft}`);
  if (!Number.isInteger(o.nMels) || o.nMels < 1) throw new Error(`nMels must be a positive integer, got ${o.nMels}`);
  if (!(o.fMin >= 0)) throw new Error(`fMin must be >= 0, got ${o.fMin}`);
  if (!(o.fMax > o.fMin)) throw new Error(`fMax must be > fMin (${o.fMin}), got ${o.fMax}`);
  if (o.fMax > o.sampleRate / 2) throw new Error(`fMax must be <= sampleRate / 2 = ${o.sampleRate / 2}, got ${o.fMax}`);
}

/** The nMels + 2 band edges in Hz (librosa `mel_frequencies`: linspace in mel, back to Hz). */
export function melBandEdges(o: MelOptions): Float64Array {
  const n = o.nMels + 2;
  const lo = hzToMel(o.fMin);
  const hi = hzToMel(o.fMax);
  const step = (hi - lo) / (n - 1); // numpy.linspace: arange(n) · step + start, last = stop
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = melToHz(i === n - 1 ? hi : i * step + lo);
  return out;
}

/** Calls `fn(m, k, triangle, enorm)` for every band m and bin k with a non-zero triangle weight. */
function forEachWeight(o: MelOptions, fn: (m: number, k: number, tri: number, enorm: number) => void): void {
  validate(o);
  const nBins = Math.floor(o.nFft / 2) + 1;
  const edges = melBandEdges(o);
  // numpy.fft.rfftfreq(n_fft, d=1/sr), what librosa 0.9.2 uses: k · (1 / (n_fft · (1/sr))).
  const binHz = 1 / (o.nFft * (1 / o.sampleRate));
  for (let m = 0; m < o.nMels; m++) {
    const fdiffLo = edges[m + 1] - edges[m];
    const fdiffHi = edges[m + 2] - edges[m + 1];
    const enorm = 2 / (edges[m + 2] - edges[m]);
    for (let k = 0; k < nBins; k++) {
      const f = k * binHz;
      const lower = -(edges[m] - f) / fdiffLo;
      const upper = (edges[m + 2] - f) / fdiffHi;
      const tri = Math.max(0, Math.min(lower, upper));
      if (tri > 0) fn(m, k, tri, enorm);
    }
  }
}

/**
 * The mel filterbank in float64 (librosa 0.6.3 semantics; what the reference S uses).
 * @returns `[nMels][nFft / 2 + 1]` row-major, weights in 1/Hz (Slaney area normalisation)
 */
export function melFilterbank(o: MelOptions): Matrix64 {
  const cols = Math.floor(o.nFft / 2) + 1;
  const data = new Float64Array(o.nMels * cols);
  forEachWeight(o, (m, k, tri, enorm) => {
    data[m * cols + k] = tri * enorm;
  });
  return { rows: o.nMels, cols, data };
}

/**
 * The filterbank as librosa 0.9.2 builds it by default (float32: the triangle is rounded to
 * float32 before the Slaney normalisation, then rounded again).
 * @returns `[nMels][nFft / 2 + 1]` row-major float32
 */
export function melFilterbankFloat32(o: MelOptions): Matrix {
  const cols = Math.floor(o.nFft / 2) + 1;
  const data = new Float32Array(o.nMels * cols);
  forEachWeight(o, (m, k, tri, enorm) => {
    data[m * cols + k] = Math.fround(tri) * enorm;
  });
  return { rows: o.nMels, cols, data };
}

/** The non-zero weights of {@link melFilterbank} (2515 of 163,968 for the reference), band by band. */
export function sparseMelFilterbank(o: MelOptions): SparseMel {
  const dense = melFilterbank(o);
  const { rows: nMels, cols: nBins, data } = dense;
  const start = new Int32Array(nMels);
  const length = new Int32Array(nMels);
  const offset = new Int32Array(nMels);
  const w: number[] = [];
  for (let m = 0; m < nMels; m++) {
    let a = 0;
    while (a < nBins && data[m * nBins + a] === 0) a++;
    let b = nBins;
    while (b > a && data[m * nBins + b - 1] === 0) b--;
    start[m] = a;
    length[m] = b - a;
    offset[m] = w.length;
    for (let k = a; k < b; k++) w.push(data[m * nBins + k]);
  }
  return { nMels, nBins, start, length, offset, weights: Float64Array.from(w) };
}
