/** Model families of the reference solution, built with tf.layers (NHWC, logits out). */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config';
import { Rng } from '../util/rng';
import { cnnModel1 } from './cnnModel1';
import { vgg16bn } from './vgg16bn';
import { kaimingNormalInit } from './init';

export { cnnModel1, CNN_MODEL1_WIDTHS } from './cnnModel1';
export { vgg16bn, VGG16_CONFIG } from './vgg16bn';
export { applyHead, batchNorm, convBnRelu, scaledWidth, BN_MOMENTUM, BN_EPSILON } from './head';
export type { HeadOptions } from './head';
export { kaimingNormalInit } from './init';

export interface BuildModelOptions {
  /** Seed (or generator) of the Kaiming-normal initial weights; default 0. */
  seed?: number | Rng;
}

function validate(cfg: ModelConfig): void {
  const positiveInt = (name: keyof ModelConfig) => {
    const v = cfg[name] as number;
    if (!Number.isInteger(v) || v <= 0) throw new Error(`ModelConfig.${name} must be a positive integer, got ${v}`);
  };
  positiveInt('numClasses');
  positiveInt('inputMels');
  positiveInt('inputFrames');
  if (!(cfg.widthMultiplier > 0)) throw new Error(`ModelConfig.widthMultiplier must be > 0, got ${cfg.widthMultiplier}`);
  for (const name of ['headDropout1', 'headDropout2'] as const) {
    if (!(cfg[name] >= 0 && cfg[name] < 1)) throw new Error(`ModelConfig.${name} must be in [0, 1), got ${cfg[name]}`);
  }
  const pools = cfg.arch === 'vgg16bn' ? 5 : 4;
  const minSide = 2 ** pools;
  if (cfg.inputMels < minSide || cfg.inputFrames < minSide) {
    throw new Error(`ModelConfig inputMels×inputFrames must be at least ${minSide}×${minSide} for ${cfg.arch} (${pools} pools), got ${cfg.inputMels}×${cfg.inputFrames}`);
  }
}

/**
 * Builds `cfg.arch` with Kaiming-normal weights drawn from a seeded Rng (deterministic).
 * Input NHWC `[B, cfg.inputMels, cfg.inputFrames, 3]` in 0..1; output logits `[B, cfg.numClasses]`.
 */
export function buildModel(cfg: ModelConfig, options: BuildModelOptions = {}): tf.LayersModel {
  validate(cfg);
  let model: tf.LayersModel;
  switch (cfg.arch) {
    case 'cnnModel1': model = cnnModel1(cfg); break;
    case 'vgg16bn': model = vgg16bn(cfg); break;
    default: throw new Error(`ModelConfig.arch must be 'cnnModel1' or 'vgg16bn', got '${String(cfg.arch)}'`);
  }
  kaimingNormalInit(model, options.seed ?? 0);
  return model;
}

/** Number of trainable scalars (conv/dense kernels and biases, BN γ and β). */
export function countTrainableParams(model: tf.LayersModel): number {
  return model.trainableWeights.reduce((sum, w) => sum + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}
