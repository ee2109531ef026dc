/**
 * Defaults that fit the data: on a new run, the batch size, learning rate and augmentation the
 * user did not set are chosen from the data set (training clips per stage, classes) and the
 * recipe's epochs, each with its reason (`fat2019 train` prints them before training,
 * `--show-config` lists them as "data rule"). The reference recipe on FSDKaggle2019
 * (`--recipe warmup` on the Kaggle layout, `--preset reference`) and `--quick` bypass them
 * (lib/train/pipeline/trainConfig).
 *
 * The rules come from measurements on real audio (2-core AMD EPYC VM, loaded by other jobs):
 * the table below, README "Your own data".
 */
import type { Fat2019Config } from '../../config';
import type { DataLayout } from '../../data/layout';
import { recipeOf } from './recipes';

/** One field chosen by a rule. */
export interface DataRuleChoice {
  path: string;
  value: unknown;
  /** Printed at the start of training: `batch 16: 1,000 clips × 10 epochs → 63 steps per epoch, 630 steps`. */
  reason: string;
}

/**
 * Fewest optimizer steps a stage should take: the largest batch (128, 64, 32, 16, 8) whose
 * epochs × steps per epoch reach it is chosen. Measured (spoken digits, 1,000 clips, 10
 * epochs, width 1/8, no mixup/SpecMix, held-out speaker top-1): see the measurements below.
 */
export const MIN_STAGE_STEPS = 600;
/** Batch sizes the rule picks from (the reference's 128 down to the quick preset's 8). */
const RULE_BATCH_SIZES = [128, 64, 32, 16, 8] as const;
/**
 * Stages shorter than this many epochs train without mixup, SpecMix and head dropout: they
 * regularise the reference's 100-epoch runs but cost accuracy in short ones (measurements below).
 */
const SHORT_RUN_EPOCHS = 30;
/** One-cycle max learning rate of a from-scratch stage with batches ≤ 32 in a short run (measurements below). */
const SHORT_RUN_SCRATCH_LR = 1e-2;

/*
 * Measurements behind the rules: spoken digits (FSDD, 8 kHz), 4 speakers × 25 clips per digit =
 * 1,000 training clips, the held-out speaker yweweler's 250 clips scored by `fat2019 infer
 * --score` (top-1 accuracy); `--recipe single --folds 1 --width 0.125 --epochs 10`, CNN-model-1,
 * seed 2019; 2-core VM shared with other jobs (load 6-14). Mixup, SpecMix and head dropout off
 * unless said.
 *
 * | batch | max lr | mixup, SpecMix, dropout | steps | top-1 |
 * |---|---|---|---|---|
 * | 128 (reference) | 3e-3 | on (reference) | 70 | 0.47 (issue 21) |
 * | 32 | 1e-2 | off | 310 | 0.856 |
 * | 16 | 3e-3 | off | 620 | 0.824 |
 * | 16 | 1e-2 | off | 620 | **0.872** |
 * | 8 (--quick) | 1e-2 | off | 1,250 | 0.84-0.87 (issue 21, README) |
 *
 * Hence: the largest batch giving >= 600 steps (16 here: as good as 8, fewer, larger steps run
 * faster on wide models), max lr 1e-2 from scratch with batches <= 32, and no mixup, SpecMix or
 * head dropout in short runs (also measured on the demo set, lib/train/pipeline/presets.ts:
 * 8 epochs, 0.56 with mixup/SpecMix vs 0.65 without; 0.641 with head dropout vs 0.753 without).
 * Urban sounds (issue 21: 2,148 clips, 10 epochs, batch 32 = 670 steps, no zoom/lighting) reach
 * lwlrap 0.763 against 0.707 with the reference settings. The 30-epoch boundary is not
 * measured: the reference's 100-epoch runs use mixup and SpecMix, these 8-10-epoch runs lose
 * by them. The bench (`npm run bench:quality`, README "Your own data") re-measures with 3 seeds.
 */
function thousands(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * Clips the recipe's first stage trains on: its set's clips (the noisy set for the warm-up's
 * stage 1, else the labelled set) less the validation fold or holdout.
 */
function trainingClipsPerStage(layout: DataLayout, config: Fat2019Config): number {
  const first = recipeOf(config).stages[0];
  const n = first.trainOn.includes('noisy') && layout.noisy ? layout.noisy.clips.length : layout.curated.clips.length;
  const k = config.pipeline.folds;
  if (k >= 2) return Math.round((n * (k - 1)) / k);
  return Math.round(n * (1 - config.pipeline.holdout));
}

/**
 * The rules' choices for the fields not in `fixed` (dotted paths set by a flag or a preset).
 * Pure: reads the layout's clip list and the config, returns the choices in print order.
 */
export function dataRules(layout: DataLayout, config: Fat2019Config, fixed: ReadonlySet<string>): DataRuleChoice[] {
  const out: DataRuleChoice[] = [];
  const recipe = recipeOf(config);
  const first = recipe.stages[0].stage;
  const epochs = config.pipeline.stageEpochs[first - 1];
  const clips = trainingClipsPerStage(layout, config);
  const clipsText = `${thousands(clips)} training clips`;
  let batch = config.train.batchSize;
  if (!fixed.has('train.batchSize')) {
    // As lib/train/fit: full batches only (the last partial one of an epoch is dropped).
    const perEpoch = (b: number) => Math.max(1, Math.floor(clips / Math.min(b, clips)));
    const steps = (b: number) => epochs * perEpoch(b);
    batch = RULE_BATCH_SIZES.find((b) => steps(b) >= MIN_STAGE_STEPS) ?? RULE_BATCH_SIZES[RULE_BATCH_SIZES.length - 1];
    out.push({
      path: 'train.batchSize', value: batch,
      reason: `batch ${batch}: ${clipsText} × ${epochs} epochs → ${perEpoch(batch)} steps per epoch, ${thousands(steps(batch))} steps ` +
        (steps(batch) >= MIN_STAGE_STEPS ? `(the largest batch reaching ${MIN_STAGE_STEPS} steps)` : `(the smallest batch; fewer than ${MIN_STAGE_STEPS} steps: more epochs would help)`),
    });
  }
  const short = recipe.stages.every((s) => config.pipeline.stageEpochs[s.stage - 1] < SHORT_RUN_EPOCHS);
  const epochsText = `${epochs} epoch${epochs === 1 ? '' : 's'} per stage (< ${SHORT_RUN_EPOCHS})`;
  if (short) {
    if (!fixed.has('pipeline.stageMaxLr') && batch <= 32) {
      const lr = config.pipeline.stageMaxLr.map((x, i) => (recipe.stages.some((s) => s.stage === i + 1 && s.initFrom === null) ? SHORT_RUN_SCRATCH_LR : x));
      if (JSON.stringify(lr) !== JSON.stringify(config.pipeline.stageMaxLr)) {
        out.push({ path: 'pipeline.stageMaxLr', value: lr, reason: `max lr ${SHORT_RUN_SCRATCH_LR} for stages from scratch: ${epochsText}, batch ${batch}` });
      }
    }
    for (const [path, name] of [['augment.mixup.enabled', 'mixup'], ['augment.specMix.enabled', 'SpecMix']] as const) {
      if (!fixed.has(path) && (path === 'augment.mixup.enabled' ? config.augment.mixup.enabled : config.augment.specMix.enabled)) {
        out.push({ path, value: false, reason: `${name} off: ${epochsText}` });
      }
    }
    for (const path of ['model.headDropout1', 'model.headDropout2'] as const) {
      const current = path === 'model.headDropout1' ? config.model.headDropout1 : config.model.headDropout2;
      if (!fixed.has(path) && current > 0) out.push({ path, value: 0, reason: `head dropout 0: ${epochsText}` });
    }
  }
  return out;
}
