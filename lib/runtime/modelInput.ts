/** The network's input tensor, shared by training and inference. */
import * as tf from '@tensorflow/tfjs';

/** Single-channel `[n][H][W]` → NHWC `[n, H, W, 3]` (three identical channels, as the reference). */
export function toModelInput(x: Float32Array, n: number, height: number, width: number): tf.Tensor4D {
  return tf.tidy(() => tf.tensor4d(x, [n, height, width, 1]).tile([1, 1, 1, 3]) as tf.Tensor4D);
}
