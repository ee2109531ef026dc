/** The network's input tensor, shared by training and inference. */
import * as tf from '@tensorflow/tfjs';
import type { InputNormalization } from '../config';

/**
 * Single-channel `[n][H][W]` (0..1) → NHWC `[n, H, W, channels]`: three identical channels, as the
 * reference, for most networks; one for a network that makes its own channels (mobilenetv2's
 * channelStem). `channels` is the last axis of the model's input. Then `(x − mean[c]) / std[c]`
 * per channel when `normalization` is given (ModelConfig.inputNormalization, e.g. the imagenet
 * stats of an imported fastai model).
 */
export function toModelInput(
  x: Float32Array, n: number, height: number, width: number, channels = 3, normalization: InputNormalization | null = null,
): tf.Tensor4D {
  if (normalization && (normalization.mean.length !== channels || normalization.std.length !== channels)) {
    throw new Error(`inputNormalization has ${normalization.mean.length} means and ${normalization.std.length} stds for a ${channels}-channel model input`);
  }
  return tf.tidy(() => {
    const image = tf.tensor4d(x, [n, height, width, 1]);
    const tiled = (channels === 1 ? image : image.tile([1, 1, 1, channels])) as tf.Tensor4D;
    if (!normalization) return tiled;
    return tiled.sub(tf.tensor1d(normalization.mean)).div(tf.tensor1d(normalization.std)) as tf.Tensor4D;
  });
}

/** Checks a normalisation: 3 finite means, 3 positive finite stds; throws naming `where`. */
export function validateInputNormalization(n: InputNormalization, where: string): void {
  const ok = (a: unknown, positive: boolean) =>
    Array.isArray(a) && a.length === 3 && a.every((v) => typeof v === 'number' && Number.isFinite(v) && (!positive || v > 0));
  if (!ok(n.mean, false)) throw new Error(`${where}: inputNormalization.mean must be 3 finite numbers, got ${JSON.stringify(n.mean)}`);
  if (!ok(n.std, true)) throw new Error(`${where}: inputNormalization.std must be 3 positive numbers, got ${JSON.stringify(n.std)}`);
}
