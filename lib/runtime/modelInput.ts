/** The network's input tensor, shared by training and inference. */
import * as tf from '@tensorflow/tfjs';

/**
 * Single-channel `[n][H][W]` → NHWC `[n, H, W, channels]`: three identical channels, as the
 * reference, for most networks; one for a network that makes its own channels (mobilenetv2's
 * channelStem). `channels` is the last axis of the model's input.
 */
export function toModelInput(x: Float32Array, n: number, height: number, width: number, channels = 3): tf.Tensor4D {
  return tf.tidy(() => {
    const image = tf.tensor4d(x, [n, height, width, 1]);
    return (channels === 1 ? image : image.tile([1, 1, 1, channels])) as tf.Tensor4D;
  });
}

