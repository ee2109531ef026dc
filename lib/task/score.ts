/**
 * A submission file scored against its truth file: the files are read here (lib/data) and
 * scored by lib/metrics' scoreClips with the task's metrics (lib/task), so `fat2019 score`,
 * `infer --score`, the main job and the notebooks report what the run's task measures.
 */
import { readLabelCsv, type LabeledClip } from '../data/labels';
import { readSubmission } from '../data/submission';
import { scoreClips, type ScoreReport } from '../metrics/score';
import type { LwlrapTies } from '../metrics/lwlrap';
import type { TaskName } from '../config';
import { detectTaskName, makeTask } from './task';

/** Inputs of {@link scoreSubmission}. */
export interface ScoreOptions {
  /** Submission CSV: `fname,<classes>`. */
  submissionPath: string;
  /** Truth CSV: `fname,labels[,usage]` (e.g. FSDKaggle2019 `test_post_competition.csv`), or a description when `truthClips` is given. */
  truthPath: string;
  /** Truth given directly (e.g. the labels of a test/<class>/ folder layout) instead of read from truthPath. */
  truthClips?: LabeledClip[];
  /**
   * The run's task, whose metrics the report holds (lib/task: singleLabel top-1 accuracy,
   * MAP@3, AUC; multiLabel lwlrap, mAP, AUC). Default: decided by the truth (singleLabel when
   * every truth clip has exactly one label).
   */
  task?: TaskName;
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

/**
 * Scores a submission against a label CSV with lwlrap, overall, per usage split and per
 * class, and the task's metrics. Refuses (throws) a submission that lacks any truth clip
 * (names the count and a few clips), has unknown/missing class columns or non-numeric values
 * (see `readSubmission`), or a truth label outside the vocabulary. Submission rows without
 * truth are ignored (counted in `extraClips`).
 */
export function scoreSubmission(options: ScoreOptions): ScoreReport {
  const { submissionPath, truthPath } = options;
  const submission = readSubmission(submissionPath, options.vocabulary);
  let truth: LabeledClip[];
  try {
    truth = options.truthClips ? [...options.truthClips] : readLabelCsv(truthPath, submission.vocabulary);
  } catch (err) {
    const msg = (err as Error).message;
    throw new Error(msg.includes('unknown label') ? `${msg}; the truth labels must be classes of the submission/vocabulary` : msg);
  }
  const task = makeTask({ name: options.task ?? detectTaskName(truth) });
  return scoreClips({ truth, submission, truthName: truthPath, submissionName: submissionPath, splits: options.splits, ties: options.ties, metrics: task.metrics });
}
