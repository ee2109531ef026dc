/**
 * Waveform augmentations (SoX-style, as the 7th-place FAT2019 solution used): gain, circular
 * time shift, time stretch (phase vocoder), pitch shift, background noise at a given SNR,
 * fade in/out, reverb, and RBJ-cookbook shelving / peaking biquads (bass, treble, equalize).
 *
 * Every transform is a pure function `(signal, sampleRate, params, rng?) => Float32Array` with
 * every parameter explicit (torchaudio functional style); the random choice of parameters lives
 * in lib/augment/pipeline.ts. Signals are mono `[n]` float32 samples (nominally in [−1, 1];
 * outputs are not clipped, the log-mel image is scale-invariant).
 */
import { resample } from '../audio/resample';
import type { Rng } from '../util/rng';
import { checkFinite, checkInRange, checkInteger, checkPositive } from './validate';

/** The uniform signature of a waveform transform. */
export type WaveformTransform<P> = (signal: Float32Array, sampleRate: number, params: P, rng: Rng) => Float32Array;

function checkSignal(signal: Float32Array): void {
  if (!(signal instanceof Float32Array)) throw new Error(`signal must be a Float32Array, got ${Object.prototype.toString.call(signal)}`);
}

function checkRate(sampleRate: number): void {
  checkPositive('sampleRate', sampleRate);
}

// ---------------------------------------------------------------------------------------------
// FFT (fft.js, power-of-two sizes)
// ---------------------------------------------------------------------------------------------

/** The part of fft.js (no bundled types) used here: interleaved complex arrays `[re, im, …]`. */
interface FftJs {
  readonly size: number;
  realTransform(out: Float64Array, input: Float64Array): void;
  completeSpectrum(spectrum: Float64Array): void;
  inverseTransform(out: Float64Array, data: Float64Array): void;
}
const FFT = require('fft.js') as new (size: number) => FftJs;

const fftCache = new Map<number, FftJs>();
function fftOf(size: number): FftJs {
  let f = fftCache.get(size);
  if (!f) {
    f = new FFT(size);
    fftCache.set(size, f);
  }
  return f;
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

// ---------------------------------------------------------------------------------------------
// Gain, shift, fade
// ---------------------------------------------------------------------------------------------

/** Multiplies by 10^(gainDb / 20). */
export function gain(signal: Float32Array, sampleRate: number, params: { gainDb: number }): Float32Array {
  checkSignal(signal);
  checkRate(sampleRate);
  checkFinite('gainDb', params.gainDb);
  const g = Math.pow(10, params.gainDb / 20);
  const out = new Float32Array(signal.length);
  for (let i = 0; i < signal.length; i++) out[i] = signal[i] * g;
  return out;
}

/**
 * Circular shift (numpy `roll`): `out[(i + shiftSamples) mod n] = signal[i]`; positive shifts
 * move the sound later. Length preserved.
 */
export function timeShift(signal: Float32Array, sampleRate: number, params: { shiftSamples: number }): Float32Array {
  checkSignal(signal);
  checkRate(sampleRate);
  if (!Number.isInteger(params.shiftSamples)) throw new Error(`shiftSamples must be an integer, got ${params.shiftSamples}`);
  const n = signal.length;
  const out = new Float32Array(n);
  if (n === 0) return out;
  const s = ((params.shiftSamples % n) + n) % n;
  out.set(signal.subarray(0, n - s), s);
  out.set(signal.subarray(n - s), 0);
  return out;
}

/** Fade curve shapes (torchaudio `Fade`): gain g(t) for t in [0, 1] from silence to full. */
export type FadeShape = 'linear' | 'quarterSine' | 'halfSine';

function fadeCurve(t: number, shape: FadeShape): number {
  if (shape === 'linear') return t;
  if (shape === 'quarterSine') return Math.sin((t * Math.PI) / 2);
  return Math.sin(t * Math.PI - Math.PI / 2) / 2 + 0.5;
}

/**
 * Fades the first `inSamples` samples in and the last `outSamples` out (gain g(i / len) with
 * g(0) = 0, torchaudio `Fade` shapes). Lengths are capped at the signal length.
 */
export function fade(signal: Float32Array, sampleRate: number, params: { inSamples: number; outSamples: number; shape: FadeShape }): Float32Array {
  checkSignal(signal);
  checkRate(sampleRate);
  checkInteger('inSamples', params.inSamples);
  checkInteger('outSamples', params.outSamples);
  if (!['linear', 'quarterSine', 'halfSine'].includes(params.shape)) throw new Error(`shape must be 'linear', 'quarterSine' or 'halfSine', got ${JSON.stringify(params.shape)}`);
  const n = signal.length;
  const out = signal.slice();
  const fi = Math.min(params.inSamples, n);
  const fo = Math.min(params.outSamples, n);
  for (let i = 0; i < fi; i++) out[i] *= fadeCurve(i / fi, params.shape);
  for (let i = 0; i < fo; i++) out[n - 1 - i] *= fadeCurve(i / fo, params.shape);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Time stretch (phase vocoder) and pitch shift
// ---------------------------------------------------------------------------------------------

/** Phase-vocoder STFT size and hop (Hann window, 75 % overlap). */
export const VOCODER_N_FFT = 2048;
export const VOCODER_HOP = 512;

function hann(n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
  return w;
}

/**
 * Stretches the duration by `stretch` without changing the pitch: the output has exactly
 * `round(n · stretch)` samples ("stretch by r" = duration × r; r > 1 is slower/longer). This is
 * librosa's `time_stretch(y, rate = 1 / stretch)`: a phase vocoder (STFT n_fft 2048, hop 512,
 * periodic Hann, zero-centred frames; magnitudes interpolated between frames, phases
 * accumulated with the bin's expected advance plus the wrapped deviation) and an overlap-add
 * inverse STFT normalised by the summed squared window.
 *
 * @param signal `[n]`, @returns `[round(n · stretch)]`
 */
export function timeStretch(signal: Float32Array, sampleRate: number, params: { stretch: number }): Float32Array {
  checkSignal(signal);
  checkRate(sampleRate);
  checkInRange('stretch', params.stretch, 0.1, 10);
  const n = signal.length;
  const outLen = Math.round(n * params.stretch);
  if (n === 0 || outLen === 0) return new Float32Array(outLen);
  if (params.stretch === 1) return signal.slice();
  const rate = 1 / params.stretch;
  const N = VOCODER_N_FFT;
  const H = VOCODER_HOP;
  const bins = N / 2 + 1;
  const win = hann(N);
  const fft = fftOf(N);
  // Analysis: centred frames (N/2 zeros each side), enough frames to cover the whole signal.
  const half = N / 2;
  const nFrames = 1 + Math.ceil(n / H);
  const re = new Float64Array(nFrames * bins);
  const im = new Float64Array(nFrames * bins);
  const frame = new Float64Array(N);
  const spec = new Float64Array(2 * N);
  for (let t = 0; t < nFrames; t++) {
    const s0 = t * H - half;
    for (let i = 0; i < N; i++) {
      const j = s0 + i;
      frame[i] = j >= 0 && j < n ? signal[j] * win[i] : 0;
    }
    fft.realTransform(spec, frame);
    for (let k = 0; k < bins; k++) {
      re[t * bins + k] = spec[2 * k];
      im[t * bins + k] = spec[2 * k + 1];
    }
  }
  // Phase vocoder (librosa.core.phase_vocoder).
  const steps: number[] = [];
  for (let s = 0; s < nFrames; s += rate) steps.push(s);
  const outFrames = steps.length;
  const oRe = new Float64Array(outFrames * bins);
  const oIm = new Float64Array(outFrames * bins);
  const phaseAcc = new Float64Array(bins);
  for (let k = 0; k < bins; k++) phaseAcc[k] = Math.atan2(im[k], re[k]);
  const at = (t: number, k: number): [number, number] => (t < nFrames ? [re[t * bins + k], im[t * bins + k]] : [0, 0]);
  for (let o = 0; o < outFrames; o++) {
    const step = steps[o];
    const t0 = Math.floor(step);
    const alpha = step - t0;
    for (let k = 0; k < bins; k++) {
      const [r0, i0] = at(t0, k);
      const [r1, i1] = at(t0 + 1, k);
      const mag = (1 - alpha) * Math.hypot(r0, i0) + alpha * Math.hypot(r1, i1);
      oRe[o * bins + k] = mag * Math.cos(phaseAcc[k]);
      oIm[o * bins + k] = mag * Math.sin(phaseAcc[k]);
      const advance = (2 * Math.PI * k * H) / N;
      let dphase = Math.atan2(i1, r1) - Math.atan2(i0, r0) - advance;
      dphase -= 2 * Math.PI * Math.round(dphase / (2 * Math.PI));
      phaseAcc[k] += advance + dphase;
    }
  }
  // Inverse STFT by weighted overlap-add.
  const total = (outFrames - 1) * H + N;
  const y = new Float64Array(total);
  const wsum = new Float64Array(total);
  const full = new Float64Array(2 * N);
  const time = new Float64Array(2 * N);
  for (let o = 0; o < outFrames; o++) {
    for (let k = 0; k < bins; k++) {
      full[2 * k] = oRe[o * bins + k];
      full[2 * k + 1] = oIm[o * bins + k];
    }
    full[1] = 0;
    full[N + 1] = 0;
    for (let k = 1; k < N / 2; k++) {
      full[2 * (N - k)] = full[2 * k];
      full[2 * (N - k) + 1] = -full[2 * k + 1];
    }
    fft.inverseTransform(time, full);
    const base = o * H;
    for (let i = 0; i < N; i++) {
      y[base + i] += time[2 * i] * win[i];
      wsum[base + i] += win[i] * win[i];
    }
  }
  const out = new Float32Array(outLen);
  for (let i = 0; i < outLen; i++) {
    const j = i + half;
    if (j >= total) break;
    out[i] = wsum[j] > 1e-8 ? y[j] / wsum[j] : y[j];
  }
  return out;
}

/**
 * Shifts the pitch by `semitones` keeping the length (librosa `pitch_shift`): time-stretch by
 * 2^(semitones/12), then resample by the inverse factor (band-limited sinc, lib/audio
 * `resample`), then fix the length to n (zero-pad or cut). A tone at f Hz moves to
 * f · 2^(semitones/12).
 *
 * @param signal `[n]`, @returns `[n]`
 */
export function pitchShift(signal: Float32Array, sampleRate: number, params: { semitones: number }): Float32Array {
  checkSignal(signal);
  checkRate(sampleRate);
  checkInRange('semitones', params.semitones, -48, 48);
  const n = signal.length;
  if (params.semitones === 0 || n === 0) return signal.slice();
  const factor = Math.pow(2, params.semitones / 12);
  const stretched = timeStretch(signal, sampleRate, { stretch: factor });
  // Played back `factor` times faster: treat it as sampled at sampleRate·factor.
  const shifted = resample(stretched, sampleRate * factor, sampleRate);
  const out = new Float32Array(n);
  out.set(shifted.subarray(0, Math.min(n, shifted.length)));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Noise
// ---------------------------------------------------------------------------------------------

/** Colours of generated noise: white (flat), pink (−3 dB/octave), brown (−6 dB/octave). */
export type NoiseColor = 'white' | 'pink' | 'brown';

/**
 * `length` samples of coloured noise with unit RMS: white = i.i.d. N(0, 1); pink = Paul
 * Kellet's refined 7-pole filter of white noise; brown = leaky integral of white noise
 * (pole 0.998), mean removed.
 */
export function coloredNoise(length: number, color: NoiseColor, rng: Rng): Float32Array {
  checkInteger('length', length);
  const out = new Float32Array(length);
  if (color === 'white') {
    for (let i = 0; i < length; i++) out[i] = rng.normal();
  } else if (color === 'pink') {
    let b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0, b6 = 0;
    for (let i = 0; i < length; i++) {
      const w = rng.normal();
      b0 = 0.99886 * b0 + w * 0.0555179;
      b1 = 0.99332 * b1 + w * 0.0750759;
      b2 = 0.969 * b2 + w * 0.153852;
      b3 = 0.8665 * b3 + w * 0.3104856;
      b4 = 0.55 * b4 + w * 0.5329522;
      b5 = -0.7616 * b5 - w * 0.016898;
      out[i] = b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362;
      b6 = w * 0.115926;
    }
  } else if (color === 'brown') {
    let y = 0;
    for (let i = 0; i < length; i++) {
      y = 0.998 * y + rng.normal();
      out[i] = y;
    }
    let mean = 0;
    for (let i = 0; i < length; i++) mean += out[i];
    mean /= length || 1;
    for (let i = 0; i < length; i++) out[i] -= mean;
  } else {
    throw new Error(`color must be 'white', 'pink' or 'brown', got ${JSON.stringify(color)}`);
  }
  let p = 0;
  for (let i = 0; i < length; i++) p += out[i] * out[i];
  const rms = Math.sqrt(p / (length || 1));
  if (rms > 0) for (let i = 0; i < length; i++) out[i] /= rms;
  return out;
}

/**
 * Adds `noise` scaled so that the signal-to-noise ratio over the whole clip,
 * 10·log10(Σ signal² / Σ added²), equals `snrDb`. The noise is read from `offset`, looping when
 * shorter than the signal. A silent signal is returned unchanged (the SNR is undefined).
 *
 * @param signal `[n]`, @param noise `[m]` (m ≥ 1, not all zero), @returns `[n]`
 */
export function addNoise(signal: Float32Array, sampleRate: number, params: { snrDb: number; noise: Float32Array; offset?: number }): Float32Array {
  checkSignal(signal);
  checkRate(sampleRate);
  checkFinite('snrDb', params.snrDb);
  const { noise } = params;
  if (!(noise instanceof Float32Array) || noise.length === 0) throw new Error(`noise must be a non-empty Float32Array, got length ${noise?.length}`);
  const offset = params.offset ?? 0;
  checkInteger('offset', offset);
  const n = signal.length;
  const m = noise.length;
  let ps = 0;
  let pn = 0;
  for (let i = 0; i < n; i++) {
    ps += signal[i] * signal[i];
    const v = noise[(offset + i) % m];
    pn += v * v;
  }
  if (ps === 0) return signal.slice();
  if (pn === 0) throw new Error('noise is silent over the signal (all zeros): cannot reach an SNR');
  const k = Math.sqrt(ps / (pn * Math.pow(10, params.snrDb / 10)));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = signal[i] + k * noise[(offset + i) % m];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reverb
// ---------------------------------------------------------------------------------------------

/**
 * A synthetic room impulse response: Gaussian noise under an exponential envelope that decays
 * by 60 dB after `rt60` seconds (exp(−ln(1000)·t / rt60)), `ceil(rt60 · sampleRate)` samples,
 * normalised to unit energy (so the wet signal has about the dry signal's power).
 */
export function reverbImpulse(sampleRate: number, rt60: number, rng: Rng): Float32Array {
  checkRate(sampleRate);
  checkInRange('rt60', rt60, 0.001, 10);
  const len = Math.max(1, Math.ceil(rt60 * sampleRate));
  const ir = new Float32Array(len);
  const decay = Math.log(1000) / (rt60 * sampleRate);
  let e = 0;
  for (let i = 0; i < len; i++) {
    ir[i] = rng.normal() * Math.exp(-decay * i);
    e += ir[i] * ir[i];
  }
  const s = e > 0 ? 1 / Math.sqrt(e) : 0;
  for (let i = 0; i < len; i++) ir[i] *= s;
  return ir;
}

/**
 * Linear convolution `(x ∗ h)[0 .. outLength)` by FFT overlap-add (fft.js, power-of-two
 * blocks).
 */
export function fftConvolve(x: Float32Array, h: Float32Array, outLength = x.length + h.length - 1): Float32Array {
  checkInteger('outLength', outLength);
  const out = new Float64Array(outLength);
  if (x.length === 0 || h.length === 0 || outLength === 0) return new Float32Array(outLength);
  const size = Math.max(256, nextPow2(2 * h.length));
  const block = size - h.length + 1;
  const fft = fftOf(size);
  const hPad = new Float64Array(size);
  for (let i = 0; i < h.length; i++) hPad[i] = h[i];
  const H = new Float64Array(2 * size);
  fft.realTransform(H, hPad);
  fft.completeSpectrum(H);
  const xb = new Float64Array(size);
  const X = new Float64Array(2 * size);
  const y = new Float64Array(2 * size);
  for (let start = 0; start < x.length && start < outLength; start += block) {
    xb.fill(0);
    const end = Math.min(start + block, x.length);
    for (let i = start; i < end; i++) xb[i - start] = x[i];
    fft.realTransform(X, xb);
    fft.completeSpectrum(X);
    for (let k = 0; k < size; k++) {
      const ar = X[2 * k], ai = X[2 * k + 1], br = H[2 * k], bi = H[2 * k + 1];
      X[2 * k] = ar * br - ai * bi;
      X[2 * k + 1] = ar * bi + ai * br;
    }
    fft.inverseTransform(y, X);
    const lim = Math.min(size, outLength - start);
    for (let i = 0; i < lim; i++) out[start + i] += y[2 * i];
  }
  return Float32Array.from(out);
}

/**
 * Reverb: `out = (1 − wet)·signal + wet·(signal ∗ ir)` cut to the input length, with `ir` from
 * {@link reverbImpulse} (drawn from `rng`) unless given in `params.impulse`.
 *
 * @param signal `[n]`, @returns `[n]`
 */
export function reverb(signal: Float32Array, sampleRate: number, params: { rt60: number; wet: number; impulse?: Float32Array }, rng?: Rng): Float32Array {
  checkSignal(signal);
  checkRate(sampleRate);
  checkInRange('wet', params.wet, 0, 1);
  let ir = params.impulse;
  if (!ir) {
    if (!rng) throw new Error('reverb: rng is required when params.impulse is not given');
    ir = reverbImpulse(sampleRate, params.rt60, rng);
  }
  const wetSig = fftConvolve(signal, ir, signal.length);
  const out = new Float32Array(signal.length);
  const dry = 1 - params.wet;
  for (let i = 0; i < signal.length; i++) out[i] = dry * signal[i] + params.wet * wetSig[i];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Biquads (RBJ Audio EQ Cookbook)
// ---------------------------------------------------------------------------------------------

/** Biquad coefficients normalised by a0: y = b0·x + b1·x₋₁ + b2·x₋₂ − a1·y₋₁ − a2·y₋₂. */
export interface BiquadCoefficients {
  b0: number;
  b1: number;
  b2: number;
  a1: number;
  a2: number;
}

function checkFilter(sampleRate: number, frequency: number, gainDb: number): void {
  checkRate(sampleRate);
  checkPositive('frequency', frequency);
  if (frequency >= sampleRate / 2) throw new Error(`frequency must be < sampleRate / 2 = ${sampleRate / 2}, got ${frequency}`);
  checkFinite('gainDb', gainDb);
}

function normalise(b0: number, b1: number, b2: number, a0: number, a1: number, a2: number): BiquadCoefficients {
  return { b0: b0 / a0, b1: b1 / a0, b2: b2 / a0, a1: a1 / a0, a2: a2 / a0 };
}

/** RBJ low shelf (shelf slope S): gain 10^(gainDb/20) at DC, 1 at Nyquist (SoX `bass`). */
export function lowShelfCoefficients(sampleRate: number, frequency: number, gainDb: number, slope = 1): BiquadCoefficients {
  checkFilter(sampleRate, frequency, gainDb);
  checkPositive('slope', slope);
  const A = Math.pow(10, gainDb / 40);
  const w0 = (2 * Math.PI * frequency) / sampleRate;
  const cw = Math.cos(w0);
  const alpha = (Math.sin(w0) / 2) * Math.sqrt((A + 1 / A) * (1 / slope - 1) + 2);
  const sa = 2 * Math.sqrt(A) * alpha;
  return normalise(
    A * (A + 1 - (A - 1) * cw + sa),
    2 * A * (A - 1 - (A + 1) * cw),
    A * (A + 1 - (A - 1) * cw - sa),
    A + 1 + (A - 1) * cw + sa,
    -2 * (A - 1 + (A + 1) * cw),
    A + 1 + (A - 1) * cw - sa,
  );
}

/** RBJ high shelf (shelf slope S): gain 1 at DC, 10^(gainDb/20) at Nyquist (SoX `treble`). */
export function highShelfCoefficients(sampleRate: number, frequency: number, gainDb: number, slope = 1): BiquadCoefficients {
  checkFilter(sampleRate, frequency, gainDb);
  checkPositive('slope', slope);
  const A = Math.pow(10, gainDb / 40);
  const w0 = (2 * Math.PI * frequency) / sampleRate;
  const cw = Math.cos(w0);
  const alpha = (Math.sin(w0) / 2) * Math.sqrt((A + 1 / A) * (1 / slope - 1) + 2);
  const sa = 2 * Math.sqrt(A) * alpha;
  return normalise(
    A * (A + 1 + (A - 1) * cw + sa),
    -2 * A * (A - 1 + (A + 1) * cw),
    A * (A + 1 + (A - 1) * cw - sa),
    A + 1 - (A - 1) * cw + sa,
    2 * (A - 1 - (A + 1) * cw),
    A + 1 - (A - 1) * cw - sa,
  );
}

/** RBJ peaking EQ: gain 10^(gainDb/20) at `frequency`, bandwidth set by `q` (SoX `equalizer`). */
export function peakingCoefficients(sampleRate: number, frequency: number, gainDb: number, q: number): BiquadCoefficients {
  checkFilter(sampleRate, frequency, gainDb);
  checkPositive('q', q);
  const A = Math.pow(10, gainDb / 40);
  const w0 = (2 * Math.PI * frequency) / sampleRate;
  const alpha = Math.sin(w0) / (2 * q);
  const cw = Math.cos(w0);
  return normalise(1 + alpha * A, -2 * cw, 1 - alpha * A, 1 + alpha / A, -2 * cw, 1 - alpha / A);
}

/** Magnitude response |H(e^{jω})| of a biquad at `frequency` Hz. */
export function biquadMagnitude(c: BiquadCoefficients, sampleRate: number, frequency: number): number {
  const w = (2 * Math.PI * frequency) / sampleRate;
  const re = (a: number, b: number, d: number) => a + b * Math.cos(w) + d * Math.cos(2 * w);
  const im = (b: number, d: number) => -(b * Math.sin(w) + d * Math.sin(2 * w));
  const nr = re(c.b0, c.b1, c.b2), ni = im(c.b1, c.b2);
  const dr = re(1, c.a1, c.a2), di = im(c.a1, c.a2);
  return Math.hypot(nr, ni) / Math.hypot(dr, di);
}

/** Runs a biquad (direct form I, float64 state) over the signal from rest. */
export function biquad(signal: Float32Array, c: BiquadCoefficients): Float32Array {
  checkSignal(signal);
  const out = new Float32Array(signal.length);
  let x1 = 0, x2 = 0, y1 = 0, y2 = 0;
  for (let i = 0; i < signal.length; i++) {
    const x0 = signal[i];
    const y0 = c.b0 * x0 + c.b1 * x1 + c.b2 * x2 - c.a1 * y1 - c.a2 * y2;
    out[i] = y0;
    x2 = x1;
    x1 = x0;
    y2 = y1;
    y1 = y0;
  }
  return out;
}

/** Bass boost/cut: RBJ low shelf at `frequency` Hz by `gainDb` (SoX `bass`, slope 1). */
export function bass(signal: Float32Array, sampleRate: number, params: { gainDb: number; frequency: number }): Float32Array {
  return biquad(signal, lowShelfCoefficients(sampleRate, params.frequency, params.gainDb));
}

/** Treble boost/cut: RBJ high shelf at `frequency` Hz by `gainDb` (SoX `treble`, slope 1). */
export function treble(signal: Float32Array, sampleRate: number, params: { gainDb: number; frequency: number }): Float32Array {
  return biquad(signal, highShelfCoefficients(sampleRate, params.frequency, params.gainDb));
}

/** Peaking equaliser at `frequency` Hz by `gainDb` with quality `q` (SoX `equalizer`). */
export function equalize(signal: Float32Array, sampleRate: number, params: { frequency: number; gainDb: number; q: number }): Float32Array {
  return biquad(signal, peakingCoefficients(sampleRate, params.frequency, params.gainDb, params.q));
}
