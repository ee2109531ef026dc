/**
 * Ready-made settings of the pipeline. The reference (CONFIG_DEFAULTS: full-width models, 10
 * folds, 100 epochs per stage) takes days on a GPU; {@link QUICK_OVERRIDES} shrinks it to a
 * few minutes on a CPU for the demo data set, keeping every step of the pipeline.
 */
import { CONFIG_DEFAULTS, withDefaults, type DeepPartial, type Fat2019Config } from '../../config';

/**
 * CPU quick setting (`fat2019 train --quick`, `npm start`, the notebooks' QUICK): the whole
 * 4-stage pipeline in about 7 minutes of training on 2 cores for the demo set. Each choice was
 * measured on the demo data (curated fold, 110 training clips, 8 epochs, lwlrap on the rest):
 * - width 1/8 (channels 8→64): ~13 samples/s on wasm with 2 threads; 1/4 is ~3× slower.
 * - batches of 8: the same samples/s as 32 (the narrow model is bound by per-op overhead),
 *   and 4× the optimizer steps, which a run of a few hundred steps needs.
 * - no head dropout: re-measured with the reference head (512 hidden units at every width):
 *   fold 0 of the demo's curated set (108 training clips, 8 epochs, max lr 5e-3, final model,
 *   lwlrap on the 112 held-out clips) 0.753 without dropout, 0.641 with 0.25/0.5. (With the
 *   earlier width-scaled head, 128 and 64 units: 0.65 without, 0.43 with.)
 * - mixup and SpecMix off: they pay off over the reference's long training, but in an 8-epoch
 *   run they cost accuracy (0.56 with them vs 0.65 without). Zoom and lighting stay.
 * - a few epochs per stage; stage 1 starts from scratch, hence the higher learning rate.
 */
export const QUICK_OVERRIDES: DeepPartial<Fat2019Config> = {
  model: { widthMultiplier: 0.125, headDropout1: 0, headDropout2: 0 },
  train: { batchSize: 8, microBatchSize: 0, earlyStoppingPatience: 0 },
  augment: { mixup: { enabled: false }, specMix: { enabled: false } },
  pipeline: {
    folds: 2,
    stageEpochs: [3, 7, 4, 4],
    stageMaxLr: [1e-2, 5e-3, 3e-3, 3e-3],
  },
  infer: { batchSize: 32 },
};

/** CONFIG_DEFAULTS with `overrides` (e.g. QUICK_OVERRIDES) applied: a fresh mutable config. */
export function pipelineConfig(overrides: DeepPartial<Fat2019Config> = {}): Fat2019Config {
  return withDefaults(CONFIG_DEFAULTS, overrides);
}
