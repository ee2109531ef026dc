/**
 * The whole per-clip feature pipeline of the reference (SPEC preprocessing): trim → centred pad
 * → log-mel (float64 STFT and mel, float32 dB) → uint8 image. Plans (window, FFT, sparse mel)
 * are built once per configuration and reused; the frame loop allocates nothing.
 */
import type { PreprocessConfig } from '../config';
import { sparseMelFilterbank, type SparseMel } from './mel';
import { StftPlan } from './stft';
import { WasmMelPower } from './melPowerWasm';
import { padCentered, reflectIndex, trimSilence } from './trim';
import { imageFromPower, kernelImage, MIN_NORMAL, powerBufferFor, powerToDb } from './image';
import type { ClipImage, Matrix, Matrix64 } from './types';

/** The parts of {@link PreprocessConfig} the log-mel transform depends on. */
export type LogMelConfig = Pick<PreprocessConfig, 'sampleRate' | 'nFft' | 'hopLength' | 'nMels' | 'fMin' | 'fMax'>;

interface LogMelPlan {
  stft: StftPlan;
  mel: SparseMel;
  /**
   * The same mel power on WebAssembly SIMD (bit-identical), or null: the loop below runs. Its
   * memory holds the longest clip so far; {@link wasmFor} replaces it for a longer one.
   */
  wasm: WasmMelPower | null;
  power: Float64Array;
  /** Reused between clips (grown when a longer clip comes): the padded signal, the mel power. */
  padded: Float32Array;
  melPower: Float64Array;
}

const plans = new Map<string, LogMelPlan>();
let wasmEnabled = true;

/**
 * Chooses the mel-power engine for plans made from now on: the WebAssembly SIMD kernel where
 * the engine supports it (default), or the JavaScript loop. Both give the same bits; tests
 * and benchmarks compare them.
 */
export function useWasmMelPower(enabled: boolean): void {
  wasmEnabled = enabled;
  plans.clear();
}

/** Which engine computes the mel power for this configuration. */
export function melPowerEngine(cfg: LogMelConfig): 'wasm-simd' | 'js' {
  return planFor(cfg).wasm ? 'wasm-simd' : 'js';
}

function planFor(cfg: LogMelConfig): LogMelPlan {
  const key = `${cfg.sampleRate}|${cfg.nFft}|${cfg.hopLength}|${cfg.nMels}|${cfg.fMin}|${cfg.fMax}`;
  let plan = plans.get(key);
  if (!plan) {
    const stft = new StftPlan({ nFft: cfg.nFft, hopLength: cfg.hopLength, center: true });
    const mel = sparseMelFilterbank({ sampleRate: cfg.sampleRate, nFft: cfg.nFft, nMels: cfg.nMels, fMin: cfg.fMin, fMax: cfg.fMax });
    const wasm = wasmEnabled ? WasmMelPower.create(stft, mel, 0) : null;
    plan = { stft, mel, wasm, power: new Float64Array(stft.bins), padded: new Float32Array(0), melPower: new Float64Array(0) };
    plans.set(key, plan);
  }
  return plan;
}

/** Samples a kernel's memory is made for: whole multiples of 2^19 (~11.9 s at 44.1 kHz), so clips of similar lengths share one. */
const CAPACITY_STEP = 1 << 19;

/** The plan's kernel with room for `samples` samples (a larger one made when needed), or null. */
function wasmFor(plan: LogMelPlan, samples: number): WasmMelPower | null {
  if (plan.wasm === null || plan.wasm.capacity >= samples) return plan.wasm;
  // A clip beyond the 4 GiB a memory can hold takes the JavaScript loop; later ones keep the kernel.
  const larger = WasmMelPower.create(plan.stft, plan.mel, Math.ceil(samples / CAPACITY_STEP) * CAPACITY_STEP);
  if (larger !== null) plan.wasm = larger;
  return larger;
}

/**
 * Mel power spectrogram S = M · |STFT|² in float64 (librosa 0.6.3 `melspectrogram(power=2)` on
 * a float64 filterbank; the power in float64 too, see {@link StftPlan.framePowerF64}).
 *
 * @param samples mono waveform `[n]` at cfg.sampleRate
 * @returns `[nMels][1 + floor(n / hopLength)]` float64, mel row 0 = lowest band
 */
export function melSpectrogram(samples: Float32Array, cfg: LogMelConfig): Matrix64 {
  const plan = planFor(cfg);
  const frames = plan.stft.frames(samples.length);
  const s = new Float64Array(plan.mel.nMels * frames);
  melPowerInto(plan, samples, s);
  return { rows: plan.mel.nMels, cols: frames, data: s };
}

/** The mel power of `samples` into `s[nMels · frames]` (layout of {@link melSpectrogram}). */
function melPowerInto(plan: LogMelPlan, samples: Float32Array, s: Float64Array): void {
  const { stft, mel, power } = plan;
  const padLength = samples.length + stft.nFft;
  const frames = stft.frames(samples.length);
  const wasm = wasmFor(plan, padLength);
  if (wasm) {
    wasm.run(stft.padSignal(samples, wasm.signal()), frames, s);
    return;
  }
  if (plan.padded.length < padLength) plan.padded = new Float32Array(padLength);
  const padded = stft.padSignal(samples, plan.padded);
  const { nMels, start, length, offset, weights } = mel;
  for (let t = 0; t < frames; t++) {
    stft.framePowerF64(padded, t, power);
    for (let m = 0; m < nMels; m++) {
      // Two accumulators (even and odd bins): shorter dependency chains; the float64 sum
      // moves by an ulp at most, far below the float32 dB rounding.
      let acc0 = 0, acc1 = 0;
      const k0 = start[m], o = offset[m], len = length[m];
      let j = 0;
      for (; j + 1 < len; j += 2) {
        acc0 += weights[o + j] * power[k0 + j];
        acc1 += weights[o + j + 1] * power[k0 + j + 1];
      }
      if (j < len) acc0 += weights[o + j] * power[k0 + j];
      s[m * frames + t] = acc0 + acc1;
    }
  }
}

/**
 * Log-mel spectrogram in dB: {@link melSpectrogram} then `power_to_db(ref=cfg.dbRef,
 * amin=cfg.dbAmin, top_db=cfg.dbTopDb)` in float64, rounded to float32. No trimming or padding.
 *
 * @param samples mono waveform `[n]` at cfg.sampleRate
 * @returns dB `[nMels][1 + floor(n / hopLength)]` float32
 */
export function logMelSpectrogram(samples: Float32Array, cfg: LogMelConfig & Pick<PreprocessConfig, 'dbRef' | 'dbAmin' | 'dbTopDb'>): Matrix {
  const s = reusedMelPower(samples, cfg);
  return { rows: s.rows, cols: s.cols, data: powerToDb(s.data, { ref: cfg.dbRef, amin: cfg.dbAmin, topDb: cfg.dbTopDb }) };
}

/** {@link melSpectrogram} into the plan's reused buffer (valid until the next call). */
function reusedMelPower(samples: Float32Array, cfg: LogMelConfig): Matrix64 {
  const plan = planFor(cfg);
  const frames = plan.stft.frames(samples.length);
  const size = plan.mel.nMels * frames;
  if (plan.melPower.length < size) plan.melPower = new Float64Array(size);
  const s = plan.melPower.subarray(0, size);
  melPowerInto(plan, samples, s);
  return { rows: plan.mel.nMels, cols: frames, data: s };
}

/**
 * Trims silence as librosa 0.6.3 `effects.trim` does, with the config's parameters.
 * @returns the kept region, a view `[end − start]` of `samples`
 */
export function trimClip(samples: Float32Array, cfg: Pick<PreprocessConfig, 'trimTopDb' | 'trimFrameLength' | 'trimHopLength'>): Float32Array {
  return trimSilence(samples, { topDb: cfg.trimTopDb, frameLength: cfg.trimFrameLength, hopLength: cfg.trimHopLength }).trimmed;
}

/**
 * Image of an already trimmed waveform: centred zero pad to cfg.minSamples → log-mel → uint8
 * (or the float32 dB matrix when cfg.output is 'db').
 * Waveform augmentations use this on the output of {@link trimClip}.
 *
 * @param trimmed mono waveform `[n]` at cfg.sampleRate
 * @returns `[nMels][1 + floor(max(n, minSamples) / hopLength)]` uint8
 */
export function imageFromTrimmed(trimmed: Float32Array, cfg: PreprocessConfig): ClipImage {
  if (trimmed.length === 0) throw new Error('trimmed waveform must not be empty, got 0 samples');
  return kernelClipImage(trimmed, cfg, false) ?? imageFromPadded(padCentered(trimmed, cfg.minSamples), cfg);
}

/** The log-mel image (or dB matrix) of a padded clip, through the mel power buffers of the plan. */
function imageFromPadded(padded: Float32Array, cfg: PreprocessConfig): ClipImage {
  if (cfg.output === 'db') {
    // 'db' (PANNs): the network takes the dB matrix itself; logMelSpectrogram's array is fresh.
    const db = logMelSpectrogram(padded, cfg);
    return { nMels: db.rows, frames: db.cols, data: db.data };
  }
  // The mel power goes straight into the dB/image kernel's memory where that kernel runs.
  const plan = planFor(cfg);
  const frames = plan.stft.frames(padded.length);
  const size = plan.mel.nMels * frames;
  let s = powerBufferFor(size);
  if (s === null) {
    if (plan.melPower.length < size) plan.melPower = new Float64Array(size);
    s = plan.melPower.subarray(0, size);
  }
  melPowerInto(plan, padded, s);
  return imageFromPower(s, plan.mel.nMels, frames, { ref: cfg.dbRef, amin: cfg.dbAmin, topDb: cfg.dbTopDb }, cfg);
}

/**
 * The uint8 image of `samples` with every step in the WebAssembly kernel's memory: the clip is
 * copied in once, trimmed there (block sums on the kernel, the rest of trimSilence as always),
 * zero-padded and reflect-padded in place, and its mel power, dB and image computed where they
 * lie. Null where the kernel does not run (no SIMD, 'db' output, amin below the smallest normal
 * double): the caller takes the step-by-step path, which gives the same bytes.
 */
function kernelClipImage(samples: Float32Array, cfg: PreprocessConfig, trim: boolean): ClipImage | null {
  if (cfg.output === 'db' || !(cfg.dbAmin >= MIN_NORMAL)) return null;
  const plan = planFor(cfg);
  if (plan.wasm === null) return null;
  const n = samples.length;
  const { minSamples } = cfg;
  const pad = plan.stft.nFft / 2;
  if (!plan.stft.center) return null;
  // signal: [lead | clip (n) | room for the zero padding and the right reflection]; the padded
  // clip starts at most floor(minSamples / 2) before the kept region, so `lead` leaves room for
  // that and the left reflection.
  const lead = pad + Math.ceil(minSamples / 2);
  const wasm = wasmFor(plan, lead + n + minSamples + pad);
  if (wasm === null) return null;
  const signal = wasm.signal();
  signal.set(samples, lead);
  let start = 0;
  let end = n;
  if (trim) {
    const r = trimSilence(samples, { topDb: cfg.trimTopDb, frameLength: cfg.trimFrameLength, hopLength: cfg.trimHopLength },
      (first, hop, count) => wasm.blockSums(lead + first, hop, count));
    start = r.start;
    end = r.end;
  }
  const kept = end - start;
  if (kept === 0) throw new Error('trimmed waveform must not be empty, got 0 samples');
  // padCentered: zeros on both sides up to minSamples (the left floor((minSamples − kept) / 2)).
  const length = Math.max(kept, minSamples);
  const left = kept < minSamples ? Math.floor((minSamples - kept) / 2) : 0;
  const y0 = lead + start - left;
  signal.fill(0, y0, lead + start);
  signal.fill(0, lead + end, y0 + length);
  // StftPlan.padSignal: reflect by nFft / 2 on each side.
  for (let i = 0; i < pad; i++) {
    signal[y0 - pad + i] = signal[y0 + reflectIndex(i - pad, length)];
    signal[y0 + length + i] = signal[y0 + reflectIndex(length + i, length)];
  }
  const frames = plan.stft.frames(length);
  const power = wasm.melPowerAt(y0 - pad, frames);
  return kernelImage(wasm.images, power, plan.mel.nMels, frames, { ref: cfg.dbRef, amin: cfg.dbAmin, topDb: cfg.dbTopDb }, cfg);
}

/**
 * The reference preprocessing of one clip: trim → pad → log-mel → uint8 image (SPEC steps 2–5);
 * with `cfg.trim` false no trim, with `cfg.output` 'db' the float32 dB matrix instead of the image.
 *
 * @param samples mono waveform `[n]` at cfg.sampleRate (n ≥ 1)
 * @returns `[nMels][frames]` uint8 image, frames = 128 for clips of ≤ 2 s with the defaults
 */
export function clipImageFromSamples(samples: Float32Array, cfg: PreprocessConfig): ClipImage {
  if (samples.length === 0) throw new Error('samples must not be empty, got 0 samples');
  const trim = cfg.trim !== false;
  return kernelClipImage(samples, cfg, trim) ?? imageFromTrimmed(trim ? trimClip(samples, cfg) : samples, cfg);
}
