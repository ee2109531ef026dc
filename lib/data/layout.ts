/**
 * Where a data set's clips and labels are: the layouts `fat2019 train` understands, detected
 * from what is on disk and printed at the start of a run.
 *
 * - kaggle: `train_curated.csv` + `train_curated/`, optionally `train_noisy.csv` +
 *   `train_noisy/` (a noisy set), `test/` (+ `sample_submission.csv`: row order and classes;
 *   `test_post_competition.csv`: truth for `infer --score`).
 * - folderPerClass: `<data>/train/<label>/*.wav`; optionally `<data>/test/<label>/*.wav` (a
 *   labelled test set: `infer --score` scores it) or `<data>/test/*.wav`. Clip names are paths
 *   relative to `train/` or `test/` (`dog/001.wav`), so the submission's fname is the path
 *   relative to `test/`.
 * - csv: one label CSV `fname,labels[,fold]` (labels comma-separated inside one quoted field),
 *   its clips in an audio folder (default: the CSV's folder; fname relative to it).
 *
 * Every layout may have an `unlabeled/` folder of clips without labels (pseudo-labelling).
 * A `fold` column in a label CSV is used as given (UrbanSound8K, ESC-50 ship one): its values
 * must be consecutive integers, mapped in order to folds 0 .. k−1.
 */
import { existsSync, readdirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { readWavInfo } from '../audio/wav';
import { readLabelCsv, readVocabulary, type LabeledClip } from './labels';

export type LayoutKind = 'kaggle' | 'folderPerClass' | 'csv';

/** Audio files a layout picks up. */
const AUDIO_FILE = /\.(wav|flac)$/i;

/** Labelled clips and where their audio is: file = `<dataDir>/<dataset>/<fname>`. */
export interface LabelledSet {
  /** What the labels came from (a CSV, or `<data>/train/` for folder per class): named in errors. */
  labelFile: string;
  dataDir: string;
  dataset: string;
  clips: LabeledClip[];
  /** Folds given by the label CSV's `fold` column, mapped to 0 .. k−1 (absent: no column). */
  givenFolds?: Int32Array;
}

/** Clips to predict (test) or to pseudo-label (unlabeled): file = `<dataDir>/<dataset>/<fname>`. */
export interface ClipFolder {
  dataDir: string;
  dataset: string;
  fnames: string[];
  /** Labels known for scoring (folder per class test set; Kaggle test_post_competition.csv). */
  truthFile?: string;
  truth?: LabeledClip[];
}

export interface DataLayout {
  kind: LayoutKind;
  /** What was given: the data folder or the label CSV. */
  source: string;
  /** Class names in output-column order. */
  vocabulary: string[];
  curated: LabelledSet;
  noisy?: LabelledSet;
  test?: ClipFolder;
  unlabeled?: ClipFolder;
}

const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();

/** True for a folder or a symbolic link to one (symlinked folders are followed like folders). */
function isFolderEntry(parent: string, d: Dirent): boolean {
  return d.isDirectory() || (d.isSymbolicLink() && isDir(join(parent, d.name)));
}

/**
 * Sorted audio files under `dir`, as paths relative to it ('/'-separated), recursively when
 * `deep` (nested folders inside a class folder belong to that class). Symbolic links to folders
 * are followed; a link back to a folder already being walked (a loop) is skipped.
 */
function listAudioTree(dir: string, deep = true): string[] {
  const out: string[] = [];
  const walking = new Set<string>();
  const walk = (sub: string): void => {
    const here = join(dir, sub);
    const real = realpathSync(here);
    if (walking.has(real)) return;
    walking.add(real);
    for (const d of readdirSync(here, { withFileTypes: true })) {
      const rel = sub ? `${sub}/${d.name}` : d.name;
      if (isFolderEntry(here, d)) {
        if (deep) walk(rel);
      } else if ((d.isFile() || d.isSymbolicLink()) && AUDIO_FILE.test(d.name)) {
        out.push(rel);
      }
    }
    walking.delete(real);
  };
  walk('');
  return out.sort();
}

/**
 * The `fold` column of a label CSV → folds 0 .. k−1 (values in ascending order). Values must
 * be integers and consecutive: a gap (1, 2, 4) means a fold was dropped by mistake.
 */
export function foldsFromColumn(clips: readonly LabeledClip[], labelFile: string): Int32Array | undefined {
  if (clips.length === 0 || !clips.some((c) => 'fold' in c.extra)) return undefined;
  const values = clips.map((c) => {
    const raw = (c.extra.fold ?? '').trim();
    if (!/^-?\d+$/.test(raw)) throw new Error(`${labelFile}: clip ${c.fname} has fold "${raw}"; the fold column must hold integers`);
    return Number(raw);
  });
  const distinct = [...new Set(values)].sort((a, b) => a - b);
  const gaps: number[] = [];
  for (let i = 1; i < distinct.length; i++) for (let v = distinct[i - 1] + 1; v < distinct[i]; v++) gaps.push(v);
  if (gaps.length > 0) {
    throw new Error(`${labelFile}: the fold column has gaps: it holds folds ${distinct.join(', ')} but no clip in fold ${gaps.join(', ')}. ` +
      'Folds must be consecutive integers (e.g. 1..10); renumber them or drop the column to let the run split the clips.');
  }
  if (distinct.length < 2) throw new Error(`${labelFile}: the fold column holds only fold ${distinct[0]}; cross-validation needs at least 2 folds (or drop the column)`);
  return Int32Array.from(values, (v) => v - distinct[0]);
}

function labelledFromCsv(labelFile: string, audioDir: string, vocabulary?: readonly string[]): LabelledSet {
  const clips = readLabelCsv(labelFile, vocabulary);
  if (clips.length === 0) throw new Error(`${labelFile}: no clips`);
  const set: LabelledSet = { labelFile, dataDir: dirname(audioDir), dataset: basename(audioDir), clips };
  const folds = foldsFromColumn(clips, labelFile);
  if (folds) set.givenFolds = folds;
  return set;
}

function sortedLabels(sets: readonly LabelledSet[]): string[] {
  const all = new Set<string>();
  for (const s of sets) for (const c of s.clips) for (const l of c.labels) all.add(l);
  return [...all].sort();
}

function unlabeledFolder(root: string): ClipFolder | undefined {
  const dir = join(root, 'unlabeled');
  if (!isDir(dir)) return undefined;
  const fnames = listAudioTree(dir);
  return fnames.length > 0 ? { dataDir: root, dataset: 'unlabeled', fnames } : undefined;
}

function kaggleLayout(root: string): DataLayout {
  const sample = join(root, 'sample_submission.csv');
  const given = existsSync(sample) ? readVocabulary(sample) : undefined;
  const curated = labelledFromCsv(join(root, 'train_curated.csv'), join(root, 'train_curated'), given);
  const noisy = existsSync(join(root, 'train_noisy.csv')) ? labelledFromCsv(join(root, 'train_noisy.csv'), join(root, 'train_noisy'), given) : undefined;
  const vocabulary = given ?? sortedLabels(noisy ? [curated, noisy] : [curated]);
  const layout: DataLayout = { kind: 'kaggle', source: root, vocabulary, curated };
  if (noisy) layout.noisy = noisy;
  const testDir = join(root, 'test');
  if (isDir(testDir)) {
    const test: ClipFolder = { dataDir: root, dataset: 'test', fnames: listAudioTree(testDir, false) };
    const truthFile = join(root, 'test_post_competition.csv');
    if (existsSync(truthFile)) test.truthFile = truthFile;
    layout.test = test;
  }
  const unlabeled = unlabeledFolder(root);
  if (unlabeled) layout.unlabeled = unlabeled;
  return layout;
}

function folderPerClassLayout(root: string): DataLayout {
  const trainDir = join(root, 'train');
  const entries = readdirSync(trainDir, { withFileTypes: true });
  const loose = entries.filter((d) => !isFolderEntry(trainDir, d) && AUDIO_FILE.test(d.name));
  if (loose.length > 0) {
    throw new Error(`${trainDir}: audio file ${loose[0].name} lies directly in train/; a folder-per-class layout keeps each class's clips in train/<class>/`);
  }
  // A class folder may be a symbolic link to a folder elsewhere: followed like a folder.
  const vocabulary = entries.filter((d) => isFolderEntry(trainDir, d)).map((d) => d.name).sort();
  if (vocabulary.length < 2) throw new Error(`${trainDir}: a folder-per-class layout needs at least 2 class folders, found ${vocabulary.length}`);
  const clips: LabeledClip[] = [];
  for (const label of vocabulary) {
    const files = listAudioTree(join(trainDir, label));
    if (files.length === 0) throw new Error(`${join(trainDir, label)}: empty class folder (no .wav or .flac file); add clips or remove the folder`);
    for (const f of files) clips.push({ fname: `${label}/${f}`, labels: [label], extra: {} });
  }
  const layout: DataLayout = { kind: 'folderPerClass', source: root, vocabulary, curated: { labelFile: trainDir, dataDir: root, dataset: 'train', clips } };
  const testDir = join(root, 'test');
  if (isDir(testDir)) {
    const known = new Set(vocabulary);
    const fnames = listAudioTree(testDir);
    const truth: LabeledClip[] = [];
    for (const f of fnames) {
      const slash = f.indexOf('/');
      if (slash < 0) continue;
      const label = f.slice(0, slash);
      if (!known.has(label)) {
        throw new Error(`${join(testDir, label)}: class "${label}" is not a class of ${trainDir} (classes: ${vocabulary.join(', ')}); ` +
          'test/<class>/ folders must use the training class names');
      }
      truth.push({ fname: f, labels: [label], extra: {} });
    }
    if (fnames.length > 0) {
      const test: ClipFolder = { dataDir: root, dataset: 'test', fnames };
      if (truth.length === fnames.length) {
        test.truth = truth;
        test.truthFile = testDir;
      }
      layout.test = test;
    }
  }
  const unlabeled = unlabeledFolder(root);
  if (unlabeled) layout.unlabeled = unlabeled;
  return layout;
}

function csvLayout(labelFile: string, audioDir: string): DataLayout {
  if (!isDir(audioDir)) throw new Error(`${labelFile}: audio folder ${audioDir} not found (give it with --audio <dir>)`);
  const curated = labelledFromCsv(labelFile, audioDir);
  const layout: DataLayout = { kind: 'csv', source: labelFile, vocabulary: sortedLabels([curated]), curated };
  const unlabeled = unlabeledFolder(dirname(resolve(labelFile)) === resolve(audioDir) ? audioDir : dirname(labelFile));
  if (unlabeled) layout.unlabeled = unlabeled;
  return layout;
}

/** Options of {@link detectLayout}. */
export interface DetectLayoutOptions {
  /** csv layout: the folder the CSV's fnames are relative to (default: the CSV's folder). */
  audioDir?: string;
}

/**
 * The layout of `source` (a data folder or a label CSV). Throws an Error naming the path and
 * what was expected when nothing matches, and for each layout's mistakes (an empty class
 * folder, a test class unknown to training, a fold column with gaps...).
 */
export function detectLayout(source: string, options: DetectLayoutOptions = {}): DataLayout {
  return checkClassCount(detectAnyLayout(source, options));
}

/**
 * A single class is refused unless some labelled clips lack it (then the model learns "the
 * class or not", a detector): with every clip of that one class, any model scores 1.0 on
 * every metric and tags every file with it.
 */
function checkClassCount(layout: DataLayout): DataLayout {
  if (layout.vocabulary.length >= 2) return layout;
  const sets = layout.noisy ? [layout.curated, layout.noisy] : [layout.curated];
  const negatives = sets.some((s) => s.clips.some((c) => c.labels.length === 0));
  if (layout.vocabulary.length === 1 && negatives) return layout;
  throw new Error(`${layout.curated.labelFile}: ${layout.vocabulary.length === 0 ? 'no class' : `only one class ("${layout.vocabulary[0]}")`}, and every clip has it: ` +
    'a model would learn nothing, score 1.0 on every metric and tag any file with it. Add clips of at least one other class ' +
    '(or, for a detector of this class, clips with an empty labels field)');
}

function detectAnyLayout(source: string, options: DetectLayoutOptions): DataLayout {
  if (!existsSync(source)) throw new Error(`data not found: ${source}`);
  if (statSync(source).isFile()) {
    if (!/\.csv$/i.test(source)) throw new Error(`${source}: expected a data folder or a label CSV (fname,labels[,fold])`);
    return csvLayout(source, options.audioDir ?? dirname(source));
  }
  if (existsSync(join(source, 'train_curated.csv'))) return kaggleLayout(source);
  if (isDir(join(source, 'train'))) return folderPerClassLayout(source);
  const csvs = readdirSync(source).filter((f) => /\.csv$/i.test(f) && f !== 'sample_submission.csv');
  if (csvs.length === 1) return csvLayout(join(source, csvs[0]), options.audioDir ?? source);
  throw new Error(`${source}: no known data layout. Expected one of: train_curated.csv + train_curated/ (Kaggle), ` +
    `train/<class>/*.wav (a folder per class), or one label CSV fname,labels[,fold] beside its audio` +
    (csvs.length > 1 ? ` (found ${csvs.length} CSV files: ${csvs.join(', ')}; pass the label CSV itself)` : ''));
}

/** Clips per class of a labelled set (vocabulary order). */
export function clipsPerClass(set: LabelledSet, vocabulary: readonly string[]): number[] {
  const index = new Map(vocabulary.map((l, i) => [l, i] as [string, number]));
  const out = new Array<number>(vocabulary.length).fill(0);
  for (const c of set.clips) for (const l of c.labels) {
    const i = index.get(l);
    if (i !== undefined) out[i]++;
  }
  return out;
}

/** What was found, in a few lines (printed at the start of training). */
export function describeLayout(layout: DataLayout): string {
  const kinds: Record<LayoutKind, string> = { kaggle: 'Kaggle layout', folderPerClass: 'a folder per class', csv: 'one label CSV' };
  const where = (s: { dataDir: string; dataset: string }) => {
    const rel = relative('.', join(s.dataDir, s.dataset));
    return rel === '' ? '.' : rel.startsWith('..') ? resolve(s.dataDir, s.dataset) : rel;
  };
  const lines = [`data: ${layout.source} (${kinds[layout.kind]}), ${layout.vocabulary.length} classes`];
  const c = layout.curated;
  const multi = c.clips.filter((x) => x.labels.length > 1).length;
  lines.push(`  labelled: ${c.clips.length} clips in ${where(c)} (labels: ${c.labelFile}${multi > 0 ? `; ${multi} with several labels` : ''}` +
    `${c.givenFolds ? `; ${new Set(c.givenFolds).size} folds given by its fold column` : ''})`);
  if (layout.noisy) lines.push(`  noisy: ${layout.noisy.clips.length} clips in ${where(layout.noisy)}`);
  else lines.push('  noisy: none');
  if (layout.test) lines.push(`  test: ${layout.test.fnames.length} clips in ${where(layout.test)}${layout.test.truthFile ? ` (labelled: ${layout.test.truthFile})` : ''}`);
  if (layout.unlabeled) lines.push(`  unlabeled: ${layout.unlabeled.fnames.length} clips in ${where(layout.unlabeled)}`);
  return lines.join('\n');
}

/** Sample rate and duration of one clip (null where the header could not be read, e.g. FLAC). */
export interface ClipAudioInfo {
  fname: string;
  sampleRate: number | null;
  durationSec: number | null;
}

/**
 * Reads the WAV header of every clip of a set (fast: headers only): sample rates for the
 * low-rate preset, durations for crop lengths and the data summary. FLAC and unreadable
 * files give nulls here; the preprocessing reports unreadable files by name.
 */
export function scanClips(set: { dataDir: string; dataset: string; clips: readonly { fname: string }[] }): ClipAudioInfo[] {
  return set.clips.map(({ fname }) => {
    if (!/\.wav$/i.test(fname)) return { fname, sampleRate: null, durationSec: null };
    try {
      const info = readWavInfo(join(set.dataDir, set.dataset, fname));
      return { fname, sampleRate: info.sampleRate, durationSec: info.durationSec };
    } catch {
      return { fname, sampleRate: null, durationSec: null };
    }
  });
}

/** The highest sample rate of the scanned clips when every one is known and ≤ maxHz (else null). */
export function lowSampleRate(infos: readonly ClipAudioInfo[], maxHz: number): number | null {
  if (infos.length === 0 || infos.some((i) => i.sampleRate === null || i.sampleRate > maxHz)) return null;
  return Math.max(...infos.map((i) => i.sampleRate!));
}
