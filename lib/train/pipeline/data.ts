/**
 * The data of a run: the curated and noisy label files (whole sets), their folds, and a store
 * of training clips (images from the feature cache + multi-hot targets) that a process
 * loads once and shares between the folds of a stage.
 */
import { join } from 'node:path';
import type { Fat2019Config, PreprocessConfig } from '../../config';
import { multiHot, readLabelCsv, type LabeledClip } from '../../data/labels';
import { loadClipImages, loadClipWaveform } from '../../data/preprocess';
import type { TrainingClip } from '../../data/types';
import { ensureFolds, type ClipSet } from './folds';
import { foldsPath } from '../../run/runFolder';

/** Dataset folder (audio) and label CSV of each set, in the Kaggle layout. */
export const SET_FILES: Readonly<Record<ClipSet, { dataset: string; labelCsv: string }>> = {
  curated: { dataset: 'train_curated', labelCsv: 'train_curated.csv' },
  noisy: { dataset: 'train_noisy', labelCsv: 'train_noisy.csv' },
};

/** One set's clips and folds (arrays aligned: `folds[i]` is the fold of `clips[i]`). */
export interface SetData {
  set: ClipSet;
  labelFile: string;
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
}

/** Seed of a set's fold split: the run's train.seed (curated), + 1 (noisy). */
export function foldSeed(config: Fat2019Config, set: ClipSet): number {
  return config.train.seed + (set === 'noisy' ? 1 : 0);
}

/**
 * Reads both label files (labels checked against `vocabulary`) and the run's folds, creating
 * `folds/{curated,noisy}.csv` on first use (iterative stratification, `config.pipeline.folds`).
 */
export function loadRunData(runDir: string, dataDir: string, vocabulary: string[], config: Fat2019Config): RunData {
  const load = (set: ClipSet): SetData => {
    const labelFile = join(dataDir, SET_FILES[set].labelCsv);
    const clips = readLabelCsv(labelFile, vocabulary);
    if (clips.length === 0) throw new Error(`${labelFile}: no clips`);
    const folds = ensureFolds({ path: foldsPath(runDir, set), clips, labelFile, k: config.pipeline.folds, seed: foldSeed(config, set) });
    return { set, labelFile, clips, folds, index: new Map(clips.map((c, i) => [c.fname, i] as [string, number])) };
  };
  return { dataDir, vocabulary, sets: { curated: load('curated'), noisy: load('noisy') } };
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
    const dataset = SET_FILES[set].dataset;
    const key = (f: string) => `${set}/${f}`;
    const missing = fnames.filter((f) => !this.held.has(key(f)));
    const loaded = new Map<string, TrainingClip>();
    if (missing.length > 0) {
      const images = await loadClipImages({ dataDir: this.data.dataDir, dataset, fnames: missing, cacheDir: this.options.cacheDir, config: this.options.preprocess });
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
        if (!clip.waveform) clip.waveform = await loadClipWaveform(join(this.data.dataDir, dataset, clip.fname), this.options.preprocess);
      }
    }
    return out;
  }

  /** Releases every held clip not listed (per set; an absent set releases all its clips). */
  retainOnly(keep: Partial<Record<ClipSet, Iterable<string>>>): void {
    const wanted = new Set<string>();
    for (const set of Object.keys(keep) as ClipSet[]) for (const f of keep[set]!) wanted.add(`${set}/${f}`);
    for (const k of [...this.held.keys()]) if (!wanted.has(k)) this.held.delete(k);
  }
}
