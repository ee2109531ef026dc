import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config';
import { applyHead, convBnRelu, scaledWidth } from './head';
import { kaimingNormalInit } from './init';
import { registerArchitecture } from './registry';

/** Base channel widths of the four ConvBlocks (scaled by `widthMultiplier`). */
export const CNN_MODEL1_WIDTHS = [64, 128, 256, 512] as const;

/**
 * CNN-model-1 of the reference: four ConvBlocks 3→64→128→256→512, each
 * [conv 3×3 (bias) → BN → ReLU] × 2 → 2×2 average pool, then the shared head (./head).
 * Input NHWC `[B, inputMels, inputFrames, 3]` (values 0..1), output logits `[B, numClasses]`.
 * Trainable parameters at 3×128×128, 80 classes, width 1: 5,258,128.
 * Layer names: block{1..4}_{1,2}_{conv,bn,relu}, block{1..4}_pool, then the head's.
 * Weights are all zero here: {@link buildModel} initialises them (Kaiming normal).
 */
export function cnnModel1(cfg: ModelConfig): tf.LayersModel {
  const input = tf.input({ name: 'input', shape: [cfg.inputMels, cfg.inputFrames, 3] });
  let x: tf.SymbolicTensor = input;
  CNN_MODEL1_WIDTHS.forEach((base, i) => {
    const filters = scaledWidth(base, cfg.widthMultiplier);
    const block = `block${i + 1}`;
    x = convBnRelu(x, filters, `${block}_1`);
    x = convBnRelu(x, filters, `${block}_2`);
    x = tf.layers.averagePooling2d({ name: `${block}_pool`, poolSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor;
  });
  const logits = applyHead(x, {
    numClasses: cfg.numClasses,
    hiddenUnits: cfg.headUnits,
    dropout1: cfg.headDropout1,
    dropout2: cfg.headDropout2,
  });
  return tf.model({ name: 'cnnModel1', inputs: input, outputs: logits });
}

registerArchitecture({
  name: 'cnnModel1',
  description: 'FAT2019 12th place CNN-model-1: 4 conv blocks, avg pools, fastai head',
  pools: 4,
  build: cnnModel1,
  init: (model, rng) => kaimingNormalInit(model, rng),
});
