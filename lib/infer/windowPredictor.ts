/**
 * The one window predictor: cuts the windows of clip images (./windows), batches them through
 * a network (./windowNetwork: tfjs, ONNX Runtime, in a worker thread or the browser's Web
 * Worker) and hands each window's logits to a reducer, which applies the task's activation and
 * averages per clip ({@link WindowScoreSums}) or per window (the web page's timeline).
 * The ensemble predictor (./predict), training's validation and out-of-fold predictions
 * (./modelPredict), `infer`, `tag`, the notebooks and the web page (lib/web/windowScores) all
 * run their windows through {@link predictWindows} (or {@link predictWindowsSync}, the same
 * passes for a network that runs in this thread).
 *
 * Browser-safe: no Node module is imported here.
 */
import type { ClipImage } from '../features/types';
import type { WindowNetwork } from './windowNetwork';
import { fillWindowBatch, planWindows, windowBatches, type InferenceWindow, type WindowMode } from './windows';

/** Receives the logits of each window: `logits[offset .. offset + C)` of window `index` (of the plan). */
export type WindowReducer = (window: InferenceWindow, index: number, logits: Float32Array, offset: number) => void;

/** How windows are cut and batched, and who is told about the passes. */
export interface WindowPassOptions {
  windowFrames: number;
  windowShift: number;
  /** Windows per forward pass (memory only). */
  batchSize: number;
  /** 'sliding' (default): every window of the reference; 'centre': one per clip. */
  mode?: WindowMode;
  /** The network's name in errors (a member name, a file). */
  name: string;
  /** Clip `i`'s name in errors (default `clip <i>`). */
  clipName?: (i: number) => string;
  /** The class count the caller expects (the run's vocabulary); checked against the network. */
  numClasses: number;
  /** After every pass: how many clips of `images` have all their windows done. */
  onPass?: (clipsDone: number, windowsDone: number) => void;
  /** Awaited after each pass, to let the caller's event loop run (progress, widgets). */
  yieldBetweenPasses?: () => Promise<void>;
}

/** One forward pass to run: `n` windows in `x` = `[n][nMels][windowFrames]`. */
interface PassRequest {
  x: Float32Array;
  n: number;
  nMels: number;
  /** Window width of this pass: windowFrames, or a short clip's own width (a network of any width). */
  frames: number;
}

/**
 * The passes over `images` as a generator: it yields each batch's input and is resumed with
 * that batch's logits. Checks first (window width, mel bands, class count: errors name the
 * clip and the network), then reduces every window's logits with `reduce`.
 */
function* windowPasses(net: WindowNetwork, images: readonly ClipImage[], options: WindowPassOptions, reduce: WindowReducer): Generator<PassRequest, void, Float32Array> {
  const { name, windowFrames: W, batchSize, numClasses: C } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`${name}: batchSize must be an integer >= 1, got ${batchSize}`);
  if (net.width != null && net.width !== W) throw new Error(`${name}: model input is ${net.width} frames wide but infer.windowFrames is ${W}`);
  if (net.numClasses !== C) throw new Error(`${name} outputs ${net.numClasses} classes, the run's vocabulary has ${C}`);
  images.forEach((img, i) => {
    if (net.height !== null && img.nMels !== net.height) {
      throw new Error(`${options.clipName?.(i) ?? `clip ${i}`}: image has ${img.nMels} mel bands, ${name} expects ${net.height} (preprocess config differs from the run's?)`);
    }
  });
  // A network of any width (net.width null: PANNs, which pools globally) takes a short clip
  // whole rather than padded (but at least its minimum width); batches then hold windows of one width.
  const windows = planWindows(images, W, options.windowShift, options.mode ?? 'sliding', net.width == null ? { minFrames: net.minWidth } : null);
  let buffer = new Float32Array(0);
  let b = 0;
  for (const { windows: batch, frames } of windowBatches(windows, W, batchSize)) {
    const nMels = images[batch[0].clip].nMels;
    if (batch.some((w) => images[w.clip].nMels !== nMels)) throw new Error(`${name}: clips of one batch differ in mel bands`);
    const size = batch.length * nMels * frames;
    if (buffer.length < size) buffer = new Float32Array(size);
    const x = buffer.subarray(0, size);
    fillWindowBatch(images, batch, frames, x);
    const logits = yield { x, n: batch.length, nMels, frames };
    if (logits.length !== batch.length * C) throw new Error(`${name}: returned ${logits.length / batch.length} scores per window, the vocabulary has ${C} classes`);
    batch.forEach((w, j) => reduce(w, b + j, logits, j * C));
    b += batch.length;
    const next = windows[b];
    options.onPass?.(next ? next.clip : images.length, b);
  }
}

/** Runs every window of `images` through `net`, `batchSize` per pass, handing each window's logits to `reduce`. */
export async function predictWindows(net: WindowNetwork, images: readonly ClipImage[], options: WindowPassOptions, reduce: WindowReducer): Promise<void> {
  const passes = windowPasses(net, images, options, reduce);
  for (let pass = passes.next(); !pass.done;) {
    const { x, n, nMels, frames } = pass.value as PassRequest;
    const logits = await net.logits(x, n, nMels, frames);
    pass = passes.next(logits);
    if (options.yieldBetweenPasses) await options.yieldBetweenPasses();
  }
}

/** {@link predictWindows}, synchronously, for a network that runs in this thread (`logitsSync`: tfjs). */
export function predictWindowsSync(net: WindowNetwork, images: readonly ClipImage[], options: WindowPassOptions, reduce: WindowReducer): void {
  const logitsSync = net.logitsSync;
  if (!logitsSync) throw new Error(`${options.name}: a ${net.engine} network runs asynchronously; use predictWindows`);
  const passes = windowPasses(net, images, options, reduce);
  for (let pass = passes.next(); !pass.done;) {
    const { x, n, nMels, frames } = pass.value as PassRequest;
    pass = passes.next(logitsSync.call(net, x, n, nMels, frames));
  }
}
