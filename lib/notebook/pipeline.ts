import { join } from 'node:path';
import type { Architecture, AugmentConfig, Fat2019Config } from '../config';
import { readVocabulary } from '../data/labels';
import { lwlrap } from '../metrics/lwlrap';
import { loadRunData } from '../train/pipeline/data';
import { pipelineConfig } from '../train/pipeline/presets';
import { withSettings } from '../train/pipeline/configOverrides';
import { readFoldDone, readRunInfo } from '../run/runFolder';
import type { PipelineReport } from '../train/pipeline/runPipeline';
import { readOof } from '../train/pipeline/stages';
import { htmlTable } from '../viz/grid';

/**
 * Helpers of the training notebooks: the settings cell's values → a run config, the per-stage
 * cross-validation table, and the out-of-fold per-class lwlrap of a stage.
 */

/**
 * What the settings cell of a training notebook sets: the knobs worth turning by hand. Every
 * other field keeps its reference value (lib/config CONFIG_DEFAULTS). Index 0 of the per-stage
 * arrays is stage 1.
 */
export interface TrainingSetting {
  /** Cross-validation folds (one model per fold and stage). */
  folds: number;
  /** Stages to run, ascending (3 and 4 need every fold of 1 and 2). */
  stages: number[];
  /** Epochs of stages 1..4. */
  stageEpochs: number[];
  /** One-cycle max learning rate of stages 1..4. */
  stageMaxLr: number[];
  /** Samples per optimizer step. */
  batchSize: number;
  /** Multiplies every conv and dense width (1 = the published models). */
  widthMultiplier: number;
  /** Dropout of the two head blocks (reference 0.25, 0.5). */
  headDropout: number[];
}

/**
 * The run config for `arch` with `setting` and the (possibly edited) augmentation config;
 * `numClasses` comes from `<dataDir>/sample_submission.csv` (the demo set has fewer than 80).
 * Both training notebooks share a run folder, whose run.json must agree with every job (see
 * lib/train/pipeline/runInfo): keep their settings and augmentations identical.
 */
export function trainingConfig(arch: Architecture, setting: TrainingSetting, options: { dataDir: string; augment?: AugmentConfig; set?: readonly string[] }): Fat2019Config {
  const numClasses = readVocabulary(join(options.dataDir, 'sample_submission.csv')).length;
  // `set`: `path=value` settings as `fat2019 train --set` takes them, applied last.
  return withSettings(pipelineConfig({
    model: { arch, numClasses, widthMultiplier: setting.widthMultiplier, headDropout1: setting.headDropout[0], headDropout2: setting.headDropout[1] },
    train: { batchSize: setting.batchSize },
    pipeline: { folds: setting.folds, stageEpochs: [...setting.stageEpochs], stageMaxLr: [...setting.stageMaxLr] },
    ...(options.augment ? { augment: options.augment } : {}),
  }), options.set ?? []);
}

/** The reference and the quick setting side by side, one row per knob; `active` marks the one in use. */
export function settingsTable(settings: Record<string, TrainingSetting>, active: string): string {
  const names = Object.keys(settings);
  const keys = Object.keys(settings[names[0]]) as (keyof TrainingSetting)[];
  const show = (v: unknown) => (Array.isArray(v) ? v.join(', ') : typeof v === 'number' && !Number.isInteger(v) ? String(+v.toPrecision(4)) : String(v));
  return htmlTable(['', ...names.map((n) => (n === active ? `${n} (in use)` : n))], keys.map((k) => [k, ...names.map((n) => show(settings[n][k]))]));
}

/** One row per stage of a pipeline report: folds trained, the task's CV metric (lwlrap, accuracy) on curated and noisy, selected noisy clips, time. */
export function stageReportTable(report: PipelineReport): string {
  const cv = (x: number | null) => (x === null ? '—' : x.toFixed(4));
  const metric = report.stages[0]?.metric ?? 'lwlrap';
  return htmlTable(
    ['stage', 'folds', `CV ${metric} curated`, `CV ${metric} noisy`, 'noisy clips selected', 'train seconds'],
    report.stages.map((s) => [
      s.stage,
      s.folds.map((f) => f.fold).join(', '),
      cv(s.cvCurated),
      cv(s.cvNoisy),
      s.selectedNoisy ?? '—',
      Math.round(s.folds.reduce((a, f) => a + f.seconds, 0)),
    ]),
  );
}

/** lwlrap of a stage's out-of-fold predictions, overall and per class (vocabulary order). */
export interface OofScore {
  vocabulary: string[];
  overall: number;
  perClass: Float64Array;
  /** Class share of (clip, label) pairs; 0 for classes absent from the held-out clips. */
  weights: Float64Array;
  clips: number;
  folds: number[];
}

/**
 * Scores the out-of-fold predictions of (arch, stage) on `set` (default curated) over every
 * finished fold of the run (`done.json` present). Throws naming the run when none is finished.
 */
export function oofScore(runDir: string, dataDir: string, arch: Architecture, stage: number, set: 'curated' | 'noisy' = 'curated'): OofScore {
  const info = readRunInfo(runDir);
  const k = info.config.pipeline.folds;
  const folds = Array.from({ length: k }, (_, f) => f).filter((f) => readFoldDone(runDir, arch, stage, f) !== null);
  if (folds.length === 0) throw new Error(`${runDir}: no finished fold of ${arch} stage ${stage} (train it first)`);
  const data = loadRunData(runDir, dataDir, info.vocabulary, info.config);
  const oof = readOof(runDir, arch, stage, folds, set, data);
  const r = lwlrap(oof.truth, oof.probs, info.vocabulary.length);
  return { vocabulary: info.vocabulary, overall: r.overall, perClass: r.perClass, weights: r.weights, clips: oof.fnames.length, folds };
}
