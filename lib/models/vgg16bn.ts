import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config';
import { applyHead, convBnRelu, scaledWidth } from './head';
import { kaimingNormalInit } from './init';
import { registerArchitecture } from './registry';

/** torchvision `vgg16_bn` feature configuration: conv widths, 'M' = 2×2 max pool. */
export const VGG16_CONFIG: ReadonlyArray<number | 'M'> = [
  64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M',
];

/**
 * VGG16-BN: the 13 convolutions of VGG-16 (3×3, pad 1, bias), each followed by BatchNorm and
 * ReLU, with 5 max pools (512×4×4 features for 128×128 input), then the shared head (./head).
 * Input NHWC `[B, inputMels, inputFrames, 3]`, output logits `[B, numClasses]`.
 * Trainable parameters at 3×128×128, 80 classes, width 1: 15,292,048.
 * Layer names: stage{1..5}_{1..3}_{conv,bn,relu}, stage{1..5}_pool, then the head's.
 */
export function vgg16bn(cfg: ModelConfig): tf.LayersModel {
  const input = tf.input({ name: 'input', shape: [cfg.inputMels, cfg.inputFrames, 3] });
  let x: tf.SymbolicTensor = input;
  let stage = 1;
  let conv = 1;
  for (const item of VGG16_CONFIG) {
    if (item === 'M') {
      x = tf.layers.maxPooling2d({ name: `stage${stage}_pool`, poolSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor;
      stage++;
      conv = 1;
    } else {
      x = convBnRelu(x, scaledWidth(item, cfg.widthMultiplier), `stage${stage}_${conv}`);
      conv++;
    }
  }
  const logits = applyHead(x, {
    numClasses: cfg.numClasses,
    hiddenUnits: cfg.headUnits,
    dropout1: cfg.headDropout1,
    dropout2: cfg.headDropout2,
  });
  return tf.model({ name: 'vgg16bn', inputs: input, outputs: logits });
}

registerArchitecture({
  name: 'vgg16bn',
  description: 'VGG16-BN (torchvision layout, 13 convs, 5 max pools), fastai head',
  pools: 5,
  build: vgg16bn,
  init: (model, rng) => kaimingNormalInit(model, rng),
});
