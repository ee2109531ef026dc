/**
 * The helpers of `train-own-data.ipynb`: what a data folder holds (classes, clips per class,
 * durations, sample rates), the run config for a chosen task and recipe, and the evaluation
 * views of each task (single-label: confusion matrix and per-class accuracy; multi-label:
 * per-class lwlrap and ROC AUC) on the out-of-fold predictions.
 */
import { existsSync } from 'node:fs';
import type { Fat2019Config } from '../config';
import { withDefaults } from '../config';
import { clipsPerClass, scanClips, type DataLayout } from '../data/layout';
import { makeTask, type ClassMetrics } from '../task/task';
import { readFoldDone, readRunInfo, runInfoPath } from '../run/runFolder';
import { trainConfig } from '../train/pipeline/trainConfig';
import { withSettings } from '../train/pipeline/configOverrides';
import { loadRunData } from '../train/pipeline/data';
import { recipeOf, recipeStages } from '../train/pipeline/recipes';
import { readOof } from '../train/pipeline/stages';
import { bar, heatmap, histogram } from '../viz/charts';
import { htmlTable } from '../viz/grid';
import type { Figure } from '../viz/plotly';

/** What {@link describeOwnData} found. */
export interface OwnDataSummary {
  /** Layout, classes and sets as a table. */
  table: string;
  /** Clips per class (labelled set). */
  perClass: Figure;
  /** Clip durations in seconds (labelled set; WAV headers). */
  durations: Figure;
  /** sample rate (Hz) → clips. */
  sampleRates: Map<number | 'unknown', number>;
  /** The task `auto` picks. */
  task: 'multiLabel' | 'singleLabel';
}

/** Classes, clips per class, durations and sample rates of a layout's labelled set (reads WAV headers only). */
export function describeOwnData(layout: DataLayout): OwnDataSummary {
  const infos = scanClips(layout.curated);
  const rates = new Map<number | 'unknown', number>();
  for (const i of infos) rates.set(i.sampleRate ?? 'unknown', (rates.get(i.sampleRate ?? 'unknown') ?? 0) + 1);
  const durations = infos.map((i) => i.durationSec).filter((d): d is number => d !== null).sort((a, b) => a - b);
  const q = (p: number) => (durations.length > 0 ? durations[Math.min(durations.length - 1, Math.floor(p * durations.length))] : NaN);
  const multi = layout.curated.clips.filter((c) => c.labels.length > 1).length;
  const task = multi === 0 && layout.curated.clips.every((c) => c.labels.length === 1) ? 'singleLabel' : 'multiLabel';
  const rows: (string | number)[][] = [
    ['layout', layout.kind],
    ['source', layout.source],
    ['classes', layout.vocabulary.length],
    ['labelled clips', layout.curated.clips.length],
    ['clips with several labels', multi],
    ['task (auto)', task],
    ['noisy clips', layout.noisy ? layout.noisy.clips.length : 'none'],
    ['test clips', layout.test ? `${layout.test.fnames.length}${layout.test.truth || layout.test.truthFile ? ' (labelled)' : ''}` : 'none'],
    ['unlabeled clips', layout.unlabeled ? layout.unlabeled.fnames.length : 'none'],
    ['fold column', layout.curated.givenFolds ? `${new Set(layout.curated.givenFolds).size} folds` : 'none'],
    ['sample rates (Hz: clips)', [...rates].map(([r, n]) => `${r}: ${n}`).join(', ')],
    ['duration s (min / 25% / median / 75% / max)', [q(0), q(0.25), q(0.5), q(0.75), durations[durations.length - 1]].map((d) => (Number.isFinite(d) ? d.toFixed(2) : 'n/a')).join(' / ')],
  ];
  return {
    table: htmlTable(['', 'value'], rows),
    perClass: bar([...layout.vocabulary], { name: 'clips', values: clipsPerClass(layout.curated, layout.vocabulary) }, { horizontal: true, sort: 'desc', title: 'Labelled clips per class', yTitle: 'clips' }),
    durations: histogram({ name: 'labelled', values: durations }, { bins: 30, title: 'Clip durations', xTitle: 'seconds', yTitle: 'clips' }),
    sampleRates: rates,
    task,
  };
}

/** The knobs of a notebook setting (QUICK / REFERENCE). */
export interface OwnDataSetting {
  /** k ≥ 2: k-fold cross-validation; 1: one model (see holdout). */
  folds: number;
  /** With folds = 1: fraction of clips held out for validation (0 = none). */
  holdout: number;
  /** Epochs of stages 1, 2, ... of the recipe (as the training notebooks' settings). */
  stageEpochs: number[];
  batchSize: number;
  widthMultiplier: number;
  headDropout: number[];
}

/**
 * The run config: the run's run.json when it exists (a stopped run resumes), else `auto`
 * choices resolved from the data exactly as `fat2019 train` does (task from the labels,
 * recipe warmup with a noisy set else single, low-rate preprocessing for ≤ 16 kHz clips, a
 * fold column as given), with the setting applied.
 */
export function ownDataConfig(runDir: string, layout: DataLayout, setting: OwnDataSetting, choice: { task: string; recipe: string; arch?: string; set?: readonly string[] }): Fat2019Config {
  const values: Record<string, unknown> = { width: String(setting.widthMultiplier) };
  if (choice.task !== 'auto') values.task = choice.task;
  if (choice.recipe !== 'auto') values.recipe = choice.recipe;
  if (choice.arch) values.arch = choice.arch;
  if (!layout.curated.givenFolds) values.folds = String(setting.folds);
  if (setting.folds === 1 && setting.holdout > 0) values.holdout = String(setting.holdout);
  const base = trainConfig(runDir, layout.source, values, layout);
  const stageEpochs = base.pipeline.stageEpochs.map((e, i) => setting.stageEpochs[i] ?? setting.stageEpochs[setting.stageEpochs.length - 1] ?? e);
  // `choice.set`: `path=value` settings as `fat2019 train --set` takes them, applied last.
  return withSettings(withDefaults(base, {
    pipeline: { stageEpochs },
    train: { batchSize: setting.batchSize },
    model: { headDropout1: setting.headDropout[0], headDropout2: setting.headDropout[1] },
  }), choice.set ?? []);
}

/** Out-of-fold evaluation of a run's last recipe stage, per its task. */
export interface OwnDataEvaluation {
  task: 'multiLabel' | 'singleLabel';
  stage: number;
  clips: number;
  /** The task's metrics over all out-of-fold clips. */
  metrics: Record<string, number>;
  perClass: ClassMetrics[];
  /** singleLabel: confusion counts `[true][predicted]`. */
  confusion?: number[][];
}

/**
 * Scores the out-of-fold predictions (fold models on their held-out clips) of the last stage of
 * the run's recipe with its task. Null when no finished fold held clips out (`--folds 1`
 * without holdout: nothing to evaluate on).
 */
export function evaluateOwnRun(runDir: string): OwnDataEvaluation | null {
  if (!existsSync(runInfoPath(runDir))) throw new Error(`${runDir}: no run.json (train first)`);
  const info = readRunInfo(runDir);
  const config = info.config;
  const stages = recipeStages(recipeOf(config));
  const stage = stages[stages.length - 1];
  const arch = config.model.arch;
  const folds = Array.from({ length: config.pipeline.folds }, (_, f) => f).filter((f) => readFoldDone(runDir, arch, stage, f) !== null);
  if (folds.length === 0) return null;
  const data = loadRunData(runDir, info.dataDir, info.vocabulary, config);
  const oof = readOof(runDir, arch, stage, folds, 'curated', data);
  if (oof.fnames.length === 0) return null;
  const task = makeTask(config.task);
  const C = info.vocabulary.length;
  const out: OwnDataEvaluation = {
    task: task.name, stage, clips: oof.fnames.length,
    metrics: task.metrics(oof.truth, oof.probs, C),
    perClass: task.perClass(oof.truth, oof.probs, info.vocabulary),
  };
  if (task.name === 'singleLabel') {
    const confusion = info.vocabulary.map(() => new Array<number>(C).fill(0));
    for (let i = 0; i < oof.fnames.length; i++) {
      let t = 0;
      let p = 0;
      for (let c = 1; c < C; c++) {
        if (oof.truth[i * C + c] > oof.truth[i * C + t]) t = c;
        if (oof.probs[i * C + c] > oof.probs[i * C + p]) p = c;
      }
      confusion[t][p]++;
    }
    out.confusion = confusion;
  }
  return out;
}

/** The task's views of an evaluation: singleLabel confusion matrix + per-class accuracy; multiLabel per-class lwlrap + ROC AUC. */
export function evaluationFigures(e: OwnDataEvaluation): Figure[] {
  const labels = e.perClass.map((c) => c.label);
  const where = `stage ${e.stage}, out-of-fold on ${e.clips} clips`;
  if (e.task === 'singleLabel') {
    return [
      heatmap(e.confusion!, labels, labels, { title: `Confusion matrix (${where}): rows true, columns predicted`, zTitle: 'clips', xTitle: 'predicted', yTitle: 'true' }),
      bar(labels, { name: 'accuracy', values: e.perClass.map((c) => c.score) }, { horizontal: true, sort: 'desc', title: `Per-class accuracy (overall ${e.metrics.accuracy.toFixed(4)})`, yTitle: 'accuracy' }),
    ];
  }
  const keep = e.perClass.filter((c) => c.positives > 0);
  return [bar(keep.map((c) => c.label), [{ name: 'lwlrap', values: keep.map((c) => c.score) }, { name: 'ROC AUC', values: keep.map((c) => c.auc) }],
    { horizontal: true, sort: 'desc', title: `Per-class lwlrap and ROC AUC (${where}; lwlrap ${e.metrics.lwlrap.toFixed(4)}, mAP ${e.metrics.mAP.toFixed(4)})`, yTitle: 'score' })];
}

/** The evaluation's metrics as a table. */
export function metricsTable(e: OwnDataEvaluation): string {
  return htmlTable(['metric', 'value'], Object.entries(e.metrics).map(([k, v]) => [k, Number.isFinite(v) ? v.toFixed(4) : 'n/a']));
}
