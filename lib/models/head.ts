import * as tf from '@tensorflow/tfjs';

/** PyTorch BatchNorm defaults: running stats momentum 0.1 (tfjs keeps 1 − 0.1), eps 1e-5. */
export const BN_MOMENTUM = 0.9;
export const BN_EPSILON = 1e-5;

/** A BatchNormalization layer with PyTorch's momentum and epsilon. */
export function batchNorm(name: string): tf.layers.Layer {
  return tf.layers.batchNormalization({ name, axis: -1, momentum: BN_MOMENTUM, epsilon: BN_EPSILON });
}

export interface HeadOptions {
  numClasses: number;
  /** Units of the hidden dense layer (reference 512, whatever the width multiplier). */
  hiddenUnits: number;
  dropout1: number;
  dropout2: number;
}

/**
 * The fastai v1 `create_head` used by both architectures:
 * features `[B, H, W, C]` → concat(global max pool, global avg pool) `[B, 2C]` → BatchNorm →
 * Dropout(dropout1) → Dense(hidden) → ReLU → BatchNorm → Dropout(dropout2) → Dense(numClasses)
 * → logits `[B, numClasses]`. Trainable parameters for C = 512, hidden 512, 80 classes: 568,912.
 * Layer names: head_maxpool, head_avgpool, head_concat, head_bn1, head_drop1, head_fc1,
 * head_relu, head_bn2, head_drop2, head_fc2 (checkpoints depend on them).
 */
export function applyHead(features: tf.SymbolicTensor, options: HeadOptions): tf.SymbolicTensor {
  const { numClasses, hiddenUnits, dropout1, dropout2 } = options;
  const maxPool = tf.layers.globalMaxPooling2d({ name: 'head_maxpool' }).apply(features) as tf.SymbolicTensor;
  const avgPool = tf.layers.globalAveragePooling2d({ name: 'head_avgpool' }).apply(features) as tf.SymbolicTensor;
  let x = tf.layers.concatenate({ name: 'head_concat', axis: -1 }).apply([maxPool, avgPool]) as tf.SymbolicTensor;
  x = batchNorm('head_bn1').apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ name: 'head_drop1', rate: dropout1 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ name: 'head_fc1', units: hiddenUnits, kernelInitializer: 'zeros' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'head_relu' }).apply(x) as tf.SymbolicTensor;
  x = batchNorm('head_bn2').apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ name: 'head_drop2', rate: dropout2 }).apply(x) as tf.SymbolicTensor;
  return tf.layers.dense({ name: 'head_fc2', units: numClasses, kernelInitializer: 'zeros' }).apply(x) as tf.SymbolicTensor;
}

/** Conv 3×3, stride 1, "same" padding (= PyTorch pad 1), with bias → BatchNorm → ReLU. */
export function convBnRelu(x: tf.SymbolicTensor, filters: number, name: string): tf.SymbolicTensor {
  let y = tf.layers.conv2d({
    name: `${name}_conv`, filters, kernelSize: 3, strides: 1, padding: 'same', useBias: true,
    kernelInitializer: 'zeros',
  }).apply(x) as tf.SymbolicTensor;
  y = batchNorm(`${name}_bn`).apply(y) as tf.SymbolicTensor;
  return tf.layers.reLU({ name: `${name}_relu` }).apply(y) as tf.SymbolicTensor;
}

/** Channel count after the width multiplier: round(base · m), at least 1. */
export function scaledWidth(base: number, widthMultiplier: number): number {
  return Math.max(1, Math.round(base * widthMultiplier));
}
