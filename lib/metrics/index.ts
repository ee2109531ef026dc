/** Evaluation metrics: lwlrap (FAT2019), MAP@3 (FAT2018), ROC AUC; scoring a submission's rows (lib/task/score reads the files). */
export { lwlrap, clipLwlrap, npPairwiseSum, LWLRAP_TIES } from './lwlrap';
export type { LwlrapTies, LwlrapOptions, LwlrapResult, TruthMatrix, ScoreMatrix } from './lwlrap';
export { npArgsort, npArgsortInto } from './npArgsort';
export { mapAt3, topKClasses } from './map3';
export { rocAuc } from './auc';
export type { RocAucResult } from './auc';
export { scoreClips } from './score';
export type { ScoreClipsOptions, SubmissionScores, ScoreReport, SplitScore, ClassScore } from './score';
export { averagePrecision } from './averagePrecision';
