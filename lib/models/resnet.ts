/**
 * ResNet-18 and ResNet-34 in torchvision's layout (He et al. 2016): 7×7/2 stem, 3×3/2 max pool,
 * four stages of BasicBlocks (64, 128, 256, 512 channels × the width multiplier; strides 1, 2,
 * 2, 2; 1×1/s conv + BN shortcut where the shape changes), global average pool and one Dense
 * layer (torchvision's own head). The dog-sound challenge's network. Initialisation as
 * torchvision: Kaiming normal fan_out for convs, BN γ = 1, nn.Linear's default for the head.
 * Trainable parameters at 3×128×128, 80 classes, width 1: resnet18 11,217,552,
 * resnet34 21,325,712 (= torchvision's, tests/fixtures/param-counts.json).
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config';
import { scaledWidth } from './head';
import { initModel } from './init';
import { add, activation, conv, convBnAct, maxPool3s2, poolLinearHead } from './layers';
import { batchNorm } from './head';
import { registerArchitecture } from './registry';

type Sym = tf.SymbolicTensor;

/** BasicBlocks per stage. */
export const RESNET_LAYERS = { resnet18: [2, 2, 2, 2], resnet34: [3, 4, 6, 3] } as const;

function basicBlock(x: Sym, inCh: number, outCh: number, stride: number, name: string): Sym {
  let y = convBnAct(x, { filters: outCh, kernel: 3, stride }, 'relu', `${name}_1`);
  y = conv(y, { filters: outCh, kernel: 3 }, `${name}_2_conv`);
  y = batchNorm(`${name}_2_bn`).apply(y) as Sym;
  let shortcut = x;
  if (stride !== 1 || inCh !== outCh) {
    shortcut = tf.layers.conv2d({
      name: `${name}_down_conv`, filters: outCh, kernelSize: 1, strides: stride, padding: 'valid', useBias: false,
      kernelInitializer: 'zeros',
    }).apply(x) as Sym;
    shortcut = batchNorm(`${name}_down_bn`).apply(shortcut) as Sym;
  }
  return activation(add(y, shortcut, `${name}_add`), 'relu', `${name}_relu`);
}

/** ResNet with `layers` BasicBlocks per stage; input NHWC `[B, mels, frames, 3]`, logits out. */
export function resnet(cfg: ModelConfig, layers: readonly number[], name: string): tf.LayersModel {
  const input = tf.input({ name: 'input', shape: [cfg.inputMels, cfg.inputFrames, 3] });
  const w = (c: number) => scaledWidth(c, cfg.widthMultiplier);
  let x = convBnAct(input, { filters: w(64), kernel: 7, stride: 2 }, 'relu', 'stem');
  x = maxPool3s2(x, 'stem_pool');
  let inCh = w(64);
  [64, 128, 256, 512].forEach((base, stage) => {
    for (let b = 0; b < layers[stage]; b++) {
      const stride = stage > 0 && b === 0 ? 2 : 1;
      x = basicBlock(x, inCh, w(base), stride, `layer${stage + 1}_${b}`);
      inCh = w(base);
    }
  });
  return tf.model({ name, inputs: input, outputs: poolLinearHead(x, cfg.numClasses, 0) });
}

for (const [name, layers] of Object.entries(RESNET_LAYERS)) {
  registerArchitecture({
    name,
    description: `${name === 'resnet18' ? 'ResNet-18' : 'ResNet-34'} (torchvision layout, own avg-pool + linear head)`,
    pools: 5,
    build: (cfg) => resnet(cfg, layers, name),
    init: (model, rng) => initModel(model, rng, { conv: 'fanOut', dense: 'torchDefault' }),
  });
}
