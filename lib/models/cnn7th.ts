/**
 * The CNN of the FAT2019 7th-place solution (team Shirogane's "CustomCNN"): five ConvBlocks,
 * each [3×3 conv (no bias) → BN → ReLU] × 2 followed by max pool + average pool (the sum of
 * both, same window), with pool sizes (mel × frame) (1,1), (4,1), (1,3), (4,1), (1,3): the
 * frequency axis shrinks 16×, time 9×, then the project's fastai head (512 hidden units).
 * (unknown) The channel widths were not published with the pool sizes; this uses the
 * CNN-model-1 progression continued by one block: 64, 128, 256, 512, 512.
 * Initialisation: Kaiming normal fan_in (fastai). Trainable parameters at 3×128×128,
 * 80 classes, width 1: 9,976,848 (tests/fixtures/param-counts.json).
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config';
import { applyHead, scaledWidth } from './head';
import { kaimingNormalInit } from './init';
import { add, convBnAct } from './layers';
import { registerArchitecture } from './registry';

type Sym = tf.SymbolicTensor;

/** Base widths and (mel, frame) pool sizes of the five ConvBlocks. */
export const CNN7TH_BLOCKS: ReadonlyArray<{ channels: number; pool: [number, number] }> = [
  { channels: 64, pool: [1, 1] },
  { channels: 128, pool: [4, 1] },
  { channels: 256, pool: [1, 3] },
  { channels: 512, pool: [4, 1] },
  { channels: 512, pool: [1, 3] },
];

/** The 7th-place CNN; input NHWC `[B, mels, frames, 3]`, logits out. */
export function cnn7th(cfg: ModelConfig): tf.LayersModel {
  const input = tf.input({ name: 'input', shape: [cfg.inputMels, cfg.inputFrames, 3] });
  let x: Sym = input;
  CNN7TH_BLOCKS.forEach(({ channels, pool }, i) => {
    const filters = scaledWidth(channels, cfg.widthMultiplier);
    const block = `block${i + 1}`;
    x = convBnAct(x, { filters, kernel: 3 }, 'relu', `${block}_1`);
    x = convBnAct(x, { filters, kernel: 3 }, 'relu', `${block}_2`);
    // Taken literally also for (1,1): max + avg of one pixel is 2x (the next BN absorbs it).
    const maxPool = tf.layers.maxPooling2d({ name: `${block}_maxpool`, poolSize: pool, strides: pool }).apply(x) as Sym;
    const avgPool = tf.layers.averagePooling2d({ name: `${block}_avgpool`, poolSize: pool, strides: pool }).apply(x) as Sym;
    x = add(maxPool, avgPool, `${block}_pool`);
  });
  const logits = applyHead(x, {
    numClasses: cfg.numClasses, hiddenUnits: cfg.headUnits, dropout1: cfg.headDropout1, dropout2: cfg.headDropout2,
  });
  return tf.model({ name: 'cnn7th', inputs: input, outputs: logits });
}

registerArchitecture({
  name: 'cnn7th',
  description: 'FAT2019 7th place CNN: 5 conv blocks, max+avg pools (4,1)/(1,3), fastai head',
  pools: 4,
  minInput: () => ({ mels: 16, frames: 9 }),
  build: cnn7th,
  init: (model, rng) => kaimingNormalInit(model, rng),
});
