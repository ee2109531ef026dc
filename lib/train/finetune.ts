/**
 * Fine-tuning from a pretrained network (`fat2019 train --from <run folder | PyTorch file>`):
 * the body's weights come from the source, the head is new for the data's classes (kept when
 * the classes are the same), the schedule is fastai's `fine_tune`:
 *
 *   1. `finetune.freezeEpochs` epochs with the body frozen (BatchNorm layers stay trainable, as
 *      fastai's train_bn), one-cycle at `maxLr` with pct_start 0.99;
 *   2. the stage's epochs with every layer trainable, one-cycle at maxLr / 2 with pct_start 0.3
 *      and div 5, the body at lr / `finetune.lrMult` (discriminative learning rates: fastai's
 *      `slice(base_lr / lr_mult, base_lr)` over two groups, body and head).
 *
 * `finetune.freezeBody` (a linear probe on the source's embeddings) keeps the body frozen for
 * all epochs. The source's preprocessing and network settings are inherited, so the new run
 * feeds the network what it was trained on. A PyTorch file is first imported into
 * `<run>/source/` (lib/run/importWeights), so both kinds of source are a run folder.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Fat2019Config } from '../config';
import { getArchitecture, isArchitecture } from '../models/index';
import { importWeights, SINGLE_FILE_MEMBER } from '../run/importWeights';
import { findRunMembers, readRunInfo, runInfoPath, type RunInfo, type RunMember } from '../run/runFolder';
import { readModelArtifacts } from '../runtime/modelFile';

/** True for a layer of the network's head (new for other classes, lr × 1 in phase 2). */
export function isHeadLayer(arch: string, layerName: string): boolean {
  const spec = getArchitecture(arch);
  return spec.isHeadLayer ? spec.isHeadLayer(layerName) : layerName.startsWith('head_');
}

/**
 * The run folder a `--from` names: a run folder as it is, a PyTorch file imported (once) into
 * `<runDir>/source/` with `arch`. Throws naming the path when it is neither.
 */
export async function resolveFinetuneSource(from: string, runDir: string, arch: string | undefined, log?: (line: string) => void): Promise<string> {
  if (existsSync(runInfoPath(from))) return from;
  if (!existsSync(from)) throw new Error(`--from ${from}: not found (a run folder with run.json, or a PyTorch checkpoint)`);
  const sourceDir = join(runDir, 'source');
  if (existsSync(runInfoPath(sourceDir))) return sourceDir;
  if (!arch || !isArchitecture(arch)) throw new Error(`--from ${from}: a PyTorch file needs --arch (the network it holds, e.g. pannsCnn14)`);
  await importWeights(sourceDir, [{ file: from, ...SINGLE_FILE_MEMBER }], { arch, log, placeholderClasses: true });
  return sourceDir;
}

/** The source run's member whose weights start the fine-tuning: the first of its ensemble. */
export function sourceMember(sourceDir: string, info: RunInfo = readRunInfo(sourceDir)): RunMember {
  const members = findRunMembers(sourceDir, { archs: [info.config.model.arch], stages: info.config.pipeline.ensembleStages });
  const all = members.length > 0 ? members : findRunMembers(sourceDir, { archs: [info.config.model.arch] });
  if (all.length === 0) throw new Error(`--from ${sourceDir}: no finished ${info.config.model.arch} model in the run (train it first)`);
  return all[0];
}

/**
 * The config of a run fine-tuned from `sourceDir`: the source's preprocessing, network
 * (architecture, width, input, normalisation; the class count is the data's) and inference
 * windows, the rest from `config`; `finetune.from` records the source.
 */
export function inheritFromSource(config: Fat2019Config, sourceDir: string, from: string): Fat2019Config {
  const source = readRunInfo(sourceDir).config;
  return {
    ...config,
    preprocess: { ...source.preprocess },
    model: { ...source.model, numClasses: config.model.numClasses },
    // the windows the network was made for (PANNs: whole clips up to 10 s)
    infer: { ...config.infer, windowFrames: source.infer.windowFrames, windowShift: source.infer.windowShift },
    // fastai's lighting works on 0..1 images in logit space: meaningless on dB values
    augment: source.preprocess.output === 'db' ? { ...config.augment, lighting: { ...config.augment.lighting, enabled: false } } : config.augment,
    finetune: { ...config.finetune, from },
  };
}

/** What {@link transferWeights} copied. */
export interface TransferReport {
  copied: number;
  /** Head weights left as initialised (other classes). */
  newHead: string[];
  keptHead: boolean;
}

/**
 * Copies the source model's weights (saved in `modelDir`) into `model` by weight name: every
 * body weight must be there with the same shape; the head's are copied only when all of them
 * fit (same classes), else the head keeps its fresh initialisation.
 */
export function transferWeights(model: tf.LayersModel, modelDir: string, arch: string): TransferReport {
  const artifacts = readModelArtifacts(modelDir);
  const named = tf.io.decodeWeights(artifacts.weightData!, artifacts.weightSpecs!);
  try {
    const body: tf.NamedTensorMap = {};
    const head: tf.NamedTensorMap = {};
    let headFits = true;
    const newHead: string[] = [];
    for (const layer of model.layers) {
      const inHead = isHeadLayer(arch, layer.name);
      for (const w of layer.weights) {
        const src = named[w.originalName];
        const fits = src !== undefined && src.shape.join(',') === w.shape.join(',');
        if (inHead) {
          if (fits) head[w.originalName] = src; else { headFits = false; newHead.push(w.originalName); }
        } else if (!fits) {
          throw new Error(`${join(modelDir, 'weights.bin')}: the source has ${src ? `${w.originalName} of shape [${src.shape}]` : `no ${w.originalName}`}, the network needs [${w.shape}] (another architecture or width than the run's?)`);
        } else {
          body[w.originalName] = src;
        }
      }
    }
    const take = headFits ? { ...body, ...head } : body;
    model.loadWeights(take, false);
    return { copied: Object.keys(take).length, newHead: headFits ? [] : newHead, keptHead: headFits };
  } finally {
    for (const t of Object.values(named)) t.dispose();
  }
}

/**
 * Freezes the body: every weighted layer outside the head becomes untrainable except
 * BatchNorm (fastai's train_bn). Returns the function that makes them trainable again.
 */
export function freezeBody(model: tf.LayersModel, arch: string): () => void {
  const frozen: tf.layers.Layer[] = [];
  for (const layer of model.layers) {
    if (layer.weights.length === 0 || isHeadLayer(arch, layer.name) || layer.getClassName() === 'BatchNormalization') continue;
    if (layer.trainable) {
      layer.trainable = false;
      frozen.push(layer);
    }
  }
  return () => { for (const layer of frozen) layer.trainable = true; };
}

/** Per-weight learning-rate multiplier of phase 2: 1 for the head, 1 / lrMult for the body. */
export function discriminativeLr(model: tf.LayersModel, arch: string, lrMult: number): (weightName: string) => number {
  const head = new Set<string>();
  for (const layer of model.layers) if (isHeadLayer(arch, layer.name)) for (const w of layer.weights) head.add(w.originalName);
  return (name) => (head.has(name) ? 1 : 1 / lrMult);
}
