/**
 * What the window predictor (./windowPredictor) runs: a network that scores single-channel
 * windows `[n][H][W]` (0..1) and returns logits `[n][C]`, whatever the engine: tfjs here (a
 * LayersModel on the current backend, also in the browser's worker), ONNX Runtime in ./network
 * (Node only).
 */
import * as tf from '@tensorflow/tfjs';
import type { InputNormalization } from '../config';
import { toModelInput } from '../runtime/modelInput';
import { foldModel } from './foldedModel';

export type EngineName = 'ort' | 'tfjs';

export interface WindowNetwork {
  readonly engine: EngineName;
  /** Input channels (the single-channel window is repeated on each). */
  readonly channels: number;
  /** Input height (mel bands) and width (frames); null = any. */
  readonly height: number | null;
  readonly width: number | null;
  /** Fewest frames a network of any width (width null) accepts; shorter clips are padded to it. 1 when width is fixed. */
  readonly minWidth: number;
  readonly numClasses: number;
  /** Logits `[n][numClasses]` of `n` windows `x` = `[n][height][width]` (row-major, 0..1). */
  logits(x: Float32Array, n: number, height: number, width: number): Promise<Float32Array>;
  /** The same, synchronously: networks that run in this thread (tfjs), for synchronous callers (training's validation). */
  logitsSync?(x: Float32Array, n: number, height: number, width: number): Float32Array;
  /** Frees the weights (tfjs tensors, or the ORT session in the background). */
  dispose(): void;
}

/** Options of {@link tfjsNetwork}. */
export interface TfjsNetworkOptions {
  /**
   * Run the model compiled by ./foldedModel (BatchNorm folded into the convs, conv + bias +
   * ReLU as one kernel, the batch in one pass); default on, FAT2019_INFER_FOLD=0 turns it off
   * (A/B timing). Off, or for a model it cannot compile: `model.predict`.
   */
  fold?: boolean;
  /** dispose() frees the model too (default true); false for a model its caller keeps (training's validation). */
  ownsModel?: boolean;
}

const foldByDefault = !/^(0|false|off)$/i.test(typeof process !== 'undefined' ? process.env?.FAT2019_INFER_FOLD ?? '' : '');

/**
 * The product of the width strides of a model's pooling and convolution layers: the fewest
 * input frames for which no layer's output is empty, when (as in PANNs) each pool's window
 * equals its stride. Why it matters: a map pooled down to nothing makes the global pool's mean
 * NaN (and XNNPACK's empty pools wrote out of bounds, see lib/runtime/kernels/poolForward).
 */
export function minInputWidth(model: tf.LayersModel): number {
  let factor = 1;
  for (const layer of model.layers) {
    const strides = (layer.getConfig() as { strides?: number | number[] }).strides;
    const s = Array.isArray(strides) ? strides[1] ?? strides[0] : strides;
    if (typeof s === 'number' && s > 1) factor *= s;
  }
  return factor;
}

/**
 * A tfjs LayersModel with NHWC input `[B, H, W, C]` and logits `[B, classes]`; `normalization`
 * (ModelConfig.inputNormalization) is applied to its input as in training. The weights are
 * read (and folded) here, once: a model whose weights change later needs a new network.
 */
export function tfjsNetwork(model: tf.LayersModel, name: string, normalization: InputNormalization | null = null, options: TfjsNetworkOptions = {}): WindowNetwork {
  const shape = model.inputs[0].shape;
  if (shape.length !== 4 || shape[3] == null) throw new Error(`${name}: model input must be [batch, mels, frames, channels], got [${shape.join(', ')}]`);
  const out = model.outputs[0].shape;
  if (out.length !== 2 || out[1] == null) throw new Error(`${name}: model outputs [${out.join(', ')}], expected [batch, classes]`);
  const channels = shape[3];
  // Without normalisation the input's channels are copies of the window: the folded network
  // may take it on one channel (./foldedModel FoldOptions.repeatedInput).
  const folded = options.fold ?? foldByDefault ? foldModel(model, { repeatedInput: normalization === null }) : null;
  const logitsSync = (x: Float32Array, n: number, height: number, width: number): Float32Array => tf.tidy(() => {
    const y = folded
      ? folded.predict(toModelInput(x, n, height, width, folded.inputChannels, normalization))
      : model.predict(toModelInput(x, n, height, width, channels, normalization)) as tf.Tensor;
    return y.dataSync() as Float32Array;
  });
  return {
    engine: 'tfjs',
    channels,
    height: shape[1],
    width: shape[2],
    minWidth: shape[2] == null ? minInputWidth(model) : 1,
    numClasses: out[1],
    logitsSync,
    async logits(x, n, height, width) {
      return logitsSync(x, n, height, width);
    },
    dispose() {
      folded?.dispose();
      if (options.ownsModel ?? true) model.dispose();
    },
  };
}
