/**
 * Ensemble prediction over clip images: sliding windows (./windows) through every member,
 * sigmoid scores averaged over windows and members.
 *
 * Memory stays bounded whatever the number of clips, their length or the ensemble size:
 * - one forward pass holds `infer.batchSize` windows (one `[batchSize, nMels, W, 3]` input);
 * - clips arrive in chunks from a {@link ClipSource} (predictDataset streams them from the
 *   feature cache), only the running sums `[numClips][C]` (float64) live for the whole run;
 * - a lazy ensemble holds one model's weights at a time: members are the outer loop and the
 *   clips are streamed again for each member; an eager ensemble streams the clips once and
 *   runs every member on each chunk.
 * Every tensor is made and freed inside one `tf.tidy` per forward pass.
 *
 * Means: 'arithmetic' = mean of the sigmoid probabilities over all windows of all members
 * (the reference); 'geometric' = exp of the mean log-probability (log σ computed from the
 * logits, so tiny probabilities do not underflow to log 0). Every member sees the same windows,
 * so averaging per window and member at once equals averaging over windows, then members.
 */
import * as tf from '@tensorflow/tfjs';
import type { InferConfig } from '../config';
import type { ClipImage } from '../features/types';
import { toModelInput } from '../runtime/modelInput';
import { activationOf, type Activation } from '../task/task';
import { memberName, resolveInferConfig, withMemberModel } from './ensemble';
import type { Ensemble, EnsembleMember, InferProgress, PredictOptions } from './types';
import { fillWindowBatch, planWindows } from './windows';

/** Clips to predict, read in chunks (e.g. from the feature cache) so they need not all be in memory. */
export interface ClipSource {
  count: number;
  /** Images of clips [start, end), in order. */
  load(start: number, end: number): Promise<ClipImage[]>;
  /** Clip name for error messages (default `clip <i>`). */
  name?(i: number): string;
  /** Clips per chunk (default: all at once). */
  chunkSize?: number;
}

/** Running per-clip sums of window scores (probabilities or log-probabilities). */
class ScoreSums {
  readonly sums: Float64Array;
  readonly counts: Float64Array;
  constructor(readonly numClips: number, readonly numClasses: number, readonly mean: InferConfig['ensembleMean']) {
    this.sums = new Float64Array(numClips * numClasses);
    this.counts = new Float64Array(numClips);
  }

  /** Adds one window's scores `values[offset .. offset + C)` to clip `clip`. */
  add(clip: number, values: ArrayLike<number>, offset: number): void {
    const C = this.numClasses;
    const row = clip * C;
    for (let c = 0; c < C; c++) this.sums[row + c] += values[offset + c];
    this.counts[clip]++;
  }

  /** Per-clip means `[numClips][C]` (probabilities). */
  result(): Float32Array {
    const C = this.numClasses;
    const out = new Float32Array(this.sums.length);
    for (let i = 0; i < this.numClips; i++) {
      const n = this.counts[i];
      if (n === 0) throw new Error(`internal: clip ${i} received no window scores`);
      for (let c = 0; c < C; c++) {
        const m = this.sums[i * C + c] / n;
        out[i * C + c] = this.mean === 'geometric' ? Math.exp(m) : m;
      }
    }
    return out;
  }
}

/** The model's input `[height, width]`; width must be the window size (null = any). */
function modelInput(model: tf.LayersModel, name: string, infer: InferConfig): { height: number | null; channels: number } {
  const shape = model.inputs[0].shape;
  if (shape.length !== 4 || (shape[3] !== 1 && shape[3] !== 3)) throw new Error(`${name}: model input must be [batch, mels, frames, 1 or 3], got [${shape.join(', ')}]`);
  if (shape[2] != null && shape[2] !== infer.windowFrames) {
    throw new Error(`${name}: model input is ${shape[2]} frames wide but infer.windowFrames is ${infer.windowFrames}`);
  }
  return { height: shape[1], channels: shape[3] };
}

/**
 * Adds the window scores of one member on `images` (clips `first ..`) to `sums`, `infer.batchSize`
 * windows per forward pass. `onPass(clipsDone)` after every pass: clips of `images` whose
 * windows are all done. Leaves no tensors behind.
 */
async function addMemberScores(
  model: tf.LayersModel,
  name: string,
  images: readonly ClipImage[],
  first: number,
  source: ClipSource,
  infer: InferConfig,
  sums: ScoreSums,
  onPass: (clipsDone: number) => void,
  activation: Activation = 'sigmoid',
): Promise<void> {
  const { height, channels } = modelInput(model, name, infer);
  images.forEach((img, i) => {
    if (height !== null && img.nMels !== height) {
      const clip = source.name ? source.name(first + i) : `clip ${first + i}`;
      throw new Error(`${clip}: image has ${img.nMels} mel bands, ${name} expects ${height} (preprocess config differs from the run's?)`);
    }
  });
  const windows = planWindows(images, infer.windowFrames, infer.windowShift);
  const C = sums.numClasses;
  const geometric = sums.mean === 'geometric';
  let buffer = new Float32Array(0);
  for (let b = 0; b < windows.length; b += infer.batchSize) {
    const batch = windows.slice(b, b + infer.batchSize);
    const nMels = images[batch[0].clip].nMels;
    if (batch.some((w) => images[w.clip].nMels !== nMels)) throw new Error(`${name}: clips of one batch differ in mel bands`);
    const size = batch.length * nMels * infer.windowFrames;
    if (buffer.length < size) buffer = new Float32Array(size);
    const x = buffer.subarray(0, size);
    fillWindowBatch(images, batch, infer.windowFrames, x);
    const scores = tf.tidy(() => {
      const logits = model.predict(toModelInput(x, batch.length, nMels, infer.windowFrames, channels)) as tf.Tensor;
      if (activation === 'softmax') return (geometric ? tf.logSoftmax(logits) : tf.softmax(logits)).dataSync();
      return (geometric ? tf.logSigmoid(logits) : tf.sigmoid(logits)).dataSync();
    });
    batch.forEach((w, j) => sums.add(first + w.clip, scores, j * C));
    const next = windows[b + infer.batchSize];
    onPass(next ? next.clip : images.length);
    // Let timers and I/O (progress output, notebook widgets) run between passes.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * Probabilities `[source.count][C]` (C = vocabulary length) of every clip of `source`: the
 * ensemble's windowed scores averaged as `infer.ensembleMean` says. See the module comment
 * for the order of work and the memory it needs.
 */
export async function predictSource(ensemble: Ensemble, source: ClipSource, options: PredictOptions = {}): Promise<Float32Array> {
  const infer = resolveInferConfig(ensemble, options.infer);
  // The run's task decides how logits become scores (sigmoid: multiLabel, softmax: singleLabel).
  const activation = options.activation ?? activationOf(ensemble.config);
  const n = source.count;
  const C = ensemble.vocabulary.length;
  const sums = new ScoreSums(n, C, infer.ensembleMean);
  if (n === 0) return new Float32Array(0);
  if (ensemble.members.length === 0) throw new Error('predict: the ensemble has no members');
  const chunk = Math.max(1, Math.min(n, source.chunkSize ?? n));
  const total = n * ensemble.members.length;
  const started = Date.now();
  let finished = 0;
  const report = (member: EnsembleMember, done: number): void => {
    if (!options.onProgress) return;
    const elapsedSec = (Date.now() - started) / 1000;
    const p: InferProgress = { done, total, member, elapsedSec, etaSec: done > 0 ? (elapsedSec / done) * (total - done) : null };
    options.onProgress(p);
  };
  const run = async (model: tf.LayersModel, member: EnsembleMember, images: ClipImage[], first: number): Promise<void> => {
    if (images.length !== Math.min(chunk, n - first)) throw new Error(`internal: clip source returned ${images.length} images for clips ${first}..`);
    await addMemberScores(model, memberName(member), images, first, source, infer, sums, (clipsDone) => report(member, finished + clipsDone), activation);
    finished += images.length;
  };
  if (ensemble.lazy) {
    for (const member of ensemble.members) {
      await withMemberModel(ensemble, member, async (model) => {
        for (let first = 0; first < n; first += chunk) await run(model, member, await source.load(first, Math.min(n, first + chunk)), first);
      });
    }
  } else {
    for (let first = 0; first < n; first += chunk) {
      const images = await source.load(first, Math.min(n, first + chunk));
      for (const member of ensemble.members) await withMemberModel(ensemble, member, (model) => run(model, member, images, first));
    }
  }
  return sums.result();
}

/**
 * Probabilities `[images.length][C]` of in-memory clip images (C = ensemble.vocabulary.length),
 * averaged over windows and members. Leaves no tensors behind.
 */
export function predictImages(ensemble: Ensemble, images: readonly ClipImage[], options: PredictOptions = {}): Promise<Float32Array> {
  return predictSource(ensemble, { count: images.length, load: async (s, e) => images.slice(s, e) }, options);
}
