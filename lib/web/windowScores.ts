/**
 * Scores of every sliding window of one clip image, kept per window (the browser page draws
 * them as a timeline) and averaged into the clip's probabilities as lib/infer/predict does:
 * every member sees the same windows (lib/infer/windows), the same input (lib/runtime/modelInput,
 * with the run's input normalisation), and each window's logits go through the same activation
 * (lib/infer/activation, float64), averaged arithmetically, or geometrically through the log.
 *
 * Runs in a Web Worker and in Node alike (tfjs only, no file system, no ONNX Runtime), so a
 * Node test can hold it against `predictImages`.
 */
import * as tf from '@tensorflow/tfjs';
import type { InferConfig, InputNormalization } from '../config';
import type { ClipImage } from '../features/types';
import { toModelInput } from '../runtime/modelInput';
import { activateRow, checkActivation, type OutputActivation } from '../infer/activation';
import { fillWindowBatch, planWindows, windowBatches } from '../infer/windows';

/** How a model's logits become class scores: independent classes or one class per clip. */
export type Activation = OutputActivation;

/** Per-window and per-clip scores of one clip. */
export interface ClipWindowScores {
  /** First image frame of each window, ascending. */
  starts: number[];
  /** Window scores `[starts.length][C]`: the members' mean (arithmetic, or geometric per `ensembleMean`). */
  windows: Float32Array;
  /** Clip probabilities `[C]`: the mean over windows and members (what `fat2019 tag` ranks). */
  clip: Float32Array;
}

/** Progress in window passes: one window through one model = 1. */
export interface WindowProgress {
  done: number;
  total: number;
}

/** Options of {@link scoreClipWindows}. */
export interface ScoreWindowsOptions {
  activation?: Activation;
  /**
   * The run's ModelConfig.inputNormalization (imported models), applied as in training; or one
   * per model (members imported from different training runs have their own).
   */
  normalization?: InputNormalization | null | readonly (InputNormalization | null)[];
  onProgress?: (p: WindowProgress) => void;
  /** Awaited after each forward pass, to let the caller's event loop run (default: none). */
  yieldBetweenPasses?: () => Promise<void>;
}

/**
 * Scores every window of `image` with each of `models` (input NHWC `[B, nMels, W, channels]`,
 * output logits `[B, C]`), `infer.batchSize` windows per pass. Leaves no tensors behind.
 */
export async function scoreClipWindows(
  models: readonly tf.LayersModel[],
  image: ClipImage,
  infer: InferConfig,
  numClasses: number,
  options: ScoreWindowsOptions = {},
): Promise<ClipWindowScores> {
  if (models.length === 0) throw new Error('scoreClipWindows: no models');
  const activation = checkActivation(options.activation ?? 'sigmoid');
  const normalizations = Array.isArray(options.normalization) ? options.normalization : models.map(() => (options.normalization ?? null) as InputNormalization | null);
  if (normalizations.length !== models.length) throw new Error(`scoreClipWindows: ${normalizations.length} normalisations for ${models.length} models`);
  const geometric = infer.ensembleMean === 'geometric';
  const W = infer.windowFrames;
  const C = numClasses;
  // Networks that take any width (PANNs) score a short clip whole, as lib/infer/predict does.
  const anyWidth = models.every((m) => m.inputs[0].shape[2] == null);
  const windows = planWindows([image], W, infer.windowShift, 'sliding', anyWidth);
  const batches = windowBatches(windows, W, Math.max(1, infer.batchSize));
  const n = windows.length;
  // Sums over members per window, float64 as lib/infer/scores' WindowScoreSums.
  const sums = new Float64Array(n * C);
  const total = n * models.length;
  let done = 0;
  const batchSize = Math.max(1, infer.batchSize);
  const buffer = new Float32Array(Math.min(batchSize, n) * image.nMels * W);
  const row = new Float64Array(C);
  for (const [m, model] of models.entries()) {
    const normalization = normalizations[m];
    // Channels of the model's input: the image repeated to fill them (lib/runtime/modelInput).
    const [, height, width, channelsOrNull] = model.inputs[0].shape;
    const channels = channelsOrNull ?? 3;
    if (height != null && height !== image.nMels) throw new Error(`the image has ${image.nMels} mel bands, the model expects ${height} (preprocess config differs from the run's?)`);
    if (width != null && width !== W) throw new Error(`the model's input is ${width} frames wide but infer.windowFrames is ${W}`);
    const out = model.outputs[0].shape;
    if (out[out.length - 1] !== C) throw new Error(`model outputs ${out[out.length - 1]} classes, the run's vocabulary has ${C}`);
    let b = 0;
    for (const { windows: batch, frames } of batches) {
      const x = buffer.subarray(0, batch.length * image.nMels * frames);
      fillWindowBatch([image], batch, frames, x);
      const logits = tf.tidy(() => (model.predict(toModelInput(x, batch.length, image.nMels, frames, channels, normalization)) as tf.Tensor).dataSync());
      for (let j = 0; j < batch.length; j++) {
        activateRow(logits, j * C, C, activation, geometric, row);
        const base = (b + j) * C;
        for (let c = 0; c < C; c++) sums[base + c] += row[c];
      }
      done += batch.length;
      b += batch.length;
      options.onProgress?.({ done, total });
      if (options.yieldBetweenPasses) await options.yieldBetweenPasses();
    }
  }
  const M = models.length;
  const windowScores = new Float32Array(n * C);
  const clipSums = new Float64Array(C);
  for (let w = 0; w < n; w++) {
    for (let c = 0; c < C; c++) {
      const s = sums[w * C + c];
      clipSums[c] += s;
      const m = s / M;
      windowScores[w * C + c] = geometric ? Math.exp(m) : m;
    }
  }
  const clip = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const m = clipSums[c] / (n * M);
    clip[c] = geometric ? Math.exp(m) : m;
  }
  return { starts: windows.map((w) => w.start), windows: windowScores, clip };
}
