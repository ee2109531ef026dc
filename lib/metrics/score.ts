/**
 * Scoring of a submission's scores against truth labels, already read (lib/task/score reads
 * the files and passes the task's metrics): lwlrap overall, per usage split and per class,
 * and the task's metrics. Pure: no file is read here.
 */
import type { LabeledClip } from '../data/labels';
import { lwlrap, type LwlrapTies } from './lwlrap';

/** A submission's rows: clip names, scores `[fnames.length][vocabulary.length]` and its classes. */
export interface SubmissionScores {
  fnames: readonly string[];
  scores: Float32Array | Float64Array;
  vocabulary: readonly string[];
}

/** Inputs of {@link scoreClips}. */
export interface ScoreClipsOptions {
  /** The truth clips (labels and optional usage); labels must be classes of the submission. */
  truth: readonly LabeledClip[];
  submission: SubmissionScores;
  /** Names of the truth and the submission in errors (their files). */
  truthName: string;
  submissionName: string;
  /** Score only truth clips whose `usage` is one of these (e.g. `['Public']`). */
  splits?: readonly string[];
  /** lwlrap tie rule (default `'numpy'`, the reference). */
  ties?: LwlrapTies;
  /** The task's metrics (lib/task `Task.metrics`) on truth `[n][C]` and scores `[n][C]`; default none. */
  metrics?: (truth: Uint8Array, scores: Float64Array, numClasses: number) => Record<string, number>;
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
   * The task's metrics over all scored clips (lib/task): multiLabel lwlrap, `mAP` (macro
   * average precision) and `auc` (macro ROC AUC); singleLabel `accuracy` (top-1), `map3`
   * (MAP@3) and `auc`.
   */
  metrics: Record<string, number>;
}

/**
 * Scores a submission's rows against truth clips with lwlrap, overall, per usage split and
 * per class, plus the task's metrics. Refuses (throws) a submission that lacks any truth clip
 * (names the count and a few clips). Submission rows without truth are ignored (counted in
 * `extraClips`).
 */
export function scoreClips(options: ScoreClipsOptions): ScoreReport {
  const { submissionName: submissionPath, truthName: truthPath, submission: sub } = options;
  const ties = options.ties ?? 'numpy';
  const vocabulary = sub.vocabulary;
  let truth = [...options.truth];
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
  const index = new Map(vocabulary.map((label, c) => [label, c] as const));
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
  const metrics = options.metrics ? options.metrics(all.y, all.s, C) : {};
  const perClass: ClassScore[] = vocabulary.map((label, c) => ({
    label,
    lwlrap: res.perClass[c],
    weight: res.weights[c],
    positives: res.positives[c],
  }));
  return { overall: res.overall, clips: truth.length, perSplit, perClass, extraClips, ties, metrics };
}
