import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as aq from 'arquero';

/** An arquero table (arquero 5 exports the class only under `internal`). */
export type AqTable = aq.internal.ColumnTable;
import { readWavInfo } from '../audio/wav';
import { readVocabulary, vocabularyFromFile } from '../data/labels';
import { loadAudioFile } from '../audio/load';
import { imageFromTrimmed, logMelSpectrogram } from '../features/logmel';
import { padCentered, trimSilence } from '../features/trim';
import type { ClipImage, Matrix } from '../features/types';
import { PREPROCESS_DEFAULTS, PreprocessConfig } from '../config';

/**
 * Data helpers of the EDA notebook: find what a data folder holds (Kaggle layout or the
 * post-competition FSDKaggle2019 files), read label CSVs into arquero tables, count label
 * pairs, read clip durations from WAV headers.
 */

/** The three sets of FSDKaggle2019. */
export type SetName = 'curated' | 'noisy' | 'test';
export const SET_NAMES: readonly SetName[] = ['curated', 'noisy', 'test'];

/** Label CSV names per set, in order of preference (Kaggle names first, then post-competition). */
export const LABEL_CSV_NAMES: Record<SetName, string[]> = {
  curated: ['train_curated.csv', 'train_curated_post_competition.csv'],
  noisy: ['train_noisy.csv', 'train_noisy_post_competition.csv'],
  test: ['test_post_competition.csv', 'test.csv'],
};

/** Audio folder per set (Kaggle layout). */
export const AUDIO_DIR_NAMES: Record<SetName, string> = { curated: 'train_curated', noisy: 'train_noisy', test: 'test' };

/** What a data folder holds; absent entries are undefined. */
export interface DatasetLayout {
  dataDir: string;
  /** Label CSV per set (the test one has ground truth: only post-competition or demo data). */
  labels: Partial<Record<SetName, string>>;
  /** Audio folder per set, when it exists, and how many .wav files it holds. */
  audio: Partial<Record<SetName, { dir: string; wavFiles: number }>>;
  sampleSubmission?: string;
  vocabularyCsv?: string;
  /** Human-readable notes on what is missing and what the notebook will skip. */
  missing: string[];
}

function countWavs(dir: string): number {
  try {
    return readdirSync(dir).filter((f) => f.toLowerCase().endsWith('.wav')).length;
  } catch {
    return 0;
  }
}

/** Inspects `dataDir` (Kaggle layout, see README "Data"). Never throws for missing parts. */
export function datasetLayout(dataDir: string): DatasetLayout {
  const layout: DatasetLayout = { dataDir, labels: {}, audio: {}, missing: [] };
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) {
    layout.missing.push(`${dataDir} does not exist`);
    return layout;
  }
  for (const set of SET_NAMES) {
    const csv = LABEL_CSV_NAMES[set].map((n) => join(dataDir, n)).find((p) => existsSync(p));
    if (csv) layout.labels[set] = csv;
    else if (set !== 'test') layout.missing.push(`no ${set} labels (${LABEL_CSV_NAMES[set].join(' or ')})`);
    const dir = join(dataDir, AUDIO_DIR_NAMES[set]);
    const wavFiles = countWavs(dir);
    if (wavFiles > 0) layout.audio[set] = { dir, wavFiles };
    else layout.missing.push(`no ${set} audio (${dir}/*.wav)`);
  }
  if (!layout.labels.test) layout.missing.push('no test labels (test_post_competition.csv): test clips cannot be scored');
  const sub = join(dataDir, 'sample_submission.csv');
  if (existsSync(sub)) layout.sampleSubmission = sub;
  const voc = join(dataDir, 'vocabulary.csv');
  if (existsSync(voc)) layout.vocabularyCsv = voc;
  if (!layout.sampleSubmission && !layout.vocabularyCsv) layout.missing.push('no sample_submission.csv or vocabulary.csv: classes are taken from the labels');
  return layout;
}

/**
 * Reads a label CSV into an arquero table with every column as text: type inference would
 * turn a file name such as `00097e21.wav`'s stem into a number, and `labels` must stay a
 * comma-separated string.
 */
export function readLabelTable(path: string): AqTable {
  return aq.fromCSV(readFileSync(path, 'utf8'), { autoType: false });
}

/** The label lists of a table's `labels` column (split on commas, trimmed, empty dropped). */
export function labelLists(table: AqTable): string[][] {
  const col = table.array('labels') as ArrayLike<string>;
  return Array.from(col, (s) =>
    String(s ?? '')
      .split(',')
      .map((l) => l.trim())
      .filter((l) => l !== ''),
  );
}

/** Sorted distinct labels of several label lists (the vocabulary when no file gives it). */
export function distinctLabels(...lists: string[][][]): string[] {
  const set = new Set<string>();
  for (const l of lists) for (const labels of l) for (const x of labels) set.add(x);
  return [...set].sort();
}

/**
 * Label co-occurrence counts: `matrix[i * n + j]` = clips labelled with both `vocabulary[i]`
 * and `vocabulary[j]` (i ≠ j); the diagonal holds the clips of label i. Labels outside the
 * vocabulary are ignored.
 */
export function cooccurrence(lists: string[][], vocabulary: readonly string[]): { n: number; matrix: Float64Array } {
  const n = vocabulary.length;
  const index = new Map(vocabulary.map((v, i) => [v, i]));
  const matrix = new Float64Array(n * n);
  for (const labels of lists) {
    const ids = [...new Set(labels.map((l) => index.get(l)).filter((i): i is number => i !== undefined))];
    for (const a of ids) for (const b of ids) matrix[a * n + b]++;
  }
  return { n, matrix };
}

/**
 * The co-occurrence sub-matrix of the labels that share a clip with another label at least
 * once, diagonal set to 0 (it would dwarf the pairs): what the heatmap shows.
 */
export function cooccurringLabels(lists: string[][], vocabulary: readonly string[]): { labels: string[]; counts: number[][] } {
  const { n, matrix } = cooccurrence(lists, vocabulary);
  const keep: number[] = [];
  for (let i = 0; i < n; i++) {
    let pairs = 0;
    for (let j = 0; j < n; j++) if (j !== i) pairs += matrix[i * n + j];
    if (pairs > 0) keep.push(i);
  }
  return {
    labels: keep.map((i) => vocabulary[i]),
    counts: keep.map((i) => keep.map((j) => (i === j ? 0 : matrix[i * n + j]))),
  };
}

/** Durations in seconds read from WAV headers (fast: the audio is not decoded). */
export interface DurationScan {
  seconds: Float64Array;
  /** Files listed but absent or unreadable, with the reason (first 5 kept). */
  failed: number;
  failures: string[];
}

/** Reads the duration of every `fnames` file in `dir` from its header. */
export function wavDurations(dir: string, fnames: readonly string[]): DurationScan {
  const seconds: number[] = [];
  const failures: string[] = [];
  let failed = 0;
  for (const f of fnames) {
    try {
      seconds.push(readWavInfo(join(dir, f)).durationSec);
    } catch (err) {
      failed++;
      if (failures.length < 5) failures.push((err as Error).message);
    }
  }
  return { seconds: Float64Array.from(seconds), failed, failures };
}

/** Summary statistics of a sample: count, min, median, mean, max (NaN when empty). */
export function describe(values: ArrayLike<number>): { count: number; min: number; median: number; mean: number; max: number } {
  const v = Float64Array.from(values).sort();
  const count = v.length;
  if (count === 0) return { count, min: NaN, median: NaN, mean: NaN, max: NaN };
  const mid = count >> 1;
  return {
    count,
    min: v[0],
    median: count % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2,
    mean: v.reduce((a, b) => a + b, 0) / count,
    max: v[count - 1],
  };
}

/**
 * Picks up to `n` clips for the spectrogram cell: first clips whose first label has not been
 * picked yet (a varied sample), then, if that gives fewer than `n`, the next clips in table
 * order. Deterministic.
 */
export function pickVariedClips(fnames: readonly string[], lists: string[][], n: number): { fname: string; labels: string[] }[] {
  const seen = new Set<string>();
  const picked = new Set<number>();
  for (let i = 0; i < fnames.length && picked.size < n; i++) {
    const first = lists[i][0] ?? '';
    if (seen.has(first)) continue;
    seen.add(first);
    picked.add(i);
  }
  for (let i = 0; i < fnames.length && picked.size < n; i++) picked.add(i);
  return [...picked].sort((a, b) => a - b).map((i) => ({ fname: fnames[i], labels: lists[i] }));
}

/**
 * The class list of a data folder: the columns of sample_submission.csv after `fname`, else
 * vocabulary.csv (FSDKaggle2019 meta), else undefined (the caller derives it from the labels).
 */
export function readClassList(layout: DatasetLayout): string[] | undefined {
  if (layout.sampleSubmission) return readVocabulary(layout.sampleSubmission);
  if (layout.vocabularyCsv) return vocabularyFromFile(layout.vocabularyCsv);
  return undefined;
}

/** True when `dir` exists and holds at least one entry. */
export function hasContent(dir: string): boolean {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

/** One clip at each preprocessing step (SPEC steps 1–5), for display. */
export interface ClipSteps {
  fname: string;
  /** Loaded mono waveform at cfg.sampleRate. */
  samples: Float32Array;
  /** `[start, end)` kept by the silence trim, in samples of `samples`. */
  trimStart: number;
  trimEnd: number;
  trimmed: Float32Array;
  /** Trimmed and zero-padded to at least cfg.minSamples (centred). */
  padded: Float32Array;
  /** dB log-mel of the untouched waveform `[nMels][frames]`. */
  rawDb: Matrix;
  /** The model's uint8 image of the clip (trim → pad → log-mel → z-score → 0..255). */
  image: ClipImage;
}

/** Loads `dir/fname` and runs every preprocessing step, keeping the intermediate results. */
export async function clipSteps(dir: string, fname: string, cfg: PreprocessConfig = PREPROCESS_DEFAULTS): Promise<ClipSteps> {
  const samples = await loadAudioFile(join(dir, fname), { sampleRate: cfg.sampleRate });
  const trim = trimSilence(samples, { topDb: cfg.trimTopDb, frameLength: cfg.trimFrameLength, hopLength: cfg.trimHopLength });
  return {
    fname,
    samples,
    trimStart: trim.start,
    trimEnd: trim.end,
    trimmed: trim.trimmed,
    padded: padCentered(trim.trimmed, cfg.minSamples),
    rawDb: logMelSpectrogram(samples, cfg),
    image: imageFromTrimmed(trim.trimmed, cfg),
  };
}
