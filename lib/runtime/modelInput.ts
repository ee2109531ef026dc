/** The network's input tensor, shared by training and inference. */
import * as tf from '@tensorflow/tfjs';

/**
 * Single-channel `[n][H][W]` → NHWC `[n, H, W, channels]`: three identical channels, as the
 * reference, for most networks; one for a network that makes its own channels (mobilenetv2's
 * channelStem). `channels` is the last axis of the model's input.
 * The channels are interleaved here in JS and uploaded once: the wasm `Tile` kernel copies
 * element by element (≈0.4 s for a 32×128×128 batch on the development machine, ≈8 % of a
 * width-1/8 training step), this loop takes a few milliseconds. Same values either way.
 */
export function toModelInput(x: Float32Array, n: number, height: number, width: number, channels = 3): tf.Tensor4D {
  const pixels = n * height * width;
  if (x.length !== pixels) throw new Error(`toModelInput: ${x.length} values for [${n}, ${height}, ${width}] (${pixels} needed)`);
  if (!Number.isInteger(channels) || channels < 1) throw new Error(`toModelInput: channels must be a positive integer, got ${channels}`);
  if (channels === 1) return tf.tensor4d(x, [n, height, width, 1]);
  const out = new Float32Array(channels * pixels);
  for (let i = 0, j = 0; i < pixels; i++, j += channels) {
    const v = x[i];
    for (let c = 0; c < channels; c++) out[j + c] = v;
  }
  return tf.tensor4d(out, [n, height, width, channels]);
}
