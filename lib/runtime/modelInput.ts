/** The network's input tensor, shared by training and inference. */
import * as tf from '@tensorflow/tfjs';

/**
 * Single-channel `[n][H][W]` → NHWC `[n, H, W, 3]` (three identical channels, as the reference).
 * The channels are interleaved here in JS and uploaded once: the wasm `Tile` kernel copies
 * element by element (≈0.4 s for a 32×128×128 batch on the development machine, ≈8 % of a
 * width-1/8 training step), this loop takes a few milliseconds. Same values either way.
 */
export function toModelInput(x: Float32Array, n: number, height: number, width: number): tf.Tensor4D {
  const pixels = n * height * width;
  if (x.length < pixels) throw new Error(`toModelInput: ${x.length} values for [${n}, ${height}, ${width}] (${pixels} needed)`);
  const rgb = new Float32Array(3 * pixels);
  for (let i = 0, j = 0; i < pixels; i++, j += 3) {
    const v = x[i];
    rgb[j] = v;
    rgb[j + 1] = v;
    rgb[j + 2] = v;
  }
  return tf.tensor4d(rgb, [n, height, width, 3]);
}
