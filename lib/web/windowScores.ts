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
import { activateRow, checkActivation, type OutputActivation } from '../infer/activation';
import { windowStarts } from '../infer/windows';
import { tfjsNetwork } from '../infer/windowNetwork';
import { predictWindows } from '../infer/windowPredictor';

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
  const C = numClasses;
  const starts = windowStarts(image.frames, infer.windowFrames, infer.windowShift);
  const n = starts.length;
  // Sums over members per window, float64 as lib/infer/scores' WindowScoreSums.
  const sums = new Float64Array(n * C);
  const total = n * models.length;
  const row = new Float64Array(C);
  for (const [m, model] of models.entries()) {
    // The one window predictor (lib/infer/windowPredictor), with a per-window reducer.
    const name = models.length === 1 ? 'the model' : `model ${m}`;
    // The page keeps its models; the network's folded weights (../infer/foldedModel) are freed after the clip.
    const net = tfjsNetwork(model, name, normalizations[m], { ownsModel: false });
    try {
      await predictWindows(net, [image], {
        windowFrames: infer.windowFrames,
        windowShift: infer.windowShift,
        batchSize: Math.max(1, infer.batchSize),
        name,
        clipName: () => 'the clip',
        numClasses: C,
        onPass: (_clips, windowsDone) => options.onProgress?.({ done: m * n + windowsDone, total }),
        yieldBetweenPasses: options.yieldBetweenPasses,
      }, (_w, index, logits, offset) => {
        activateRow(logits, offset, C, activation, geometric, row);
        const base = index * C;
        for (let c = 0; c < C; c++) sums[base + c] += row[c];
      });
    } finally {
      net.dispose();
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
  return { starts, windows: windowScores, clip };
}
