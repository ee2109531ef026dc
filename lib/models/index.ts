/**
 * The networks, built with tf.layers (NHWC, logits out). Importing this module loads every
 * family file, each of which registers itself in ./registry: adding a network = adding its file
 * and one import line below.
 */
import type * as tf from '@tensorflow/tfjs';
import { MODEL_DEFAULTS, type ModelConfig } from '../config';
import { Rng } from '../util/rng';
import { getArchitecture, minInputOf } from './registry';

// Every family, in the order `architectureNames()` lists them.
import './cnnModel1';
import './vgg16bn';
import './resnet';
import './mobilenetv2';
import './cnn7th';
import './xresnet';
import './panns';

export { cnnModel1, CNN_MODEL1_WIDTHS } from './cnnModel1';
export { vgg16bn, VGG16_CONFIG } from './vgg16bn';
export { applyHead, batchNorm, convBnRelu, scaledWidth, BN_MOMENTUM, BN_EPSILON } from './head';
export type { HeadOptions } from './head';
export { kaimingNormalInit, initModel, FASTAI_INIT } from './init';
export type { InitScheme } from './init';
export { Mish } from './layers';
export { resnet, RESNET_LAYERS } from './resnet';
export { mobilenetv2, makeDivisible, MOBILENETV2_SETTING } from './mobilenetv2';
export { cnn7th, CNN7TH_BLOCKS } from './cnn7th';
export { xresnet, XRESNET_VARIANTS } from './xresnet';
export { panns, pannsInit, pannsMinFrames, PANNS_VARIANTS, PANNS_MELS, PANNS_HEAD_DROPOUT } from './panns';
export type { PannsVariant } from './panns';
export {
  registerArchitecture, unregisterArchitecture, getArchitecture, architectureNames, isArchitecture, minInputOf, inputChannelsOf,
} from './registry';
export type { ArchitectureSpec, MinInput } from './registry';

export interface BuildModelOptions {
  /** Seed (or generator) of the initial weights; default 0. */
  seed?: number | Rng;
}

/**
 * Largest width multiplier accepted: parameters and activations grow with its square (8 is
 * 64× the reference network's weights, about 0.3 GB for cnnModel1 and 1 GB for vgg16bn, before
 * gradients, optimiser moments and activations); beyond it a run fails with an out-of-memory
 * or "Invalid typed array length" error after its setup. Checked before run.json is written.
 */
export const MAX_WIDTH_MULTIPLIER = 8;
/** Largest head width (units of the head's hidden dense layer). */
export const MAX_HEAD_UNITS = 16384;

/** Checks the generic fields, then the architecture's own; errors name the field. */
export function validateModelConfig(cfg: ModelConfig): void {
  // A config saved before a field existed (an older run.json) lacks it: say which and what to add.
  const missing = (Object.keys(MODEL_DEFAULTS) as (keyof ModelConfig)[]).filter((k) => cfg[k] === undefined && k !== 'inputNormalization');
  if (missing.length > 0) {
    throw new Error(`ModelConfig lacks ${missing.map((k) => `"${k}"`).join(', ')} (a run.json from an older version? add ` +
      `${missing.map((k) => `"${k}": ${JSON.stringify(MODEL_DEFAULTS[k])}`).join(', ')} to its "model" section, with the values that run used)`);
  }
  const spec = getArchitecture(cfg.arch);
  const positiveInt = (name: keyof ModelConfig) => {
    const v = cfg[name] as number;
    if (!Number.isInteger(v) || v <= 0) throw new Error(`ModelConfig.${name} must be a positive integer, got ${v}`);
  };
  positiveInt('numClasses');
  positiveInt('inputMels');
  positiveInt('inputFrames');
  positiveInt('headUnits');
  if (!(cfg.widthMultiplier > 0)) throw new Error(`ModelConfig.widthMultiplier must be > 0, got ${cfg.widthMultiplier}`);
  if (cfg.widthMultiplier > MAX_WIDTH_MULTIPLIER) {
    throw new Error(`ModelConfig.widthMultiplier must be at most ${MAX_WIDTH_MULTIPLIER}, got ${cfg.widthMultiplier} (the weights grow with its square; 1 is the reference network)`);
  }
  if (cfg.headUnits > MAX_HEAD_UNITS) throw new Error(`ModelConfig.headUnits must be at most ${MAX_HEAD_UNITS}, got ${cfg.headUnits}`);
  for (const name of ['headDropout1', 'headDropout2'] as const) {
    if (!(cfg[name] >= 0 && cfg[name] < 1)) throw new Error(`ModelConfig.${name} must be in [0, 1), got ${cfg[name]}`);
  }
  const min = minInputOf(spec, cfg);
  if (cfg.inputMels < min.mels || cfg.inputFrames < min.frames) {
    throw new Error(`ModelConfig inputMels×inputFrames must be at least ${min.mels}×${min.frames} for ${cfg.arch} (${spec.pools} pools), got ${cfg.inputMels}×${cfg.inputFrames}`);
  }
  if (cfg.xresnetActivation !== 'relu' && cfg.xresnetActivation !== 'mish') {
    throw new Error(`ModelConfig.xresnetActivation must be 'relu' or 'mish', got '${String(cfg.xresnetActivation)}'`);
  }
  if (typeof cfg.mobilenetChannelStem !== 'boolean') {
    throw new Error(`ModelConfig.mobilenetChannelStem must be true or false, got ${String(cfg.mobilenetChannelStem)}`);
  }
  spec.validate?.(cfg);
}

/**
 * Builds `cfg.arch` (a registered name) with its reference initialisation drawn from a seeded
 * Rng (deterministic). Input NHWC `[B, cfg.inputMels, cfg.inputFrames, channels]` in 0..1
 * (channels: `inputChannelsOf`, 3 for most); output logits `[B, cfg.numClasses]`.
 */
export function buildModel(cfg: ModelConfig, options: BuildModelOptions = {}): tf.LayersModel {
  validateModelConfig(cfg);
  const spec = getArchitecture(cfg.arch);
  const model = spec.build(cfg);
  const seed = options.seed ?? 0;
  spec.init(model, typeof seed === 'number' ? new Rng(seed) : seed, cfg);
  return model;
}

/** Number of trainable scalars (conv/dense kernels and biases, BN γ and β). */
export function countTrainableParams(model: tf.LayersModel): number {
  return model.trainableWeights.reduce((sum, w) => sum + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}
