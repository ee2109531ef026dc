/**
 * The data of a run: its layout (lib/data/layout: Kaggle, folder per class, one CSV), the
 * labelled ("curated") and noisy sets with their folds, the unlabelled clips, and a store of
 * training clips (images from the feature cache + targets) that a process loads once and
 * shares between the folds of a stage. A layout without a noisy set gets an empty one.
 */
import { join } from 'node:path';
import type { Fat2019Config, PreprocessConfig } from '../../config';
import { multiHot, type LabeledClip } from '../../data/labels';
import { detectLayout, type ClipFolder, type DataLayout } from '../../data/layout';
import { loadClipImages, loadClipWaveform } from '../../data/preprocess';
import type { TrainingClip } from '../../data/types';
import { checkTaskLabels } from '../../task/task';
import { ensureFolds, type ClipSet } from './folds';
import { recipeOf } from './recipes';
import { foldsPath } from '../../run/runFolder';

/** Dataset folder (audio) and label CSV of each set, in the Kaggle layout. */
export const SET_FILES: Readonly<Record<ClipSet, { dataset: string; labelCsv: string }>> = {
  curated: { dataset: 'train_curated', labelCsv: 'train_curated.csv' },
  noisy: { dataset: 'train_noisy', labelCsv: 'train_noisy.csv' },
};

/** One set's clips and folds (arrays aligned: `folds[i]` is the fold of `clips[i]`; −1 = never held out). */
export interface SetData {
  set: ClipSet;
  labelFile: string;
  /** Audio of clip i: `<dataDir>/<dataset>/<clips[i].fname>`. */
  dataDir: string;
  dataset: string;
  clips: LabeledClip[];
  folds: Int32Array;
  /** fname → index into clips. */
  index: Map<string, number>;
}

/** Everything a job needs to know about the run's data besides the images. */
export interface RunData {
  dataDir: string;
  vocabulary: string[];
  sets: Record<ClipSet, SetData>;
  layout: DataLayout;
  /** Clips without labels for pseudo-labelling: the `unlabeled/` folder, else the test set. */
  unlabeled?: ClipFolder;
}

/** Seed of a set's fold split: the run's train.seed (curated), + 1 (noisy). */
export function foldSeed(config: Fat2019Config, set: ClipSet): number {
  return config.train.seed + (set === 'noisy' ? 1 : 0);
}

/**
 * Detects the layout of `dataDir` (a data folder or a label CSV), checks its labels against
 * `vocabulary` and the task, and reads the run's folds, creating `folds/{curated,noisy}.csv`
 * on first use (a `fold` column as given, else iterative stratification into
 * `config.pipeline.folds`, or with 1 fold a `pipeline.holdout` fraction or nothing held out).
 * A recipe that needs a noisy set (or unlabelled clips) and a layout without one throw here.
 */
export function loadRunData(runDir: string, dataDir: string, vocabulary: string[], config: Fat2019Config): RunData {
  const layout = detectLayout(dataDir);
  checkRecipeData(layout, config);
  const known = new Set(vocabulary);
  // A recipe without a noisy stage ignores a noisy set (no folds, no out-of-fold predictions).
  const useNoisy = recipeOf(config).needsNoisy;
  const load = (set: ClipSet): SetData => {
    const source = set === 'curated' ? layout.curated : useNoisy ? layout.noisy : undefined;
    if (!source) return { set, labelFile: '(no noisy set)', dataDir, dataset: SET_FILES.noisy.dataset, clips: [], folds: new Int32Array(0), index: new Map() };
    for (const c of source.clips) for (const l of c.labels) {
      if (!known.has(l)) throw new Error(`${source.labelFile}: clip ${c.fname} has label "${l}", which is not one of the run's ${vocabulary.length} classes`);
    }
    if (set === 'curated') checkTaskLabels(config.task.name, source.clips, source.labelFile);
    const folds = ensureFolds({
      path: foldsPath(runDir, set), clips: source.clips, labelFile: source.labelFile, k: config.pipeline.folds,
      seed: foldSeed(config, set), holdout: config.pipeline.holdout, given: set === 'curated' ? source.givenFolds : undefined,
    });
    return {
      set, labelFile: source.labelFile, dataDir: source.dataDir, dataset: source.dataset, clips: source.clips, folds,
      index: new Map(source.clips.map((c, i) => [c.fname, i] as [string, number])),
    };
  };
  const data: RunData = { dataDir, vocabulary, sets: { curated: load('curated'), noisy: load('noisy') }, layout };
  const unlabeled = layout.unlabeled ?? layout.test;
  if (unlabeled) data.unlabeled = unlabeled;
  return data;
}

/** Throws, naming the data and the recipe, when the recipe needs data the layout lacks. */
export function checkRecipeData(layout: DataLayout, config: Fat2019Config): void {
  const recipe = recipeOf(config);
  if (recipe.needsNoisy && !layout.noisy) {
    throw new Error(`${layout.source}: recipe "${recipe.name}" trains on a noisy set, and this data has none (no train_noisy.csv); ` +
      'use --recipe single (or pseudoLabel), or add train_noisy.csv and train_noisy/');
  }
  if (recipe.needsUnlabeled && !layout.unlabeled && !layout.test) {
    throw new Error(`${layout.source}: recipe "${recipe.name}" pseudo-labels unlabelled clips, and this data has none (no unlabeled/ or test/ folder)`);
  }
}

/** fnames of a set's clips in fold `fold` (`inFold` true) or in every other fold, in label-file order. */
export function foldFnames(data: SetData, fold: number, inFold: boolean): string[] {
  return data.clips.filter((_, i) => (data.folds[i] === fold) === inFold).map((c) => c.fname);
}

/** Options of {@link ClipStore}. */
export interface ClipStoreOptions {
  /** Feature cache root (default `work/features`, as lib/data/preprocess). */
  cacheDir?: string;
  preprocess: PreprocessConfig;
}

/**
 * Training clips of a run, loaded on demand from the feature cache (missing images are
 * computed and cached by `loadClipImages`) and kept while asked to: `get(..., {keep: true})`
 * holds the clips for later calls, {@link retainOnly} releases the ones a stage no longer
 * needs. A process running several folds of a stage thus loads each image once, and holds at
 * most one stage's training clips plus one fold's held-out clips.
 */
export class ClipStore {
  private readonly held = new Map<string, TrainingClip>();

  constructor(private readonly data: RunData, private readonly options: ClipStoreOptions) {}

  /** Number of clips held. */
  get size(): number {
    return this.held.size;
  }

  /**
   * Clips of `set` named `fnames`, in that order. `keep` (default true) holds newly loaded
   * clips for later calls; `waveform` also loads each clip's trimmed waveform (waveform
   * augmentations need it).
   */
  async get(set: ClipSet, fnames: readonly string[], opts: { keep?: boolean; waveform?: boolean } = {}): Promise<TrainingClip[]> {
    const keep = opts.keep ?? true;
    const setData = this.data.sets[set];
    const dataset = setData.dataset;
    const key = (f: string) => `${set}/${f}`;
    const missing = fnames.filter((f) => !this.held.has(key(f)));
    const loaded = new Map<string, TrainingClip>();
    if (missing.length > 0) {
      const images = await loadClipImages({ dataDir: setData.dataDir, dataset, fnames: missing, cacheDir: this.options.cacheDir, config: this.options.preprocess });
      missing.forEach((fname, i) => {
        const row = setData.index.get(fname);
        if (row === undefined) throw new Error(`clip ${fname} is not in ${setData.labelFile}`);
        const clip: TrainingClip = { fname, image: images[i], target: multiHot(setData.clips[row].labels, this.data.vocabulary) };
        loaded.set(fname, clip);
        if (keep) this.held.set(key(fname), clip);
      });
    }
    const out = fnames.map((f) => this.held.get(key(f)) ?? loaded.get(f)!);
    if (opts.waveform) {
      for (const clip of out) {
        if (!clip.waveform) clip.waveform = await loadClipWaveform(join(setData.dataDir, dataset, clip.fname), this.options.preprocess);
      }
    }
    return out;
  }

  /**
   * Unlabelled clips (`data.unlabeled`) with the given targets (pseudo-labels), not held:
   * pseudo-labels differ per fold, so each fold loads its own.
   */
  async getUnlabeled(fnames: readonly string[], targets: readonly Float32Array[], opts: { waveform?: boolean } = {}): Promise<TrainingClip[]> {
    if (fnames.length === 0) return [];
    const source = this.data.unlabeled;
    if (!source) throw new Error('ClipStore: the run has no unlabelled clips');
    const images = await loadClipImages({ dataDir: source.dataDir, dataset: source.dataset, fnames: [...fnames], cacheDir: this.options.cacheDir, config: this.options.preprocess });
    const out: TrainingClip[] = fnames.map((fname, i) => ({ fname, image: images[i], target: targets[i] }));
    if (opts.waveform) for (const clip of out) clip.waveform = await loadClipWaveform(join(source.dataDir, source.dataset, clip.fname), this.options.preprocess);
    return out;
  }

  /** Releases every held clip not listed (per set; an absent set releases all its clips). */
  retainOnly(keep: Partial<Record<ClipSet, Iterable<string>>>): void {
    const wanted = new Set<string>();
    for (const set of Object.keys(keep) as ClipSet[]) for (const f of keep[set]!) wanted.add(`${set}/${f}`);
    for (const k of [...this.held.keys()]) if (!wanted.has(k)) this.held.delete(k);
  }
}
