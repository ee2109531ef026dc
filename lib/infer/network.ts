/**
 * A network that scores windows, on either engine: tfjs (a LayersModel, NHWC, on the current
 * backend) or ONNX Runtime (a model.onnx, NCHW, on native threads). Both take the same
 * single-channel windows `[n][H][W]` (0..1) and return logits `[n][C]`, so the predictor,
 * activation and averaging are one code path whatever the engine.
 */
import * as tf from '@tensorflow/tfjs';
import type { InputNormalization } from '../config';
import { toModelInput } from '../runtime/modelInput';
import { loadOnnxRuntime, ortSessionOptions, type OrtModule, type OrtSession } from '../runtime/onnxRuntime';

export type EngineName = 'ort' | 'tfjs';

export interface WindowNetwork {
  readonly engine: EngineName;
  /** Input channels (the single-channel window is repeated on each). */
  readonly channels: number;
  /** Input height (mel bands) and width (frames); null = any. */
  readonly height: number | null;
  readonly width: number | null;
  readonly numClasses: number;
  /** Logits `[n][numClasses]` of `n` windows `x` = `[n][height][width]` (row-major, 0..1). */
  logits(x: Float32Array, n: number, height: number, width: number): Promise<Float32Array>;
  /** Frees the weights (tfjs tensors, or the ORT session in the background). */
  dispose(): void;
}

/**
 * A tfjs LayersModel with NHWC input `[B, H, W, C]` and logits `[B, classes]`; `normalization`
 * (ModelConfig.inputNormalization) is applied to its input as in training.
 */
export function tfjsNetwork(model: tf.LayersModel, name: string, normalization: InputNormalization | null = null): WindowNetwork {
  const shape = model.inputs[0].shape;
  if (shape.length !== 4 || shape[3] == null) throw new Error(`${name}: model input must be [batch, mels, frames, channels], got [${shape.join(', ')}]`);
  const out = model.outputs[0].shape;
  if (out.length !== 2 || out[1] == null) throw new Error(`${name}: model outputs [${out.join(', ')}], expected [batch, classes]`);
  const channels = shape[3];
  return {
    engine: 'tfjs',
    channels,
    height: shape[1],
    width: shape[2],
    numClasses: out[1],
    async logits(x, n, height, width) {
      return tf.tidy(() => {
        return (model.predict(toModelInput(x, n, height, width, channels, normalization)) as tf.Tensor).dataSync() as Float32Array;
      });
    },
    dispose() {
      model.dispose();
    },
  };
}

/** Options of {@link ortNetwork}. */
export interface OrtNetworkOptions {
  /** ONNX Runtime intra-op threads (default: every core). */
  threads?: number;
  inputName?: string;
  outputName?: string;
  /** ModelConfig.inputNormalization: `(x − mean[c]) / std[c]` per channel, as in training. */
  normalization?: InputNormalization | null;
}

/**
 * An ONNX Runtime session of a model with NCHW input `[batch, C, H, W]` (dims as the file
 * declares them) and logits `[batch, classes]`. `name` (the file) appears in every error.
 */
export async function ortNetwork(model: Uint8Array, name: string, dims: { channels: number; height: number | null; width: number | null; numClasses: number }, options: OrtNetworkOptions = {}): Promise<WindowNetwork> {
  const { ort, reason } = loadOnnxRuntime();
  if (!ort) throw new Error(`${name}: ONNX Runtime is not available: ${reason}`);
  let session: OrtSession;
  try {
    session = await ort.InferenceSession.create(model, ortSessionOptions(options.threads));
  } catch (err) {
    throw new Error(`${name}: ONNX Runtime cannot load it (${(err as Error).message.split('\n')[0]}); export it again with fat2019 export --force`);
  }
  const inputName = options.inputName ?? session.inputNames[0];
  const outputName = options.outputName ?? session.outputNames[0];
  const { channels } = dims;
  const norm = options.normalization ?? null;
  if (norm && (norm.mean.length !== channels || norm.std.length !== channels)) {
    throw new Error(`${name}: inputNormalization has ${norm.mean.length} means and ${norm.std.length} stds for a ${channels}-channel model input`);
  }
  let buffer = new Float32Array(0);
  return {
    engine: 'ort',
    ...dims,
    async logits(x, n, height, width) {
      const plane = height * width;
      const size = n * channels * plane;
      // ORT reads the whole typed array: keep one exact-size buffer per batch size.
      if (buffer.length !== size) buffer = new Float32Array(size);
      for (let b = 0; b < n; b++) {
        const src = x.subarray(b * plane, (b + 1) * plane);
        for (let c = 0; c < channels; c++) {
          const offset = (b * channels + c) * plane;
          if (!norm) {
            buffer.set(src, offset);
            continue;
          }
          const mean = norm.mean[c];
          const scale = 1 / norm.std[c];
          for (let i = 0; i < plane; i++) buffer[offset + i] = (src[i] - mean) * scale;
        }
      }
      const out = await session.run({ [inputName]: new (ort as OrtModule).Tensor('float32', buffer, [n, channels, height, width]) });
      const y = out[outputName];
      if (!y || y.dims.length !== 2 || y.dims[0] !== n || y.dims[1] !== dims.numClasses) {
        throw new Error(`${name}: output ${outputName} has shape [${y?.dims.join(', ')}], expected [${n}, ${dims.numClasses}]`);
      }
      return Float32Array.from(y.data as Float32Array);
    },
    dispose() {
      void session.release();
    },
  };
}
