/**
 * MobileNetV2 (Sandler et al. 2018) in torchvision's layout: 3×3/2 stem conv to 32 channels,
 * 17 inverted-residual blocks (expand 1×1 → depthwise 3×3 → project 1×1, ReLU6, residual when
 * stride 1 and the shape is kept), a 1×1 conv to 1280 channels, global average pool, dropout
 * 0.2 and one Dense layer (torchvision's own head). Channels × the width multiplier, rounded
 * to multiples of 8 as torchvision's `_make_divisible`. The FAT2018 8th-place network; with
 * `ModelConfig.mobilenetChannelStem` its input is the one-channel image, turned into 3 channels by two
 * 1×1 convolutions (1→3, ReLU, 3→3, with bias) learnt with the network.
 * Initialisation as torchvision: Kaiming normal fan_out for convs, Dense N(0, 0.01²).
 * Trainable parameters at 3×128×128, 80 classes, width 1: 2,326,352 (= torchvision's).
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config';
import { batchNorm } from './head';
import { initModel } from './init';
import { activation, add, conv, convBnAct, depthwiseConv, poolLinearHead } from './layers';
import { registerArchitecture } from './registry';

type Sym = tf.SymbolicTensor;

/** torchvision's inverted-residual setting: expand ratio t, channels c, repeats n, stride s. */
export const MOBILENETV2_SETTING: ReadonlyArray<readonly [number, number, number, number]> = [
  [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
];

/** torchvision `_make_divisible`: nearest multiple of `divisor`, at least `divisor`, ≥ 90 % of v. */
export function makeDivisible(v: number, divisor = 8): number {
  let out = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (out < 0.9 * v) out += divisor;
  return out;
}

function invertedResidual(x: Sym, inCh: number, outCh: number, stride: number, expand: number, name: string): Sym {
  const hidden = Math.round(inCh * expand);
  let y = x;
  if (expand !== 1) y = convBnAct(y, { filters: hidden, kernel: 1 }, 'relu6', `${name}_expand`);
  y = depthwiseConv(y, 3, stride, `${name}_dw_conv`);
  y = batchNorm(`${name}_dw_bn`).apply(y) as Sym;
  y = activation(y, 'relu6', `${name}_dw_act`);
  y = convBnAct(y, { filters: outCh, kernel: 1 }, null, `${name}_project`);
  return stride === 1 && inCh === outCh ? add(x, y, `${name}_add`) : y;
}

/** MobileNetV2; input NHWC `[B, mels, frames, 3]` (1 channel with mobilenetChannelStem), logits out. */
export function mobilenetv2(cfg: ModelConfig): tf.LayersModel {
  const channels = cfg.mobilenetChannelStem ? 1 : 3;
  const input = tf.input({ name: 'input', shape: [cfg.inputMels, cfg.inputFrames, channels] });
  const w = cfg.widthMultiplier;
  let x: Sym = input;
  if (cfg.mobilenetChannelStem) {
    x = conv(x, { filters: 3, kernel: 1, bias: true }, 'channel_stem_1');
    x = activation(x, 'relu', 'channel_stem_relu');
    x = conv(x, { filters: 3, kernel: 1, bias: true }, 'channel_stem_2');
  }
  let inCh = makeDivisible(32 * w);
  x = convBnAct(x, { filters: inCh, kernel: 3, stride: 2 }, 'relu6', 'stem');
  let block = 0;
  for (const [t, c, n, s] of MOBILENETV2_SETTING) {
    const outCh = makeDivisible(c * w);
    for (let i = 0; i < n; i++) {
      x = invertedResidual(x, inCh, outCh, i === 0 ? s : 1, t, `block${block++}`);
      inCh = outCh;
    }
  }
  x = convBnAct(x, { filters: makeDivisible(1280 * Math.max(1, w)), kernel: 1 }, 'relu6', 'last');
  return tf.model({ name: 'mobilenetv2', inputs: input, outputs: poolLinearHead(x, cfg.numClasses, 0.2) });
}

registerArchitecture({
  name: 'mobilenetv2',
  description: 'MobileNetV2 (torchvision, own head; FAT2018 8th-place 1x1 stem option)',
  pools: 5,
  inputChannels: (cfg) => (cfg.mobilenetChannelStem ? 1 : 3),
  build: mobilenetv2,
  init: (model, rng) => initModel(model, rng, { conv: 'fanOut', dense: 'normal0.01' }),
});
