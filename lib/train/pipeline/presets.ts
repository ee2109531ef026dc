/**
 * Ready-made settings of the pipeline. The reference (CONFIG_DEFAULTS: full-width models, 10
 * folds, 100 epochs per stage) takes days on a GPU; {@link QUICK_OVERRIDES} shrinks it to a
 * few minutes on a CPU for the demo data set, keeping every step of the pipeline.
 */
import { CONFIG_DEFAULTS, withDefaults, type DeepPartial, type Fat2019Config } from '../../config';

/**
 * CPU quick setting (`fat2019 train --quick`, the demo): quarter-width model, 2 folds, a few
 * epochs per stage, batches of 32. Stage 1 starts from scratch, hence its higher learning
 * rate; the warm-started stages use lower ones so as not to undo what they inherit.
 */
export const QUICK_OVERRIDES: DeepPartial<Fat2019Config> = {
  model: { widthMultiplier: 0.25 },
  train: { batchSize: 32, microBatchSize: 0, earlyStoppingPatience: 0 },
  pipeline: {
    folds: 2,
    stageEpochs: [4, 3, 2, 2],
    stageMaxLr: [1e-2, 3e-3, 2e-3, 2e-3],
  },
  infer: { batchSize: 32 },
};

/** CONFIG_DEFAULTS with `overrides` (e.g. QUICK_OVERRIDES) applied: a fresh mutable config. */
export function pipelineConfig(overrides: DeepPartial<Fat2019Config> = {}): Fat2019Config {
  return withDefaults(CONFIG_DEFAULTS, overrides);
}
