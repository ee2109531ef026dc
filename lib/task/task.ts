/**
 * The task: what the labels mean and therefore how a model is trained, scored and read.
 * One object per task (fastai's target block): the loss, the activation at prediction time,
 * the validation metrics, the metric that selects the best epoch and drives early stopping,
 * and the decoding of scores into labels. Training, validation, out-of-fold scores, `score`,
 * the submission and the notebooks ask it, so none of them branches on the task.
 *
 * - multiLabel (FAT2019): sigmoid + binary cross-entropy; lwlrap (selects), mAP, per-class ROC AUC.
 * - singleLabel (FAT2018, spoken digits, dog sounds): softmax + cross-entropy with optional
 *   label smoothing; accuracy (selects), MAP@3, per-class ROC AUC.
 *
 * This module imports nothing from lib/train, so inference can ask it for the activation.
 */
import * as tf from '@tensorflow/tfjs';
import { TASK_CONFIG_DEFAULTS, type TaskConfig, type TaskName } from '../config';
import { averagePrecision } from '../metrics/averagePrecision';
import { rocAuc } from '../metrics/auc';
import { clipLwlrap, lwlrap } from '../metrics/lwlrap';
import { mapAt3, topKClasses } from '../metrics/map3';

export const TASK_NAMES: readonly TaskName[] = ['multiLabel', 'singleLabel'];

export type Activation = 'sigmoid' | 'softmax';

/** One class's validation figures (NaN where undefined, e.g. AUC of a class without positives). */
export interface ClassMetrics {
  label: string;
  /** Clips whose truth holds the class. */
  positives: number;
  /** ROC AUC of the class's scores. */
  auc: number;
  /** multiLabel: the class's lwlrap; singleLabel: the share of its clips predicted as it (recall). */
  score: number;
}

export interface Task {
  name: TaskName;
  activation: Activation;
  /** Name of the metric that selects the best epoch and drives early stopping (higher = better). */
  selectionMetric: 'lwlrap' | 'accuracy';
  /** Names of {@link Task.metrics}' keys, selection metric first. */
  metricNames: readonly string[];
  /** Batch-mean training loss of logits `[B, C]` against targets `[B, C]` (soft targets allowed). */
  loss(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar;
  /** Probabilities of logits `[B, C]`. */
  activate(logits: tf.Tensor): tf.Tensor;
  /** Log-probabilities (for geometric means), computed from the logits so they never underflow. */
  logActivate(logits: tf.Tensor): tf.Tensor;
  /** Loss of probabilities `[n][C]` against targets (float64, clamped), e.g. of averaged window scores. */
  probabilityLoss(targets: ArrayLike<number>, probs: ArrayLike<number>, numClasses: number): number;
  /** Every metric of the task on truth `[n][C]` (0/1) and probabilities `[n][C]`. */
  metrics(truth: Uint8Array | Float32Array, probs: Float32Array | Float64Array, numClasses: number): Record<string, number>;
  /**
   * Per-clip agreement of probabilities `[n][C]` with each clip's labels, which ranks noisy
   * clips for the warm-up's selection (higher = the model agrees more; NaN for a clip without
   * labels). multiLabel: the clip's lwlrap (the reference's l_k); singleLabel: the reciprocal
   * rank of the clip's class, which is the same formula with one positive.
   */
  clipScores(truth: Uint8Array | Float32Array, probs: Float32Array | Float64Array, numClasses: number): Float64Array;
  /** Per-class figures, vocabulary order. */
  perClass(truth: Uint8Array | Float32Array, probs: Float32Array | Float64Array, vocabulary: readonly string[]): ClassMetrics[];
  /** The labels a clip's probabilities `[C]` stand for: singleLabel the best class, multiLabel every class ≥ threshold (at least the best one). */
  decode(probs: ArrayLike<number>, vocabulary: readonly string[], threshold?: number): string[];
}

/** The reference's task settings: multi-label, no smoothing (the config's defaults, lib/config). */
export const TASK_DEFAULTS: Readonly<TaskConfig> = TASK_CONFIG_DEFAULTS;

const EPS = 1e-7;

function argmax(row: ArrayLike<number>, offset = 0, n = row.length - offset): number {
  let best = 0;
  for (let c = 1; c < n; c++) if (row[offset + c] > row[offset + best]) best = c;
  return best;
}

/** Binary cross-entropy with logits, mean over batch and classes (PyTorch BCEWithLogitsLoss), in the stable form. */
export function bceWithLogits(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  if (logits.shape.join(',') !== targets.shape.join(',')) {
    throw new Error(`bceWithLogits: logits and targets must have the same shape, got [${logits.shape}] and [${targets.shape}]`);
  }
  return tf.tidy(() => {
    const x = logits.toFloat();
    const y = targets.toFloat();
    const perElement = tf.relu(x).sub(x.mul(y)).add(tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
    return perElement.mean() as tf.Scalar;
  });
}

/**
 * Softmax cross-entropy with logits, mean over the batch (PyTorch `CrossEntropyLoss` with
 * probability targets and `label_smoothing=ε`: targets become (1 − ε)·y + ε/C). Targets are
 * rows that sum to 1 (one-hot, or mixed by mixup).
 */
export function softmaxCrossEntropy(logits: tf.Tensor, targets: tf.Tensor, labelSmoothing = 0): tf.Scalar {
  if (logits.shape.join(',') !== targets.shape.join(',')) {
    throw new Error(`softmaxCrossEntropy: logits and targets must have the same shape, got [${logits.shape}] and [${targets.shape}]`);
  }
  if (!(labelSmoothing >= 0 && labelSmoothing < 1)) throw new Error(`labelSmoothing must be in [0, 1), got ${labelSmoothing}`);
  return tf.tidy(() => {
    const C = logits.shape[logits.shape.length - 1] as number;
    let y = targets.toFloat();
    if (labelSmoothing > 0) y = y.mul(1 - labelSmoothing).add(labelSmoothing / C);
    return tf.neg(tf.sum(y.mul(tf.logSoftmax(logits.toFloat())), -1)).mean() as tf.Scalar;
  });
}

function multiLabelTask(): Task {
  return {
    name: 'multiLabel',
    activation: 'sigmoid',
    selectionMetric: 'lwlrap',
    metricNames: ['lwlrap', 'mAP', 'auc'],
    loss: bceWithLogits,
    activate: (logits) => tf.sigmoid(logits),
    logActivate: (logits) => tf.logSigmoid(logits),
    probabilityLoss(targets, probs) {
      let loss = 0;
      for (let i = 0; i < probs.length; i++) {
        const y = targets[i];
        const p = Math.min(1 - EPS, Math.max(EPS, probs[i]));
        loss -= y * Math.log(p) + (1 - y) * Math.log(1 - p);
      }
      return probs.length > 0 ? loss / probs.length : NaN;
    },
    metrics(truth, probs, C) {
      return { lwlrap: lwlrap(truth, probs, C).overall, mAP: averagePrecision(truth, probs, C).macro, auc: rocAuc(truth, probs, C).macro };
    },
    clipScores: (truth, probs, C) => clipLwlrap(truth, probs, C),
    perClass(truth, probs, vocabulary) {
      const C = vocabulary.length;
      const l = lwlrap(truth, probs, C);
      const auc = rocAuc(truth, probs, C).perClass;
      return vocabulary.map((label, c) => ({ label, positives: l.positives[c], auc: auc[c], score: l.positives[c] > 0 ? l.perClass[c] : NaN }));
    },
    decode(probs, vocabulary, threshold = 0.5) {
      const out = vocabulary.filter((_, c) => probs[c] >= threshold);
      return out.length > 0 ? out : [vocabulary[argmax(probs)]];
    },
  };
}

function singleLabelTask(labelSmoothing: number): Task {
  const trueClasses = (truth: ArrayLike<number>, n: number, C: number): Int32Array => {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = argmax(truth, i * C, C);
    return out;
  };
  return {
    name: 'singleLabel',
    activation: 'softmax',
    selectionMetric: 'accuracy',
    metricNames: ['accuracy', 'map3', 'auc'],
    loss: (logits, targets) => softmaxCrossEntropy(logits, targets, labelSmoothing),
    activate: (logits) => tf.softmax(logits),
    logActivate: (logits) => tf.logSoftmax(logits),
    probabilityLoss(targets, probs, C) {
      const n = probs.length / C;
      let loss = 0;
      for (let i = 0; i < probs.length; i++) if (targets[i] > 0) loss -= targets[i] * Math.log(Math.max(EPS, probs[i]));
      return n > 0 ? loss / n : NaN;
    },
    metrics(truth, probs, C) {
      const n = probs.length / C;
      if (n === 0) return { accuracy: NaN, map3: NaN, auc: NaN };
      const labels = trueClasses(truth, n, C);
      const top = topKClasses(probs, C, 1);
      let right = 0;
      for (let i = 0; i < n; i++) if (top[i] === labels[i]) right++;
      return { accuracy: right / n, map3: mapAt3(labels, probs, C), auc: rocAuc(truth, probs, C).macro };
    },
    clipScores: (truth, probs, C) => clipLwlrap(truth, probs, C),
    perClass(truth, probs, vocabulary) {
      const C = vocabulary.length;
      const n = probs.length / C;
      const labels = trueClasses(truth, n, C);
      const top = n > 0 ? topKClasses(probs, C, 1) : new Int32Array(0);
      const auc = n > 0 ? rocAuc(truth, probs, C).perClass : new Float64Array(C).fill(NaN);
      const positives = new Array<number>(C).fill(0);
      const right = new Array<number>(C).fill(0);
      for (let i = 0; i < n; i++) {
        positives[labels[i]]++;
        if (top[i] === labels[i]) right[labels[i]]++;
      }
      return vocabulary.map((label, c) => ({ label, positives: positives[c], auc: auc[c], score: positives[c] > 0 ? right[c] / positives[c] : NaN }));
    },
    decode(probs, vocabulary) {
      return [vocabulary[argmax(probs)]];
    },
  };
}

/** The task of a config section (a run.json without one is the reference's multiLabel). */
export function makeTask(config: Partial<TaskConfig> = {}): Task {
  const name = config.name ?? TASK_DEFAULTS.name;
  if (name === 'multiLabel') {
    if (config.labelSmoothing) throw new Error(`task.labelSmoothing applies to singleLabel only, got ${config.labelSmoothing} with multiLabel`);
    return multiLabelTask();
  }
  if (name === 'singleLabel') return singleLabelTask(config.labelSmoothing ?? 0);
  throw new Error(`task.name must be one of ${TASK_NAMES.join(', ')}, got "${String(name)}"`);
}

/** The activation a run's models need at prediction time (a run.json without a task: sigmoid). */
export function activationOf(config: { task?: Partial<TaskConfig> }): Activation {
  return makeTask({ name: config.task?.name }).activation;
}

/** `auto`: singleLabel when every clip has exactly one label, else multiLabel. */
export function detectTaskName(clips: readonly { labels: readonly string[] }[]): TaskName {
  return clips.length > 0 && clips.every((c) => c.labels.length === 1) ? 'singleLabel' : 'multiLabel';
}

/**
 * Checks that the labelled clips fit the task: under singleLabel every clip has exactly one
 * label. The error names the label file, the clip and its labels.
 */
export function checkTaskLabels(task: TaskName, clips: readonly { fname: string; labels: readonly string[] }[], source: string): void {
  if (task !== 'singleLabel') return;
  const bad = clips.filter((c) => c.labels.length !== 1);
  if (bad.length === 0) return;
  const show = bad.slice(0, 3).map((c) => `${c.fname} (${c.labels.length === 0 ? 'no label' : `labels ${c.labels.join(',')}`})`).join(', ');
  throw new Error(`${source}: --task singleLabel needs exactly one label per clip; ${bad.length} clip(s) have ${bad[0].labels.length === 0 ? 'none' : 'several'}: ${show}${bad.length > 3 ? ', ...' : ''}. ` +
    'Use --task multiLabel (or auto) for multi-label data.');
}
