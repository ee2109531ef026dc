/**
 * Predicting a whole dataset folder (`<dataDir>/<dataset>/`, Kaggle layout): clip order from
 * `sample_submission.csv`, images from the feature cache (computed when missing), streamed in
 * chunks through the ensemble.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Architecture, PreprocessConfig } from '../config';
import { cacheEntryPath, DEFAULT_FEATURE_CACHE, isValidCacheEntry, sourceStamp } from '../data/featureCache';
import { readCsvTable, readVocabulary } from '../data/labels';
import { listAudioFiles, loadClipImages, preprocessDatasets, type PreprocessProgress } from '../data/preprocess';
import { datasetClips, validateClips } from '../data/validateClips';
import { loadEnsemble } from './ensemble';
import { predictSource } from './predict';
import type { Ensemble, PredictOptions } from './types';

/** Options of {@link predictDataset}: give `runDir` (loaded and freed here) or a loaded `ensemble`. */
export interface PredictDatasetOptions extends PredictOptions {
  runDir?: string;
  ensemble?: Ensemble;
  /** Member filters and loading mode when `runDir` is given (see loadEnsemble). */
  archs?: readonly Architecture[];
  stages?: readonly number[];
  folds?: readonly number[];
  lazy?: boolean;
  /** Folder with the dataset folders and sample_submission.csv. */
  dataDir: string;
  /** Dataset folder (default 'test'). */
  dataset?: string;
  /** Feature cache root (default 'work/features'). */
  cacheDir?: string;
  /**
   * Worker threads that compute missing images (lib/data preprocessDatasets) while the network
   * predicts the clips already done; default 0: missing images are computed in this thread as
   * the clips are streamed.
   */
  preprocessWorkers?: number;
  /** Progress of that cache-filling step. */
  onPreprocessProgress?: (p: PreprocessProgress) => void;
  /** Clips whose images are in memory at once (default 256). */
  chunkClips?: number;
  /** The clips to predict, relative to the dataset folder (default {@link datasetFnames}); e.g. `dog/001.wav` in a test/<class>/ layout. */
  fnames?: readonly string[];
}

/** Result of {@link predictDataset}. */
export interface DatasetPrediction {
  /** Clip file names, in submission row order. */
  fnames: string[];
  /** Probabilities `[fnames.length][vocabulary.length]` row-major. */
  scores: Float32Array;
  /** Class names = columns of `scores` (the run's vocabulary). */
  vocabulary: string[];
}

/**
 * Clip names of a dataset: the `fname` column of `<dataDir>/sample_submission.csv` when it exists
 * and `dataset` is 'test' (the Kaggle row order), else the audio files of the folder, sorted.
 */
export function datasetFnames(dataDir: string, dataset = 'test'): string[] {
  const sample = join(dataDir, 'sample_submission.csv');
  if (dataset === 'test' && existsSync(sample)) {
    const { header, records } = readCsvTable(sample, 'sample submission');
    if (header[0] !== 'fname') throw new Error(`${sample}: the first column must be "fname", got "${header[0]}"`);
    return records.map((r) => r.fields[0].trim());
  }
  const dir = join(dataDir, dataset);
  if (!existsSync(dir)) throw new Error(`dataset folder not found: ${dir}`);
  const files = listAudioFiles(dir);
  if (files.length === 0) throw new Error(`${dir}: no audio files (.wav, .flac)`);
  return files;
}

/** Throws when the data folder's classes (sample_submission.csv) are not the run's. */
function checkVocabulary(dataDir: string, vocabulary: readonly string[]): void {
  const sample = join(dataDir, 'sample_submission.csv');
  if (!existsSync(sample)) return;
  const data = readVocabulary(sample);
  const run = new Set(vocabulary);
  const missing = data.filter((c) => !run.has(c));
  const extra = vocabulary.filter((c) => !data.includes(c));
  if (missing.length > 0 || extra.length > 0) {
    throw new Error(
      `${sample}: its classes differ from the run's vocabulary (${vocabulary.length} classes)` +
        (missing.length > 0 ? `; not in the run: ${missing.slice(0, 5).join(', ')}` : '') +
        (extra.length > 0 ? `; missing here: ${extra.slice(0, 5).join(', ')}` : ''),
    );
  }
}

/** The feature cache being filled in the background. */
interface BackgroundPreprocessing {
  /** Resolves when every clip of `fnames` has been processed (or the run ended). */
  ready(fnames: readonly string[]): Promise<void>;
  /** Stops dispatching new clips and waits for the workers. */
  stop(): Promise<void>;
}

/**
 * Starts filling the feature cache of `dataset` on `workers` threads (in file-name order, as
 * the Kaggle sample submission lists the test clips), so images are computed on every core while
 * the network predicts the clips already cached.
 */
function startPreprocessing(options: PredictDatasetOptions, dataset: string, cacheDir: string, config: PreprocessConfig, workers: number): BackgroundPreprocessing {
  const done = new Set<string>();
  let finished = false;
  let wake: Array<() => void> = [];
  const notify = () => {
    const w = wake;
    wake = [];
    for (const f of w) f();
  };
  const abort = new AbortController();
  const run = preprocessDatasets({
    dataDir: options.dataDir, datasets: [dataset], cacheDir, config, workers, signal: abort.signal,
    files: options.fnames ? { [dataset]: options.fnames } : undefined,
    onProgress: (p) => {
      if (p.fname) done.add(p.fname);
      options.onPreprocessProgress?.(p);
      notify();
    },
  }).catch(() => undefined).finally(() => {
    // Failures surface when the clip is loaded (loadClipImages names the file).
    finished = true;
    notify();
  });
  const isCached = (fname: string): boolean => {
    const file = join(options.dataDir, dataset, fname);
    return isValidCacheEntry(cacheEntryPath(cacheDir, config, dataset, fname), config.nMels, sourceStamp(file) ?? undefined);
  };
  return {
    async ready(fnames) {
      let waiting = fnames.filter((f) => !done.has(f) && !isCached(f));
      while (waiting.length > 0 && !finished) {
        await new Promise<void>((resolve) => wake.push(resolve));
        waiting = waiting.filter((f) => !done.has(f));
      }
    },
    async stop() {
      abort.abort();
      await run;
    },
  };
}

/**
 * Probabilities of every clip of `<dataDir>/<dataset>/` from a run's ensemble, images built with
 * the run's preprocess config (cached under `cacheDir`). Row order: {@link datasetFnames}.
 * A clip that cannot be decoded throws an Error naming its file.
 */
export async function predictDataset(options: PredictDatasetOptions): Promise<DatasetPrediction> {
  const dataset = options.dataset ?? 'test';
  const cacheDir = options.cacheDir ?? DEFAULT_FEATURE_CACHE;
  const chunkClips = options.chunkClips ?? 256;
  if (!Number.isInteger(chunkClips) || chunkClips < 1) throw new Error(`chunkClips must be an integer >= 1, got ${chunkClips}`);
  if (!options.ensemble && !options.runDir) throw new Error('predictDataset: give runDir or ensemble');
  const fnames = options.fnames ? [...options.fnames] : datasetFnames(options.dataDir, dataset);
  validateClips(datasetClips(options.dataDir, dataset, fnames), options.dataDir, join(options.dataDir, dataset));
  const ensemble = options.ensemble ?? await loadEnsemble(options.runDir!, options);
  try {
    checkVocabulary(options.dataDir, ensemble.vocabulary);
    const config = ensemble.config.preprocess;
    const workers = options.preprocessWorkers ?? 0;
    const cached = workers > 0 ? startPreprocessing(options, dataset, cacheDir, config, workers) : null;
    let scores: Float32Array;
    try {
      scores = await predictSource(ensemble, {
        count: fnames.length,
        chunkSize: chunkClips,
        name: (i) => join(options.dataDir, dataset, fnames[i]),
        load: async (start, end) => {
          const chunk = fnames.slice(start, end);
          if (cached) await cached.ready(chunk);
          return loadClipImages({ dataDir: options.dataDir, dataset, fnames: chunk, cacheDir, config });
        },
      }, options);
    } finally {
      await cached?.stop();
    }
    return { fnames, scores, vocabulary: [...ensemble.vocabulary] };
  } finally {
    if (!options.ensemble) ensemble.dispose();
  }
}
