import * as tf from '@tensorflow/tfjs';

/**
 * Binary cross-entropy with logits, averaged over batch and classes (PyTorch
 * `BCEWithLogitsLoss(reduction='mean')`), in the numerically stable form
 * `max(x, 0) − x·y + log(1 + exp(−|x|))`, finite for any logit magnitude.
 * @param logits `[B, C]` raw scores.
 * @param targets `[B, C]` in 0..1; soft targets (mixup, SpecMix) allowed.
 * @returns scalar loss.
 */
export function bceWithLogits(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  if (logits.shape.join(',') !== targets.shape.join(',')) {
    throw new Error(`bceWithLogits: logits and targets must have the same shape, got [${logits.shape}] and [${targets.shape}]`);
  }
  return tf.tidy(() => {
    const x = logits.toFloat();
    const y = targets.toFloat();
    const perElement = tf.relu(x).sub(x.mul(y)).add(tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
    return perElement.mean() as tf.Scalar;
  });
}
