import { readLabelCsv, readVocabulary, vocabularyFromFile, vocabularyIndex, type LabeledClip } from '../data/labels';
import { readSubmission } from '../data/submission';
import { lwlrap, type LwlrapTies } from './lwlrap';
import { averagePrecision } from './averagePrecision';
import { rocAuc } from './auc';
import { mapAt3, topKClasses } from './map3';

/** Inputs of {@link scoreSubmission}. */
export interface ScoreOptions {
  /** Submission CSV: `fname,<classes>`. */
  submissionPath: string;
  /** Truth CSV: `fname,labels[,usage]` (e.g. FSDKaggle2019 `test_post_competition.csv`), or a description when `truthClips` is given. */
  truthPath: string;
  /** Truth given directly (e.g. the labels of a test/<class>/ folder layout) instead of read from truthPath. */
  truthClips?: LabeledClip[];
  /**
   * The run's task: 'singleLabel' adds top-1 accuracy and MAP@3 to `metrics` (also added when
   * every truth clip has exactly one label). Default: decided by the truth.
   */
  task?: 'multiLabel' | 'singleLabel';
  /**
   * Expected classes (e.g. from `sample_submission.csv` via `readVocabulary`); omitted → the
   * submission's own columns. Truth labels must belong to it.
   */
  vocabulary?: readonly string[];
  /** Score only truth clips whose `usage` is one of these (e.g. `['Public']`). */
  splits?: readonly string[];
  /** lwlrap tie rule (default `'numpy'`, the reference). */
  ties?: LwlrapTies;
}

/** lwlrap of one subset of the clips. */
export interface SplitScore {
  lwlrap: number;
  clips: number;
}

/** One row of the per-class table. */
export interface ClassScore {
  label: string;
  lwlrap: number;
  /** Share of all (clip, label) pairs. */
  weight: number;
  /** Clips in which the class is a true label. */
  positives: number;
}

/** Result of {@link scoreSubmission}. */
export interface ScoreReport {
  /** lwlrap over all scored clips. */
  overall: number;
  clips: number;
  /** Per `usage` value of the truth file (`Public`, `Private`); empty without a usage column. */
  perSplit: Record<string, SplitScore>;
  /** Per class over all scored clips, vocabulary order. */
  perClass: ClassScore[];
  /** Submission rows whose clip is not in the (filtered) truth: ignored. */
  extraClips: number;
  ties: LwlrapTies;
  /**
   * Task metrics over all scored clips: `mAP` (macro average precision) and `auc` (macro ROC
   * AUC) always; `accuracy` (top-1) and `map3` (MAP@3) for single-label truth.
   */
  metrics: Record<string, number>;
}

/**
 * Scores a submission against a label CSV with lwlrap, overall, per usage split and per
 * class. Refuses (throws) a submission that lacks any truth clip (names the count and a few
 * clips), has unknown/missing class columns or non-numeric values (see `readSubmission`), or
 * a truth label outside the vocabulary. Submission rows without truth are ignored (counted in
 * `extraClips`).
 */
export function scoreSubmission(options: ScoreOptions): ScoreReport {
  const { submissionPath, truthPath } = options;
  const ties = options.ties ?? 'numpy';
  const sub = readSubmission(submissionPath, options.vocabulary);
  const vocabulary = sub.vocabulary;
  let truth: LabeledClip[];
  try {
    truth = options.truthClips ? [...options.truthClips] : readLabelCsv(truthPath, vocabulary);
  } catch (err) {
    const msg = (err as Error).message;
    throw new Error(msg.includes('unknown label') ? `${msg}; the truth labels must be classes of the submission/vocabulary` : msg);
  }
  if (options.splits && options.splits.length > 0) {
    const wanted = new Set(options.splits);
    const present = new Set(truth.map((t) => t.usage));
    for (const s of wanted) {
      if (!present.has(s)) {
        const have = [...present].filter((p): p is string => p !== undefined);
        throw new Error(`${truthPath}: no clip has usage "${s}"${have.length ? ` (usages: ${have.join(', ')})` : ' (the file has no usage column)'}`);
      }
    }
    truth = truth.filter((t) => t.usage !== undefined && wanted.has(t.usage));
  }
  if (truth.length === 0) throw new Error(`${truthPath}: no clips to score`);

  const rowOf = new Map<string, number>();
  sub.fnames.forEach((f, r) => rowOf.set(f, r));
  const missing = truth.filter((t) => !rowOf.has(t.fname)).map((t) => t.fname);
  if (missing.length > 0) {
    throw new Error(
      `${submissionPath}: missing ${missing.length} of ${truth.length} clips of ${truthPath}, e.g. ${missing.slice(0, 3).join(', ')}` +
        (sub.fnames.length > 0 ? '' : ' (the submission has no rows)'),
    );
  }
  const C = vocabulary.length;
  const index = vocabularyIndex(vocabulary);
  const truthSet = new Set(truth.map((t) => t.fname));
  const extraClips = sub.fnames.filter((f) => !truthSet.has(f)).length;

  /** Truth and scores of a subset of the truth clips, rows in truth order. */
  const gather = (clips: LabeledClip[]) => {
    const y = new Uint8Array(clips.length * C);
    const s = new Float64Array(clips.length * C);
    clips.forEach((clip, r) => {
      for (const label of clip.labels) y[r * C + index.get(label)!] = 1;
      s.set(sub.scores.subarray(rowOf.get(clip.fname)! * C, rowOf.get(clip.fname)! * C + C), r * C);
    });
    return { y, s };
  };

  const all = gather(truth);
  const res = lwlrap(all.y, all.s, C, { ties });
  const perSplit: Record<string, SplitScore> = {};
  const usages = [...new Set(truth.map((t) => t.usage).filter((u): u is string => u !== undefined && u !== ''))];
  // Public before Private (the Kaggle order), then any other usage alphabetically.
  const rankOf = (u: string) => (u === 'Public' ? 0 : u === 'Private' ? 1 : 2);
  usages.sort((a, b) => rankOf(a) - rankOf(b) || (a < b ? -1 : a > b ? 1 : 0));
  for (const usage of usages) {
    const clips = truth.filter((t) => t.usage === usage);
    const g = gather(clips);
    perSplit[usage] = { lwlrap: lwlrap(g.y, g.s, C, { ties }).overall, clips: clips.length };
  }
  const metrics: Record<string, number> = { mAP: averagePrecision(all.y, all.s, C).macro, auc: rocAuc(all.y, all.s, C).macro };
  if (options.task === 'singleLabel' || (options.task === undefined && truth.every((t) => t.labels.length === 1))) {
    const labels = Int32Array.from(truth, (t) => index.get(t.labels[0])!);
    const top = topKClasses(all.s, C, 1);
    metrics.accuracy = truth.length > 0 ? labels.reduce((n, l, i) => n + (top[i] === l ? 1 : 0), 0) / truth.length : NaN;
    metrics.map3 = mapAt3(labels, all.s, C);
  }
  const perClass: ClassScore[] = vocabulary.map((label, c) => ({
    label,
    lwlrap: res.perClass[c],
    weight: res.weights[c],
    positives: res.positives[c],
  }));
  return { overall: res.overall, clips: truth.length, perSplit, perClass, extraClips, ties, metrics };
}

/**
 * Reads a vocabulary for scoring from a file: a submission-like CSV whose header is
 * `fname,<classes>` (e.g. `sample_submission.csv`) or an FSDKaggle2019 `vocabulary.csv`
 * (`index,label` lines).
 */
export function readVocabularyAny(path: string): string[] {
  try {
    return readVocabulary(path);
  } catch (err) {
    if (!/first column must be "fname"/.test((err as Error).message)) throw err;
    return vocabularyFromFile(path);
  }
}
