/**
 * Short-time Fourier transform consistent with librosa `stft(center=True, pad_mode='reflect',
 * window='hann')`: periodic Hann window, frames centred by reflect-padding nFft / 2 on each
 * side, float64 FFT. {@link powerSpectrogram} then rounds to complex64 and takes |X|² in
 * float32 exactly as numpy 1.24 does on the reference machine (golden README 4.4).
 */
import { RealFft } from './fft';
import { reflectIndex } from './trim';
import type { Matrix } from './types';

/** STFT parameters. */
export interface StftOptions {
  /** FFT size = window length, in samples. */
  nFft: number;
  /** Hop between frames in samples. */
  hopLength: number;
  /** Centre frames on t · hop by reflect-padding nFft / 2 on each side (default true). */
  center?: boolean;
}

/** Complex STFT, layout `[bins][frames]` like librosa: element (k, t) at `k · frames + t`. */
export interface ComplexSpectrogram {
  bins: number;
  frames: number;
  re: Float64Array;
  im: Float64Array;
}

/** Hann window `[n]`; periodic (`0.5 − 0.5·cos(2πi/n)`, scipy `get_window('hann', n)`) by default. */
export function hannWindow(n: number, periodic = true): Float64Array {
  if (!Number.isInteger(n) || n < 1) throw new Error(`window length must be a positive integer, got ${n}`);
  const w = new Float64Array(n);
  const d = periodic ? n : n - 1;
  if (d === 0) { w[0] = 1; return w; }
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / d);
  return w;
}

/** Frames of an STFT of `n` samples: `1 + floor(n / hop)` centred, `1 + floor((n − nFft) / hop)` otherwise. */
export function frameCount(n: number, o: StftOptions): number {
  if (o.center ?? true) return 1 + Math.floor(n / o.hopLength);
  return n < o.nFft ? 0 : 1 + Math.floor((n - o.nFft) / o.hopLength);
}

/**
 * A reusable STFT plan (window, FFT, work buffers) for one (nFft, hop). Not thread-safe:
 * one plan per thread (the preprocessing workers each build their own).
 */
export class StftPlan {
  readonly nFft: number;
  readonly hopLength: number;
  readonly center: boolean;
  readonly bins: number;
  readonly window: Float64Array;
  readonly fft: RealFft;
  /** Window in the FFT's packed input order: `winPacked[2p + e] = window[2·perm[p] + e]`. */
  readonly winPacked: Float64Array;
  /** Frame offset of packed input p: `2·perm[p]`. */
  readonly offPacked: Int32Array;
  /** Spectrum of the last frame, `[bins]`. */
  readonly frameRe: Float64Array;
  readonly frameIm: Float64Array;

  constructor(o: StftOptions) {
    if (!Number.isInteger(o.nFft) || o.nFft < 2 || o.nFft % 2 !== 0) throw new Error(`nFft must be an even integer >= 2, got ${o.nFft}`);
    if (!Number.isInteger(o.hopLength) || o.hopLength < 1) throw new Error(`hopLength must be a positive integer, got ${o.hopLength}`);
    this.nFft = o.nFft;
    this.hopLength = o.hopLength;
    this.center = o.center ?? true;
    this.window = hannWindow(o.nFft);
    this.fft = new RealFft(o.nFft);
    this.bins = this.fft.bins;
    const half = this.fft.half;
    // Window values and frame offsets in the FFT's digit-reversed input order, so framing,
    // windowing and packing are one sequential pass.
    this.winPacked = new Float64Array(o.nFft);
    this.offPacked = new Int32Array(half);
    for (let p = 0; p < half; p++) {
      const j = this.fft.perm[p] * 2;
      this.offPacked[p] = j;
      this.winPacked[2 * p] = this.window[j];
      this.winPacked[2 * p + 1] = this.window[j + 1];
    }
    this.frameRe = new Float64Array(this.bins);
    this.frameIm = new Float64Array(this.bins);
  }

  /**
   * The signal as the frames see it: reflect-padded by nFft / 2 on each side when centred.
   * @param scratch optional buffer to write into when it is long enough (the result is then a
   *   view of it), so a loop over clips reuses one buffer
   */
  padSignal(samples: Float32Array, scratch?: Float32Array): Float32Array {
    if (!this.center) return samples;
    const n = samples.length;
    if (n === 0) throw new Error('samples must not be empty, got 0 samples');
    const pad = this.nFft / 2;
    const out = scratch !== undefined && scratch.length >= n + 2 * pad ? scratch.subarray(0, n + 2 * pad) : new Float32Array(n + 2 * pad);
    out.set(samples, pad);
    for (let i = 0; i < pad; i++) {
      out[i] = samples[reflectIndex(i - pad, n)];
      out[pad + n + i] = samples[reflectIndex(n + i, n)];
    }
    return out;
  }

  /** Number of frames for `n` input samples. */
  frames(n: number): number {
    return frameCount(n, { nFft: this.nFft, hopLength: this.hopLength, center: this.center });
  }

  /** FFT of frame t of the padded signal `padded` (window in float64) into frameRe/frameIm. */
  transformFrame(padded: Float32Array, t: number): void {
    this.packFrame(padded, t);
    this.fft.transformPacked(this.frameRe, this.frameIm);
  }

  /**
   * |X|² of frame t of `padded` into `out[bins]`, in float64 straight from the FFT (no complex64
   * rounding: it moves the power by ~1e-7 relative, ~3e-7 dB, far inside the golden's 1e-4 dB).
   * The log-mel hot loop uses this; {@link framePower} keeps numpy's exact float32 steps.
   */
  framePowerF64(padded: Float32Array, t: number, out: Float64Array): void {
    this.fft.powerWindowed(padded, t * this.hopLength, this.winPacked, out);
  }

  private packFrame(padded: Float32Array, t: number): void {
    const { offPacked, winPacked, fft } = this;
    const zRe = fft.zRe, zIm = fft.zIm;
    const base = t * this.hopLength;
    const half = fft.half;
    for (let p = 0; p < half; p++) {
      const j = base + offPacked[p];
      zRe[p] = padded[j] * winPacked[2 * p];
      zIm[p] = padded[j + 1] * winPacked[2 * p + 1];
    }
  }

  /**
   * |X|² of the last transformed frame into `out[bins]`, as numpy computes
   * `abs(X.astype(complex64))**2`: rounded to complex64, then numpy 1.24's AVX-512
   * `L·sqrt(fma(r, r, 1))` magnitude (L = max(|re|,|im|), r = min/L), every step in float32.
   */
  framePower(out: Float64Array | Float32Array): void {
    const { frameRe, frameIm, bins } = this;
    const f = Math.fround;
    for (let k = 0; k < bins; k++) {
      const a = Math.abs(f(frameRe[k]));
      const b = Math.abs(f(frameIm[k]));
      const L = a > b ? a : b;
      if (L === 0) { out[k] = 0; continue; }
      const r = f((a > b ? b : a) / L);
      const h = f(f(Math.sqrt(f(r * r + 1))) * L);
      out[k] = f(h * h);
    }
  }
}

/**
 * Complex STFT of `samples` (float64 FFT, periodic Hann window).
 * @param samples mono waveform `[n]`
 * @returns `[nFft / 2 + 1][frames]`, frames = 1 + floor(n / hop) when centred
 */
export function stft(samples: Float32Array, o: StftOptions): ComplexSpectrogram {
  const plan = new StftPlan(o);
  const padded = plan.padSignal(samples);
  const frames = plan.frames(samples.length);
  const bins = plan.bins;
  const re = new Float64Array(bins * frames);
  const im = new Float64Array(bins * frames);
  for (let t = 0; t < frames; t++) {
    plan.transformFrame(padded, t);
    for (let k = 0; k < bins; k++) {
      re[k * frames + t] = plan.frameRe[k];
      im[k * frames + t] = plan.frameIm[k];
    }
  }
  return { bins, frames, re, im };
}

/**
 * Power spectrogram |STFT|² (complex64 rounding and float32 magnitude as numpy; see
 * {@link StftPlan.framePower}).
 * @param samples mono waveform `[n]`
 * @returns float32 `[nFft / 2 + 1][frames]`
 */
export function powerSpectrogram(samples: Float32Array, o: StftOptions): Matrix {
  const plan = new StftPlan(o);
  const padded = plan.padSignal(samples);
  const frames = plan.frames(samples.length);
  const bins = plan.bins;
  const data = new Float32Array(bins * frames);
  const p = new Float32Array(bins);
  for (let t = 0; t < frames; t++) {
    plan.transformFrame(padded, t);
    plan.framePower(p);
    for (let k = 0; k < bins; k++) data[k * frames + t] = p[k];
  }
  return { rows: bins, cols: frames, data };
}
