/** The task (multiLabel / singleLabel): loss, activation, metrics, selection, decoding. */
export { makeTask, activationOf, detectTaskName, checkTaskLabels, bceWithLogits, softmaxCrossEntropy, TASK_NAMES, TASK_DEFAULTS } from './task';
export type { Task, Activation, ClassMetrics } from './task';
export { scoreSubmission } from './score';
export type { ScoreOptions } from './score';
export type { ScoreReport } from '../metrics/score';
