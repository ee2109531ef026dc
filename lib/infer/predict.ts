/**
 * Ensemble prediction over clip images: sliding windows (./windows) through every member,
 * the task's activation (sigmoid by default) on each window's logits, averaged over windows and
 * members (./scores).
 *
 * Memory stays bounded whatever the number of clips, their length or the ensemble size:
 * - one forward pass holds `infer.batchSize` windows (one `[batchSize, nMels, W]` input);
 * - clips arrive in chunks from a {@link ClipSource} (predictDataset streams them from the
 *   feature cache), only the running sums `[numClips][C]` (float64) live for the whole run;
 * - a lazy ensemble holds one model's weights at a time: members are the outer loop and the
 *   clips are streamed again for each member; an eager ensemble streams the clips once and
 *   runs every member on each chunk.
 * Members run on the ensemble's engine (./network: tfjs or ONNX Runtime), which returns logits;
 * the activation and the averaging are done here, the same for both.
 *
 * Means: 'arithmetic' = mean of the probabilities over all windows of all members
 * (the reference); 'geometric' = exp of the mean log-probability (computed from the
 * logits, so tiny probabilities do not underflow to log 0). Every member sees the same windows,
 * so averaging per window and member at once equals averaging over windows, then members.
 */
import type { InferConfig } from '../config';
import type { ClipImage } from '../features/types';
import { memberName, resolveInferConfig, withMemberNetwork } from './ensemble';
import type { WindowNetwork } from './network';
import type { Ensemble, EnsembleMember, InferProgress, PredictOptions } from './types';
import { checkActivation } from './activation';
import { activationOf } from '../task/task';
import { WindowScoreSums } from './scores';
import { predictWindows } from './windowPredictor';

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

/**
 * Adds the window scores of one member on `images` (clips `first ..`) to `sums`, `infer.batchSize`
 * windows per forward pass (the window predictor, ./windowPredictor); windows of consecutive
 * clips share a pass. `onPass(clipsDone)` after every pass: clips of `images` whose windows are
 * all done. Leaves no tensors behind.
 */
function addMemberScores(
  net: WindowNetwork,
  name: string,
  images: readonly ClipImage[],
  first: number,
  source: ClipSource,
  infer: InferConfig,
  sums: WindowScoreSums,
  onPass: (clipsDone: number) => void,
): Promise<void> {
  return predictWindows(net, images, {
    windowFrames: infer.windowFrames,
    windowShift: infer.windowShift,
    batchSize: infer.batchSize,
    name,
    clipName: (i) => (source.name ? source.name(first + i) : `clip ${first + i}`),
    numClasses: sums.numClasses,
    onPass,
    // Let timers and I/O (progress output, notebook widgets) run between passes.
    yieldBetweenPasses: () => new Promise<void>((resolve) => setImmediate(resolve)),
  }, (w, _index, logits, offset) => sums.addLogits(first + w.clip, logits, offset));
}

/**
 * Probabilities `[source.count][C]` (C = vocabulary length) of every clip of `source`: the
 * ensemble's windowed scores averaged as `infer.ensembleMean` says. See the module comment
 * for the order of work and the memory it needs.
 */
export async function predictSource(ensemble: Ensemble, source: ClipSource, options: PredictOptions = {}): Promise<Float32Array> {
  const infer = resolveInferConfig(ensemble, options.infer);
  const n = source.count;
  const C = ensemble.vocabulary.length;
  // Default: the run's task (lib/task: sigmoid for multiLabel, softmax for singleLabel).
  const sums = new WindowScoreSums(n, C, infer.ensembleMean, checkActivation(options.activation ?? activationOf(ensemble.config)));
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
  const run = async (net: WindowNetwork, member: EnsembleMember, images: ClipImage[], first: number): Promise<void> => {
    if (images.length !== Math.min(chunk, n - first)) throw new Error(`internal: clip source returned ${images.length} images for clips ${first}..`);
    await addMemberScores(net, memberName(member), images, first, source, infer, sums, (clipsDone) => report(member, finished + clipsDone));
    finished += images.length;
  };
  if (ensemble.lazy) {
    for (const member of ensemble.members) {
      await withMemberNetwork(ensemble, member, async (net) => {
        for (let first = 0; first < n; first += chunk) await run(net, member, await source.load(first, Math.min(n, first + chunk)), first);
      });
    }
  } else {
    // The next chunk is requested before this one is predicted, so a source that works off the
    // main thread (predictDataset's preprocessing workers) prepares it while the network runs.
    let next: Promise<ClipImage[]> | null = source.load(0, Math.min(n, chunk));
    for (let first = 0; first < n; first += chunk) {
      const images = await next!;
      next = first + chunk < n ? source.load(first + chunk, Math.min(n, first + 2 * chunk)) : null;
      // An error in this chunk must not leave the prefetch's rejection unhandled.
      next?.catch(() => undefined);
      for (const member of ensemble.members) await withMemberNetwork(ensemble, member, (net) => run(net, member, images, first));
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
