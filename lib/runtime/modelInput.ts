/** The network's input tensor, shared by training and inference. */
import * as tf from '@tensorflow/tfjs';
import type { InputNormalization } from '../config';
import { repeatChannels } from './kernels/padSlice';

/**
 * Single-channel `[n][H][W]` (0..1) → NHWC `[n, H, W, channels]`: three identical channels, as the
 * reference, for most networks; one for a network that makes its own channels (mobilenetv2's
 * mobilenetChannelStem). `channels` is the last axis of the model's input. Then `(x − mean[c]) / std[c]`
 * per channel when `normalization` is given (ModelConfig.inputNormalization, e.g. the imagenet
 * stats of an imported fastai model).
 * On wasm (without normalisation) the one channel is uploaded and a C kernel repeats it (a
 * 32×128×128 batch: 6–18 ms → ≈1 ms, measured on the 2-core AMD EPYC). Elsewhere the channels
 * are interleaved here in JS and uploaded once: the wasm `Tile` kernel copies element by element
 * (≈0.4 s for a 32×128×128 batch on the development machine, ≈8 % of a width-1/8 training
 * step), this loop takes a few milliseconds. Same values every way.
 */
export function toModelInput(
  x: Float32Array, n: number, height: number, width: number, channels = 3, normalization: InputNormalization | null = null,
): tf.Tensor4D {
  const pixels = n * height * width;
  if (x.length !== pixels) throw new Error(`toModelInput: ${x.length} values for [${n}, ${height}, ${width}] (${pixels} needed)`);
  if (!Number.isInteger(channels) || channels < 1) throw new Error(`toModelInput: channels must be a positive integer, got ${channels}`);
  if (normalization && (normalization.mean.length !== channels || normalization.std.length !== channels)) {
    throw new Error(`inputNormalization has ${normalization.mean.length} means and ${normalization.std.length} stds for a ${channels}-channel model input`);
  }
  if (channels === 1 && !normalization) return tf.tensor4d(x, [n, height, width, 1]);
  if (!normalization && tf.getBackend() === 'wasm') {
    // The one channel uploaded and repeated in C (./kernels/padSlice repeatChannels).
    const one = tf.tensor4d(x, [n, height, width, 1]);
    const repeated = repeatChannels(one, channels);
    one.dispose();
    if (repeated) return repeated;
  }
  const out = new Float32Array(channels * pixels);
  if (!normalization && channels === 3) {
    // The common case without the per-channel loop (a 32×128×128 batch with the upload: ≈7 → ≈4.5 ms).
    for (let i = 0, j = 0; i < pixels; i++, j += 3) {
      const v = x[i];
      out[j] = v;
      out[j + 1] = v;
      out[j + 2] = v;
    }
  } else {
    const mean = normalization ? normalization.mean : new Array<number>(channels).fill(0);
    const scale = normalization ? normalization.std.map((s) => 1 / s) : new Array<number>(channels).fill(1);
    for (let i = 0, j = 0; i < pixels; i++, j += channels) {
      const v = x[i];
      for (let c = 0; c < channels; c++) out[j + c] = (v - mean[c]) * scale[c];
    }
  }
  return tf.tensor4d(out, [n, height, width, channels]);
}

/** Checks a normalisation: 3 finite means, 3 positive finite stds; throws naming `where`. */
export function validateInputNormalization(n: InputNormalization, where: string): void {
  const ok = (a: unknown, positive: boolean) =>
    Array.isArray(a) && a.length === 3 && a.every((v) => typeof v === 'number' && Number.isFinite(v) && (!positive || v > 0));
  if (!ok(n.mean, false)) throw new Error(`${where}: inputNormalization.mean must be 3 finite numbers, got ${JSON.stringify(n.mean)}`);
  if (!ok(n.std, true)) throw new Error(`${where}: inputNormalization.std must be 3 positive numbers, got ${JSON.stringify(n.std)}`);
}
