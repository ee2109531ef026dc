/**
 * Dataset preprocessing: every audio file of the chosen datasets → its clip image in the
 * feature cache ({@link featureCacheDir}), on worker threads.
 *
 * - Resumable: entries already in the cache (valid header and size) are skipped, so a second
 *   run computes nothing and an interrupted run picks up where it stopped.
 * - Checked first: every clip of the folders and of their label files is looked up on disk
 *   before any work ({@link checkDatasets}, lib/data/validateClips): missing, unreadable or
 *   unsupported (MP3, OGG…) clips are all reported in one error.
 * - Robust: a file that passes that check but cannot be decoded (truncated, damaged header) is
 *   recorded with its reason; the run goes on. The report is returned and written to
 *   `<cacheDir>/<configHash>/preprocess-report.json`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { PREPROCESS_DEFAULTS, checkPreprocessConfig, withDefaults, type PreprocessConfig } from '../config';
import type { ClipImage } from '../features/types';
import { loadAudioFile } from '../audio/load';
import { clipImageFromSamples, trimClip } from '../features/logmel';
import { writeFileAtomicSync } from '../util/atomicWrite';
import {
  cacheEntryPath,
  DEFAULT_FEATURE_CACHE,
  featureCacheDir,
  isValidCacheEntry,
  preprocessConfigHash,
  readCachedImage,
  writeCachedImage,
  sourceStamp,
} from './featureCache';
import { runPreprocessJob, type PreprocessJob, type PreprocessJobResult } from './preprocessJob';
import { readCsvTable } from './labels';
import { datasetClips, UNSUPPORTED_AUDIO_EXTENSIONS, validateClips, type ListedClip } from './validateClips';

/** The Kaggle dataset folders preprocessed by default, when present. */
export const DEFAULT_DATASETS = ['train_curated', 'train_noisy', 'test'] as const;

/** Audio files picked up in a dataset folder. */
const AUDIO_EXT = /\.(wav|flac)$/i;

/** Options of {@link preprocessDatasets}. */
export interface PreprocessOptions {
  /** Folder holding the dataset folders (Kaggle layout), e.g. `data/fsdkaggle2019`. */
  dataDir: string;
  /** Dataset folder names; default: whichever of train_curated, train_noisy, test exist. */
  datasets?: string[];
  /**
   * The clips to preprocess, per dataset, as paths relative to the dataset folder (e.g.
   * `dog/001.wav` in a folder-per-class layout); a dataset not listed: every audio file
   * directly inside its folder.
   */
  files?: Record<string, readonly string[]>;
  /** Cache root (default `work/features`). */
  cacheDir?: string;
  /** Preprocessing parameters (default {@link PREPROCESS_DEFAULTS}). */
  config?: PreprocessConfig;
  /** Worker threads (default and at most os.availableParallelism()); 0 runs in the calling thread. */
  workers?: number;
  /** Called after every finished clip (and once after the cache scan). */
  onProgress?: (p: PreprocessProgress) => void;
  /** Stops dispatching new clips; in-flight clips finish, the report says `aborted: true`. */
  signal?: AbortSignal;
}

/** Progress of a run. `done` counts computed + skipped + failed clips. */
export interface PreprocessProgress {
  done: number;
  total: number;
  computed: number;
  skipped: number;
  failed: number;
  elapsedSec: number;
  /** Estimated seconds left (null until a clip has been computed). */
  etaSec: number | null;
  /** The clip that just finished (absent for the scan notification). */
  dataset?: string;
  fname?: string;
}

/** A file that could not be preprocessed. */
export interface PreprocessFailure {
  dataset: string;
  fname: string;
  file: string;
  reason: string;
}

/** Per-dataset counters. */
export interface DatasetCounts {
  total: number;
  computed: number;
  skipped: number;
  failed: number;
}

/** Summary of a run, also written to `<cacheDir>/<configHash>/preprocess-report.json`. */
export interface PreprocessReport {
  configHash: string;
  /** `<cacheDir>/<configHash>`. */
  cacheDir: string;
  dataDir: string;
  config: PreprocessConfig;
  datasets: Record<string, DatasetCounts>;
  total: number;
  computed: number;
  skipped: number;
  failed: number;
  failures: PreprocessFailure[];
  /** True when the run was stopped by its AbortSignal before finishing. */
  aborted: boolean;
  /** Worker threads used (0 = the calling thread). */
  workers: number;
  /** Files in the dataset folders that are not audio (e.g. a README), left alone: `<dataset>/<name>`. */
  ignoredFiles: string[];
  elapsedSec: number;
  startedAt: string;
  finishedAt: string;
}

interface PlannedJob extends PreprocessJob {
  dataset: string;
  fname: string;
}

/** A dataset folder's files: audio to preprocess, audio in formats not read here, and the rest. */
export interface FolderScan {
  audio: string[];
  unsupported: string[];
  other: string[];
}

/** Sorts the files directly inside `dir` (sorted names) into {@link FolderScan}'s three kinds. */
function scanDatasetFolder(dir: string): FolderScan {
  const scan: FolderScan = { audio: [], unsupported: [], other: [] };
  const names = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isFile() || d.isSymbolicLink()).map((d) => d.name).sort();
  for (const name of names) {
    const ext = /\.[^.]+$/.exec(name)?.[0].toLowerCase() ?? '';
    if (AUDIO_EXT.test(name)) scan.audio.push(name);
    else if (UNSUPPORTED_AUDIO_EXTENSIONS[ext]) scan.unsupported.push(name);
    else scan.other.push(name);
  }
  return scan;
}

/** The label file that lists a dataset's clips in the Kaggle layout (`test` → sample_submission.csv). */
function datasetListFile(dataDir: string, dataset: string): string | null {
  const path = join(dataDir, dataset === 'test' ? 'sample_submission.csv' : `${dataset}.csv`);
  return existsSync(path) ? path : null;
}

/** The `fname` column of a label file. */
function listedFnames(csvPath: string): string[] {
  const { header, records } = readCsvTable(csvPath, 'label file');
  const col = header.indexOf('fname');
  if (col < 0) throw new Error(`${csvPath}: no "fname" column (header: ${header.join(',')})`);
  return records.map((r) => (r.fields[col] ?? '').trim()).filter((f) => f !== '');
}

/**
 * Checks at once, before any work, every clip the datasets hold or list: the audio files of
 * each folder and the clips of its label file (`<dataset>.csv`, sample_submission.csv for
 * test), or the clips `files` names for it. Files in a format not read here (MP3, OGG…) are errors, named by format; a listed
 * clip missing or outside the data folder too. Throws one error listing every problem.
 * @returns each folder's scan
 */
export function checkDatasets(dataDir: string, datasets: readonly string[], files?: Record<string, readonly string[]>): Record<string, FolderScan> {
  const scans: Record<string, FolderScan> = {};
  const clips: ListedClip[] = [];
  const seen = new Set<string>();
  for (const dataset of datasets) {
    // Clips given by a layout (nested paths of a folder per class, a label CSV's fnames) are the ones checked.
    const listed = files?.[dataset];
    const scan = listed ? { audio: [...listed], unsupported: [], other: [] } : scanDatasetFolder(join(dataDir, dataset));
    scans[dataset] = scan;
    const list = datasetListFile(dataDir, dataset);
    for (const clip of datasetClips(dataDir, dataset, [...scan.audio, ...scan.unsupported, ...(list ? listedFnames(list) : [])])) {
      if (!seen.has(clip.path)) clips.push(clip);
      seen.add(clip.path);
    }
  }
  const lists = datasets.map((d) => datasetListFile(dataDir, d)).filter((p): p is string => p !== null);
  validateClips(clips, dataDir, `the dataset folders ${datasets.join(', ')} of ${dataDir}${lists.length > 0 ? ` and ${lists.join(', ')}` : ''}`);
  return scans;
}

/** Sorted audio file names (wav/flac) directly inside `dir`. */
export function listAudioFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => (d.isFile() || d.isSymbolicLink()) && AUDIO_EXT.test(d.name))
    .map((d) => d.name)
    .sort();
}

function resolveDatasets(dataDir: string, datasets?: string[]): string[] {
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) throw new Error(`dataDir not found or not a folder: ${dataDir}`);
  if (datasets && datasets.length > 0) {
    for (const d of datasets) {
      const p = join(dataDir, d);
      if (!existsSync(p) || !statSync(p).isDirectory()) throw new Error(`dataset folder not found: ${p}`);
    }
    return datasets;
  }
  const found = DEFAULT_DATASETS.filter((d) => existsSync(join(dataDir, d)) && statSync(join(dataDir, d)).isDirectory());
  if (found.length === 0) throw new Error(`no dataset folder (${DEFAULT_DATASETS.join(', ')}) in ${dataDir}`);
  return [...found];
}

/**
 * Preprocesses every audio file of the datasets into the feature cache.
 * @returns the run's report (failed files listed with their reasons; never throws for a bad file)
 */
export async function preprocessDatasets(options: PreprocessOptions): Promise<PreprocessReport> {
  const started = Date.now();
  const config = options.config ?? withDefaults(PREPROCESS_DEFAULTS);
  checkPreprocessConfig(config);
  const cacheRoot = options.cacheDir ?? DEFAULT_FEATURE_CACHE;
  const requested = options.workers ?? availableParallelism();
  if (!Number.isInteger(requested) || requested < 0) throw new Error(`workers must be a non-negative integer, got ${requested}`);
  // More threads than cores only adds memory and contention.
  const workers = Math.min(requested, availableParallelism());
  const dataDir = options.dataDir;
  const datasets = resolveDatasets(dataDir, options.datasets);
  const scans = checkDatasets(dataDir, datasets, options.files);
  const hashDir = featureCacheDir(cacheRoot, config);
  writeFileAtomicSync(join(hashDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');

  const counts: Record<string, DatasetCounts> = {};
  const failures: PreprocessFailure[] = [];
  const todo: PlannedJob[] = [];
  let total = 0;
  let skipped = 0;
  for (const dataset of datasets) {
    const c: DatasetCounts = { total: 0, computed: 0, skipped: 0, failed: 0 };
    counts[dataset] = c;
    for (const fname of options.files?.[dataset] ?? scans[dataset].audio) {
      c.total++;
      total++;
      const entry = cacheEntryPath(cacheRoot, config, dataset, fname);
      const file = join(dataDir, dataset, fname);
      if (isValidCacheEntry(entry, config.nMels, sourceStamp(file) ?? undefined)) {
        c.skipped++;
        skipped++;
      } else {
        todo.push({ id: todo.length, dataset, fname, file, entry });
      }
    }
  }

  let computed = 0;
  let failed = 0;
  const progress = (job?: PlannedJob): void => {
    if (!options.onProgress) return;
    const elapsedSec = (Date.now() - started) / 1000;
    const finished = computed + failed;
    const remaining = todo.length - finished;
    const etaSec = finished > 0 ? (elapsedSec / finished) * remaining : null;
    options.onProgress({ done: skipped + finished, total, computed, skipped, failed, elapsedSec, etaSec, dataset: job?.dataset, fname: job?.fname });
  };
  const onResult = (r: PreprocessJobResult): void => {
    const job = todo[r.id];
    // `ok === false`, not `!r.ok`: tslab compiles without strictNullChecks, where only a
    // literal comparison narrows this union.
    if (r.ok === false) {
      failed++;
      counts[job.dataset].failed++;
      failures.push({ dataset: job.dataset, fname: job.fname, file: job.file, reason: r.reason });
    } else {
      computed++;
      counts[job.dataset].computed++;
    }
    progress(job);
  };
  progress();

  let aborted = false;
  if (todo.length > 0) {
    if (workers === 0 || !existsSync(WORKER_SCRIPT)) {
      // In-process: asked for, or the bootstrap is not beside this module (e.g. a bundler or a
      // notebook kernel that compiled the sources elsewhere).
      for (const job of todo) {
        if (options.signal?.aborted) break;
        onResult(await runPreprocessJob(job, config));
      }
    } else {
      await runOnWorkers(todo, config, Math.min(workers, todo.length), onResult, options.signal);
    }
    aborted = computed + failed < todo.length;
  }

  failures.sort((a, b) => (a.dataset === b.dataset ? (a.fname < b.fname ? -1 : 1) : a.dataset < b.dataset ? -1 : 1));
  const usedWorkers = workers > 0 && existsSync(WORKER_SCRIPT) ? Math.min(workers, Math.max(1, todo.length)) : 0;
  const report: PreprocessReport = {
    configHash: preprocessConfigHash(config),
    cacheDir: hashDir,
    dataDir,
    config,
    datasets: counts,
    total,
    computed,
    skipped,
    failed,
    failures,
    aborted,
    workers: usedWorkers,
    ignoredFiles: datasets.flatMap((d) => scans[d].other.map((f) => `${d}/${f}`)),
    elapsedSec: (Date.now() - started) / 1000,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date().toISOString(),
  };
  writeFileAtomicSync(join(hashDir, 'preprocess-report.json'), JSON.stringify(report, null, 2) + '\n');
  return report;
}

const WORKER_SCRIPT = join(__dirname, 'preprocessWorker.cjs');
/** Jobs queued per worker, so a worker never idles while its next job is in transit. */
const IN_FLIGHT_PER_WORKER = 2;

function runOnWorkers(
  jobs: PlannedJob[],
  config: PreprocessConfig,
  nWorkers: number,
  onResult: (r: PreprocessJobResult) => void,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolveAll) => {
    let next = 0;
    let live = 0;
    let crashesInARow = 0;
    let lastCrash = '';
    const stopping = () => signal?.aborted === true;
    const start = (): void => {
      const worker = new Worker(WORKER_SCRIPT);
      const inFlight = new Set<number>();
      live++;
      const feed = (): void => {
        while (!stopping() && next < jobs.length && inFlight.size < IN_FLIGHT_PER_WORKER) {
          const { id, file, entry } = jobs[next++];
          inFlight.add(id);
          worker.postMessage({ type: 'job', job: { id, file, entry }, config });
        }
        if (inFlight.size === 0) void worker.terminate();
      };
      worker.on('message', (r: PreprocessJobResult) => {
        crashesInARow = 0;
        inFlight.delete(r.id);
        onResult(r);
        feed();
      });
      const fail = (reason: string): void => {
        // A crashed thread (e.g. out of memory): its clips fail, a fresh worker takes the rest.
        for (const id of inFlight) onResult({ id, ok: false, reason });
        inFlight.clear();
        crashesInARow++;
        lastCrash = reason;
      };
      worker.on('error', (err) => fail(`worker thread crashed: ${err.message}`));
      worker.on('exit', (code) => {
        if (inFlight.size > 0) fail(`worker thread exited with code ${code}`);
        live--;
        if (crashesInARow >= 3) {
          // Threads die before finishing anything (broken install?): fail the rest, don't loop.
          while (next < jobs.length) onResult({ id: jobs[next++].id, ok: false, reason: `not processed: ${lastCrash}` });
        }
        if (!stopping() && next < jobs.length) start();
        else if (live === 0) resolveAll();
      });
      feed();
    };
    for (let i = 0; i < nWorkers; i++) start();
  });
}

/** Options of {@link loadClipImages}. */
export interface LoadClipImagesOptions {
  dataDir: string;
  dataset: string;
  /** File names inside `<dataDir>/<dataset>/`, e.g. from the label CSV. */
  fnames: string[];
  cacheDir?: string;
  config?: PreprocessConfig;
}

/**
 * Images of `fnames` in that order, from the cache; missing entries are computed (in this
 * thread) and cached. A file that cannot be decoded throws an Error naming it.
 */
export async function loadClipImages(options: LoadClipImagesOptions): Promise<ClipImage[]> {
  const config = options.config ?? withDefaults(PREPROCESS_DEFAULTS);
  const cacheRoot = options.cacheDir ?? DEFAULT_FEATURE_CACHE;
  const out: ClipImage[] = [];
  for (const fname of options.fnames) {
    const entry = cacheEntryPath(cacheRoot, config, options.dataset, fname);
    const file = join(options.dataDir, options.dataset, fname);
    const stamp = sourceStamp(file);
    if (!stamp) throw new Error(`${file}: audio file not found (listed in the label CSV)`);
    let img = readCachedImage(entry, config.nMels, stamp);
    if (!img) {
      img = clipImageFromSamples(await loadAudioFile(file, { sampleRate: config.sampleRate }), config);
      writeCachedImage(entry, img, stamp);
    }
    out.push(img);
  }
  return out;
}

/**
 * A clip's trimmed waveform at config.sampleRate (load → trim, no padding), for waveform
 * augmentations that rebuild the image with `imageFromTrimmed`.
 * @returns mono samples `[n]` (a fresh array)
 */
export async function loadClipWaveform(file: string, config: PreprocessConfig = withDefaults(PREPROCESS_DEFAULTS)): Promise<Float32Array> {
  const samples = await loadAudioFile(file, { sampleRate: config.sampleRate });
  return trimClip(samples, config).slice();
}
