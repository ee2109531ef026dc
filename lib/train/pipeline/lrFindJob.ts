/**
 * The learning-rate finder on a data set (`fat2019 lr-find`, `fat2019 train --lr auto`): the
 * labelled clips' images (feature cache, computed when missing), a fresh model of the resolved
 * config, the recipe's augmentation and loss, and lib/train/lrFind's sweep; its curve as CSV,
 * a plotly HTML page and JSON. The model lives in memory only: no run folder is read or written.
 */
import { join } from 'node:path';
import type { Fat2019Config } from '../../config';
import { batchMaker } from '../../augment/pipeline';
import { multiHot } from '../../data/labels';
import type { DataLayout } from '../../data/layout';
import { loadClipImages, preprocessDatasets } from '../../data/preprocess';
import type { TrainingClip } from '../../data/types';
import { buildModel } from '../../models/index';
import { makeTask } from '../../task/task';
import { writeFileAtomicSync } from '../../util/atomicWrite';
import { lineChart } from '../../viz/charts';
import { figureHtml, plotlyInit, type Figure } from '../../viz/plotly';
import { lrFind, type LrFindResult, type LrSuggestion } from '../lrFind';
import { recipeOf } from './recipes';

export interface LrFindJobOptions {
  layout: DataLayout;
  config: Fat2019Config;
  cacheDir: string;
  /** Preprocessing threads for clips not cached yet (default: 1). */
  workers?: number;
  startLr?: number;
  endLr?: number;
  numIt?: number;
  suggestion?: LrSuggestion;
  log?: (message: string) => void;
}

export interface LrFindJobResult extends LrFindResult {
  suggestion: LrSuggestion;
  /** The suggested learning rate (by `suggestion`). */
  lr: number;
  batchSize: number;
  clips: number;
}

/** Sweeps on every labelled clip of `layout` with `config`'s model, augmentation, loss and batch size. */
export async function lrFindOnData(o: LrFindJobOptions): Promise<LrFindJobResult> {
  const { layout, config } = o;
  const set = layout.curated;
  const fnames = set.clips.map((c) => c.fname);
  const pre = await preprocessDatasets({ dataDir: set.dataDir, datasets: [set.dataset], files: { [set.dataset]: fnames }, cacheDir: o.cacheDir, config: config.preprocess, workers: o.workers ?? 1 });
  if (pre.failed > 0) throw new Error(`${pre.failed} clip(s) could not be preprocessed, e.g. ${pre.failures[0].file}: ${pre.failures[0].reason}`);
  const images = await loadClipImages({ dataDir: set.dataDir, dataset: set.dataset, fnames, cacheDir: o.cacheDir, config: config.preprocess });
  const clips: TrainingClip[] = set.clips.map((c, i) => ({ fname: c.fname, image: images[i], target: multiHot(c.labels, layout.vocabulary) }));
  // Waveform augmentations need each clip's audio: the sweep leaves them out (the image ones stay).
  const augment = { ...config.augment, waveform: { ...config.augment.waveform, enabled: false } };
  const model = buildModel(config.model, { seed: config.train.seed });
  const suggestion = o.suggestion ?? 'valley';
  try {
    o.log?.(`lr-find: ${clips.length} clips, batch ${config.train.batchSize}, lr ${o.startLr ?? 1e-7} → ${o.endLr ?? 10} over ${o.numIt ?? 100} steps`);
    const result = lrFind({
      model, clips, task: makeTask(config.task), optimizer: config.optimizer, batchSize: config.train.batchSize, microBatchSize: config.train.microBatchSize,
      makeBatch: batchMaker(augment, config.model.inputFrames, config.model.numClasses, config.preprocess), seed: config.train.seed,
      startLr: o.startLr, endLr: o.endLr, numIt: o.numIt, inputNormalization: config.model.inputNormalization,
    });
    return { ...result, suggestion, lr: result.suggestions[suggestion], batchSize: Math.min(config.train.batchSize, clips.length), clips: clips.length };
  } finally {
    model.dispose();
  }
}

/** The loss against the learning rate (log axis), raw and smoothed, with the suggestions marked. */
export function lrFindFigure(r: LrFindJobResult): Figure {
  const fig = lineChart([
    { name: 'loss', x: r.lrs, y: r.losses },
    { name: 'smoothed loss', x: r.lrs, y: r.smoothed },
  ], { title: `lr-find: suggested ${r.suggestion} ${r.lr.toPrecision(2)} (${r.clips} clips, batch ${r.batchSize}${r.stop === 'diverged' ? ', stopped: diverged' : ''})`, xTitle: 'learning rate', yTitle: 'training loss', markers: false });
  fig.layout.xaxis = { ...(fig.layout.xaxis as object), type: 'log' };
  const lo = Math.min(...r.smoothed);
  const hi = Math.max(...r.smoothed.slice(0, Math.max(3, Math.floor(r.smoothed.length / 10))), lo);
  for (const [name, lr] of Object.entries(r.suggestions)) {
    fig.data.push({ type: 'scatter', mode: 'lines', name: `${name} ${lr.toPrecision(2)}`, x: [lr, lr], y: [lo, hi], line: { dash: name === r.suggestion ? 'solid' : 'dot' } } as Figure['data'][number]);
  }
  return fig;
}

/** Writes `<dir>/lr-find.csv` (step, lr, loss, smoothed), `lr-find.html` (plotly, offline) and `lr-find.json`; returns their paths. */
export function writeLrFindOutputs(dir: string, r: LrFindJobResult): { csv: string; html: string; json: string } {
  const csv = join(dir, 'lr-find.csv');
  const html = join(dir, 'lr-find.html');
  const json = join(dir, 'lr-find.json');
  writeFileAtomicSync(csv, ['step,lr,loss,smoothed', ...r.lrs.map((lr, i) => `${i},${lr},${r.losses[i]},${r.smoothed[i]}`)].join('\n') + '\n');
  writeFileAtomicSync(html, `<!doctype html><html><head><meta charset="utf-8"><title>lr-find</title></head><body>${plotlyInit()}${figureHtml(lrFindFigure(r))}</body></html>\n`);
  writeFileAtomicSync(json, JSON.stringify({ suggestion: r.suggestion, lr: r.lr, suggestions: r.suggestions, stop: r.stop, steps: r.lrs.length, clips: r.clips, batchSize: r.batchSize }, null, 2) + '\n');
  return { csv, html, json };
}

/** `config` with the suggested lr as the max lr of every stage of its recipe that trains from scratch; the stages set. */
export function withFoundLr(config: Fat2019Config, lr: number): { config: Fat2019Config; stages: number[] } {
  const stages = recipeOf(config).stages.filter((s) => s.initFrom === null).map((s) => s.stage);
  const stageMaxLr = config.pipeline.stageMaxLr.map((x, i) => (stages.includes(i + 1) ? lr : x));
  return { config: { ...config, pipeline: { ...config.pipeline, stageMaxLr } }, stages };
}
