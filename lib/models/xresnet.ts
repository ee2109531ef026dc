/**
 * XResNet-18 and XResNet-50, fastai's ResNet variant (Bag of Tricks, He et al. 2019) as
 * `fastai.vision.models.xresnet` defines it: a stem of three 3×3 ConvLayers (32, 32, 64; the
 * first stride 2), 3×3/2 max pool, four stages (64, 128, 256, 512 channels × the width
 * multiplier, × 4 for the bottleneck blocks of XResNet-50), shortcuts that average-pool before
 * their 1×1 conv, global average pool and one Dense layer (fastai's own head, dropout 0).
 * The last BatchNorm of each residual branch starts at γ = 0 (fastai BatchZero); every conv
 * and the Dense layer are Kaiming normal fan_in (fastai `init_cnn`). With
 * `ModelConfig.xresnetActivation = 'mish'` every ReLU is a Mish (the fastai2 capstone's XResNet-50).
 * Trainable parameters at 3×128×128, 80 classes, width 1: xresnet18 11,236,784, xresnet50
 * 23,691,184 (tests/fixtures/param-counts.json, from bench/torch_models.py).
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config';
import { scaledWidth } from './head';
import { initModel } from './init';
import { activation, add, convBnAct, maxPool3s2, poolLinearHead, type Activation } from './layers';
import { registerArchitecture } from './registry';

type Sym = tf.SymbolicTensor;

export const XRESNET_VARIANTS = {
  xresnet18: { expansion: 1, layers: [2, 2, 2, 2] },
  xresnet50: { expansion: 4, layers: [3, 4, 6, 3] },
} as const;

function resBlock(x: Sym, expansion: number, nf: number, stride: number, act: Activation, name: string): Sym {
  const inCh = x.shape[x.shape.length - 1] as number;
  const outCh = nf * expansion;
  let y: Sym;
  if (expansion === 1) {
    y = convBnAct(x, { filters: nf, kernel: 3, stride }, act, `${name}_1`);
    y = convBnAct(y, { filters: outCh, kernel: 3 }, null, `${name}_2`);
  } else {
    y = convBnAct(x, { filters: nf, kernel: 1 }, act, `${name}_1`);
    y = convBnAct(y, { filters: nf, kernel: 3, stride }, act, `${name}_2`);
    y = convBnAct(y, { filters: outCh, kernel: 1 }, null, `${name}_3`);
  }
  let shortcut = x;
  if (stride !== 1) {
    // AvgPool(stride, ceil_mode=True): 'same' averages the valid pixels of a partial window too.
    shortcut = tf.layers.averagePooling2d({ name: `${name}_id_pool`, poolSize: stride, strides: stride, padding: 'same' }).apply(shortcut) as Sym;
  }
  if (inCh !== outCh) shortcut = convBnAct(shortcut, { filters: outCh, kernel: 1 }, null, `${name}_id`);
  return activation(add(y, shortcut, `${name}_add`), act, `${name}_act`);
}

/** XResNet; input NHWC `[B, mels, frames, 3]`, logits out. */
export function xresnet(cfg: ModelConfig, variant: keyof typeof XRESNET_VARIANTS): tf.LayersModel {
  const { expansion, layers } = XRESNET_VARIANTS[variant];
  const act: Activation = cfg.xresnetActivation === 'mish' ? 'mish' : 'relu';
  const w = (c: number) => scaledWidth(c, cfg.widthMultiplier);
  const input = tf.input({ name: 'input', shape: [cfg.inputMels, cfg.inputFrames, 3] });
  let x = convBnAct(input, { filters: w(32), kernel: 3, stride: 2 }, act, 'stem_1');
  x = convBnAct(x, { filters: w(32), kernel: 3 }, act, 'stem_2');
  x = convBnAct(x, { filters: w(64), kernel: 3 }, act, 'stem_3');
  x = maxPool3s2(x, 'stem_pool');
  // fastai: block_szs [64, 128, 256, 512]; a block's output is block_sz × expansion channels.
  [64, 128, 256, 512].forEach((base, stage) => {
    for (let b = 0; b < layers[stage]; b++) {
      x = resBlock(x, expansion, w(base), b === 0 && stage > 0 ? 2 : 1, act, `layer${stage + 1}_${b}`);
    }
  });
  return tf.model({ name: variant, inputs: input, outputs: poolLinearHead(x, cfg.numClasses, 0) });
}

/** The last BN of each residual branch: `layer<s>_<b>_2_bn` (XResNet-18) or `_3_bn` (-50). */
function isLastBranchBn(expansion: number) {
  const last = expansion === 1 ? '2' : '3';
  return (layerName: string) => new RegExp(`^layer\\d+_\\d+_${last}_bn$`).test(layerName);
}

for (const variant of Object.keys(XRESNET_VARIANTS) as (keyof typeof XRESNET_VARIANTS)[]) {
  const { expansion } = XRESNET_VARIANTS[variant];
  registerArchitecture({
    name: variant,
    description: `${variant === 'xresnet18' ? 'XResNet-18' : 'XResNet-50'} (fastai, own head; Mish option)`,
    pools: 5,
    build: (cfg) => xresnet(cfg, variant),
    init: (model, rng) => initModel(model, rng, { conv: 'fanIn', dense: 'kaiming', zeroGamma: isLastBranchBn(expansion) }),
  });
}
