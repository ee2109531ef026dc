/**
 * One in-memory tfjs model on in-memory clip images, synchronously: the predictor training's
 * validation and out-of-fold steps call on the model they are training (lib/train may import
 * lib/infer, never the reverse). The same windows, activation and averaging as the ensemble
 * predictor (./predict), so a validation score and an inference score of one model agree.
 */
import * as tf from '@tensorflow/tfjs';
import type { InputNormalization } from '../config';
import type { ClipImage } from '../features/types';
import { exportModelBytes } from '../export/onnxFile';
import { checkActivation, type OutputActivation } from './activation';
import { chooseEngine, type EngineChoice, type EnginePreference } from './engine';
import { ortNetwork } from './network';
import { minInputWidth, tfjsNetwork } from './windowNetwork';
import { predictWindows, predictWindowsSync, type WindowPassOptions } from './windowPredictor';
import { WindowScoreSums, type EnsembleMean } from './scores';
import type { WindowMode } from './windows';

/** Options of {@link predictClipImages}. */
export interface ClipPredictOptions {
  /** Window width in frames; default (and required to equal) the model's input width. */
  windowFrames?: number;
  /** Frames between sliding windows (default 48, the reference). */
  windowShift?: number;
  /** Windows per forward pass (default 32; memory only). */
  batchSize?: number;
  /** 'sliding' (default): every window of the reference; 'centre': one centre window per clip. */
  mode?: WindowMode;
  /** The task's activation (default 'sigmoid': multi-label). */
  activation?: OutputActivation;
  /** How window scores are averaged (default 'arithmetic'). */
  mean?: EnsembleMean;
  /** Clip names for error messages (default `clip <i>`). */
  names?: readonly string[];
  /** ModelConfig.inputNormalization: `(x − mean[c]) / std[c]` per channel, as in training. */
  inputNormalization?: InputNormalization | null;
}

/** `[height, width]` and channels of a model taking NHWC `[B, H, W, C]`; throws naming the shape otherwise. */
export function modelInputSize(model: tf.LayersModel, name: string): { height: number | null; width: number | null; channels: number } {
  const shape = model.inputs[0].shape;
  if (shape.length !== 4 || shape[3] == null) throw new Error(`${name}: model input must be [batch, mels, frames, channels], got [${shape.join(', ')}]`);
  return { height: shape[1], width: shape[2], channels: shape[3] };
}

/** Number of classes of a model with logits `[B, C]`; throws naming the shape otherwise. */
export function modelClassCount(model: tf.LayersModel, name: string): number {
  const out = model.outputs[0].shape;
  if (out.length !== 2 || out[1] == null) throw new Error(`${name}: model outputs [${out.join(', ')}], expected [batch, classes]`);
  return out[1];
}

/** The checked window options of {@link predictClipImages} / {@link predictModelClips}. */
function clipWindowOptions(caller: string, width: number | null, numClasses: number, options: ClipPredictOptions): WindowPassOptions {
  const frames = options.windowFrames ?? width;
  if (frames == null) throw new Error(`${caller}: the model accepts any width; give windowFrames`);
  if (width != null && frames !== width) throw new Error(`${caller}: windowFrames (${frames}) must equal the model input width ${width}`);
  const shift = options.windowShift ?? 48;
  const batchSize = options.batchSize ?? 32;
  for (const [name, v] of [['windowFrames', frames], ['windowShift', shift], ['batchSize', batchSize]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${caller}: ${name} must be an integer >= 1, got ${v}`);
  }
  const names = options.names;
  return { windowFrames: frames, windowShift: shift, batchSize, mode: options.mode ?? 'sliding', name: 'the model', numClasses, clipName: names ? (i) => names[i] ?? `clip ${i}` : undefined };
}

/**
 * Per-clip probabilities `[images.length][C]` of `model` (C = its output width): the task's
 * activation on each window's logits, averaged over the clip's windows. Leaves no tensors behind.
 * A clip whose mel bands differ from the model's input height throws, naming the clip.
 */
export function predictClipImages(model: tf.LayersModel, images: readonly ClipImage[], options: ClipPredictOptions = {}): Float32Array {
  const { width } = modelInputSize(model, 'predictClipImages');
  const numClasses = modelClassCount(model, 'predictClipImages');
  const windows = clipWindowOptions('predictClipImages', width, numClasses, options);
  const sums = new WindowScoreSums(images.length, numClasses, options.mean ?? 'arithmetic', checkActivation(options.activation ?? 'sigmoid'));
  if (images.length === 0) return new Float32Array(0);
  // The model stays the caller's (training goes on with it); its folded copy is freed here.
  const net = tfjsNetwork(model, 'the model', options.inputNormalization ?? null, { ownsModel: false });
  try {
    predictWindowsSync(net, images, windows, (w, _index, logits, offset) => sums.addLogits(w.clip, logits, offset));
  } finally {
    net.dispose();
  }
  return sums.result();
}

/** Options of {@link predictModelClips}: those of {@link predictClipImages} and the engine. */
export interface ModelClipsOptions extends ClipPredictOptions {
  /** 'auto' (default): ONNX Runtime when it loads (the model is exported in memory), else tfjs. */
  engine?: EnginePreference | EngineChoice;
  /** ONNX Runtime threads (default every core). */
  threads?: number;
}

/**
 * {@link predictClipImages} on the fastest engine: the in-memory model is exported to ONNX
 * (lib/export, no file written) and run by ONNX Runtime when it loads, else by tfjs. For the
 * out-of-fold predictions after each fold's training (thousands of clips) the export costs well
 * under a second and the windows run several times faster. Same windows, activation and means;
 * scores equal the tfjs ones within 1e-4.
 */
export async function predictModelClips(model: tf.LayersModel, images: readonly ClipImage[], options: ModelClipsOptions = {}): Promise<Float32Array> {
  const engine = typeof options.engine === 'object' ? options.engine : chooseEngine(options.engine ?? 'auto', options.threads);
  if (engine.engine === 'tfjs') return predictClipImages(model, images, options);
  const { height, width, channels } = modelInputSize(model, 'predictModelClips');
  const numClasses = modelClassCount(model, 'predictModelClips');
  const net = await ortNetwork(exportModelBytes(model), `${model.name} (exported in memory)`, { channels, height, width, minWidth: minInputWidth(model), numClasses }, { threads: engine.threads, normalization: options.inputNormalization ?? null });
  try {
    const windows = clipWindowOptions('predictModelClips', width, numClasses, options);
    const sums = new WindowScoreSums(images.length, numClasses, options.mean ?? 'arithmetic', checkActivation(options.activation ?? 'sigmoid'));
    if (images.length === 0) return new Float32Array(0);
    await predictWindows(net, images, windows, (w, _index, logits, offset) => sums.addLogits(w.clip, logits, offset));
    return sums.result();
  } finally {
    net.dispose();
  }
}
