/**
 * The whole warm-up pipeline in one process: stages in order, every fold of each, through
 * {@link trainStageFold} (so a run started here can be continued by single jobs elsewhere and
 * vice versa), with the stage's training clips loaded once and shared by its folds.
 */
import type { Fat2019Config } from '../../config';
import { makeTask } from '../../task/task';
import type { Callback } from '../callbacks';
import { ClipStore, loadRunData, type RunData } from './data';
import type { ClipSet } from './folds';
import { openRun } from './runInfo';
import { readFoldDone, type FoldDone } from '../../run/runFolder';
import { checkStageFold, ensureNoisyScores, ensureSelection, planStageFold, readOof, unfinishedFolds } from './stages';
import { hasNoisyScores, trainStageFold } from './trainStageFold';
import { recipeOf, recipeStages, stageSpec } from './recipes';
import { formatFixed } from '../../util/format';

/** One stage's outcome over the folds run. */
export interface StageReport {
  stage: number;
  /** done.json of every fold run (in fold order). */
  folds: FoldDone[];
  /** The task's selection metric (`metric`) of the concatenated out-of-fold predictions of these folds on the curated set (null: no held-out clips). */
  cvCurated: number | null;
  /** 'lwlrap' (multiLabel) or 'accuracy' (singleLabel). */
  metric?: string;
  /** Same on the noisy set. */
  cvNoisy: number | null;
  /** Stages 3, 4: noisy clips selected (all folds; fold f trains on those of the other folds). */
  selectedNoisy?: number;
}

/** What {@link runPipeline} returns. */
export interface PipelineReport {
  arch: Fat2019Config['model']['arch'];
  stages: StageReport[];
  /** Wall-clock seconds of this call. */
  seconds: number;
}

/** Options of {@link runPipeline}. */
export interface RunPipelineOptions {
  runDir: string;
  dataDir: string;
  /** Feature cache root (default `work/features`). */
  cacheDir?: string;
  /** The run's config; `config.model.arch` is the architecture trained. */
  config: Fat2019Config;
  /** Stages to run, default every stage of the config's recipe (run in ascending order). */
  stages?: number[];
  /** Folds to run, default all (0 .. pipeline.folds − 1). Stages 3 and 4 need every fold of the earlier stages. */
  folds?: number[];
  /** fit callbacks per job (progress bars, live plots). */
  callbacks?: (stage: number, fold: number) => Callback[];
  log?: (msg: string) => void;
  /** Called after each stage with its report. */
  onStageEnd?: (report: StageReport) => void | Promise<void>;
}

/** The task's selection metric of the concatenated oof predictions of `set` (null when they hold no labelled clip). */
function cvScore(runDir: string, config: Fat2019Config, stage: number, folds: number[], set: ClipSet, data: RunData): number | null {
  const oof = readOof(runDir, config.model.arch, stage, folds, set, data);
  if (oof.fnames.length === 0) return null;
  const task = makeTask(config.task);
  const score = task.metrics(oof.truth, oof.probs, data.vocabulary.length)[task.selectionMetric];
  return Number.isFinite(score) ? score : null;
}

/**
 * Runs the stages × folds of one architecture. Finished jobs are skipped, interrupted ones
 * resume (see {@link trainStageFold}); a paused or failing job stops the pipeline with its
 * error. After each stage: cross-validated lwlrap (curated, noisy) of the folds run, and, once
 * every fold of the stage has finished, its noisy_scores.csv.
 */
export async function runPipeline(options: RunPipelineOptions): Promise<PipelineReport> {
  const started = Date.now();
  const { runDir, dataDir, config } = options;
  const arch = config.model.arch;
  const k = config.pipeline.folds;
  const recipe = recipeOf(config);
  const stages = [...new Set(options.stages ?? recipeStages(recipe))].sort((a, b) => a - b);
  const folds = [...new Set(options.folds ?? Array.from({ length: k }, (_, f) => f))].sort((a, b) => a - b);
  for (const stage of stages) for (const fold of folds) checkStageFold(stage, fold, config);
  const info = openRun(runDir, dataDir, config);
  const data = loadRunData(runDir, dataDir, info.vocabulary, config);
  const store = new ClipStore(data, { cacheDir: options.cacheDir, preprocess: config.preprocess });
  const report: PipelineReport = { arch, stages: [], seconds: 0 };
  try {
    for (const stage of stages) {
      const pending = folds.filter((f) => readFoldDone(runDir, arch, stage, f) === null);
      const selected = stageSpec(recipe, stage).select?.kind === 'noisyByScore' ? ensureSelection(runDir, arch, stage, data, config) : undefined;
      if (pending.length > 0) {
        // Hold what the stage's folds train and validate on; held-out-only clips come per fold.
        const keep: Record<ClipSet, Set<string>> = { curated: new Set(), noisy: new Set() };
        for (const f of pending) {
          const plan = planStageFold(stage, f, data, selected, recipe);
          for (const set of ['curated', 'noisy'] as ClipSet[]) for (const n of plan.train[set]) keep[set].add(n);
          for (const n of plan.valid.fnames) keep[plan.valid.set].add(n);
        }
        store.retainOnly(keep);
      }
      const dones: FoldDone[] = [];
      for (const fold of folds) {
        dones.push(await trainStageFold({
          runDir, dataDir, cacheDir: options.cacheDir, stage, fold, config,
          callbacks: options.callbacks?.(stage, fold), log: options.log, shared: { data, store },
        }));
      }
      if (unfinishedFolds(runDir, arch, stage, k).length === 0 && hasNoisyScores(data, k)) ensureNoisyScores(runDir, arch, stage, data, config);
      const metric = makeTask(config.task).selectionMetric;
      const stageReport: StageReport = {
        stage,
        folds: dones,
        cvCurated: cvScore(runDir, config, stage, folds, 'curated', data),
        cvNoisy: cvScore(runDir, config, stage, folds, 'noisy', data),
        metric,
      };
      if (selected) stageReport.selectedNoisy = selected.length;
      options.log?.(`${arch} stage ${stage}: cross-validated ${metric} curated ${formatFixed(stageReport.cvCurated)}, noisy ${formatFixed(stageReport.cvNoisy)}` +
        (selected ? `, ${selected.length} noisy clips selected` : ''));
      report.stages.push(stageReport);
      await options.onStageEnd?.(stageReport);
    }
  } finally {
    store.retainOnly({});
  }
  report.seconds = (Date.now() - started) / 1000;
  return report;
}
