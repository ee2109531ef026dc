/**
 * Learning-rate finder, as fastai's `lr_find` (Smith 2015, "Cyclical Learning Rates"; the
 * reference author chose learning rates with it): train a fresh model for up to `numIt` steps
 * while the learning rate grows exponentially from `startLr` to `endLr`, record each step's
 * loss, smooth it (debiased exponential moving average, β = 0.98 as fastai), stop when the
 * smoothed loss exceeds 4× its minimum (divergence), and suggest a rate from the curve.
 *
 * The sweep trains a model in memory only: nothing is saved, so no run's weights change.
 */
import type * as tf from '@tensorflow/tfjs';
import type { InputNormalization, OptimizerConfig } from '../config';
import type { TrainingClip } from '../data/types';
import type { Task } from '../task/task';
import { Rng } from '../util/rng';
import { AdamW, trainableVariables } from './adamw';
import type { MakeBatch } from './batch';
import { trainStep } from './fit';

/** Suggestion rules: fastai2's `valley` (default), fastai v1's `steepest` (min gradient), `minimum` (lr at the loss minimum / 10). */
export const LR_SUGGESTIONS = ['valley', 'steepest', 'minimum'] as const;
export type LrSuggestion = (typeof LR_SUGGESTIONS)[number];

/** The i-th of `n` learning rates from start to end, geometrically spaced (fastai's exponential schedule). */
export function lrAt(i: number, n: number, startLr: number, endLr: number): number {
  return n <= 1 ? startLr : startLr * (endLr / startLr) ** (i / (n - 1));
}

/** fastai's smoothed loss: avg = β·avg + (1 − β)·loss, reported as avg / (1 − β^(i+1)). */
export function smoothLosses(losses: readonly number[], beta = 0.98): number[] {
  let avg = 0;
  return losses.map((loss, i) => {
    avg = beta * avg + (1 - beta) * loss;
    return avg / (1 - beta ** (i + 1));
  });
}

/**
 * The suggested learning rate of a curve (`lrs` ascending, `losses` smoothed):
 * - valley (fastai2 `valley`): the longest decreasing subsequence of the loss, and 2/3 of
 *   the way down it (without the curve's first tenth and last 5 points, as fastai2);
 * - steepest (fastai v1 `min_grad_lr`): the lr where the loss falls fastest (numpy.gradient
 *   of the loss over the index), skipping the first 10 and last 5 points when there are enough;
 * - minimum: the lr of the lowest loss, divided by 10.
 */
export function suggestLr(lrs: readonly number[], losses: readonly number[], method: LrSuggestion = 'valley'): { lr: number; index: number } {
  const n = losses.length;
  if (n !== lrs.length) throw new Error(`suggestLr: ${lrs.length} learning rates and ${n} losses`);
  if (n < 3) throw new Error(`suggestLr: the curve has ${n} points; at least 3 are needed (raise --num-it or lower --start-lr)`);
  if (method === 'minimum') {
    let best = 0;
    for (let i = 1; i < n; i++) if (losses[i] < losses[best]) best = i;
    return { lr: lrs[best] / 10, index: best };
  }
  if (method === 'steepest') {
    const [lo, hi] = n > 20 ? [10, n - 5] : [0, n];
    let best = lo;
    let bestGrad = Infinity;
    for (let i = lo; i < hi; i++) {
      const g = i === 0 ? losses[1] - losses[0] : i === n - 1 ? losses[n - 1] - losses[n - 2] : (losses[i + 1] - losses[i - 1]) / 2;
      if (g < bestGrad) {
        bestGrad = g;
        best = i;
      }
    }
    return { lr: lrs[best], index: best };
  }
  // fastai2 valley, on the curve without its first tenth and last 5 points (as fastai2's
  // lr_find): the longest decreasing subsequence, and 2/3 of the way down it.
  const lo = n > 20 ? Math.floor(n / 10) : 0;
  const hi = n > 20 ? n - 5 : n;
  const l = losses.slice(lo, hi);
  const m = l.length;
  const run = new Array<number>(m).fill(1);
  let end = 0;
  let start = 0;
  for (let i = 1; i < m; i++) {
    for (let j = 0; j < i; j++) {
      if (l[i] < l[j] && run[i] < run[j] + 1) run[i] = run[j] + 1;
      if (run[end] < run[i]) {
        end = i;
        start = end - run[end];
      }
    }
  }
  const sections = (end - start) / 3;
  const index = lo + Math.max(0, Math.min(m - 1, start + Math.floor(sections) + Math.floor(sections / 2)));
  return { lr: lrs[index], index };
}

export interface LrFindOptions {
  /** A freshly built model (its weights are trained in place: dispose it afterwards). */
  model: tf.LayersModel;
  clips: TrainingClip[];
  makeBatch: MakeBatch;
  task: Task;
  optimizer: OptimizerConfig;
  batchSize: number;
  /** Samples per forward/backward pass (0 = batchSize). */
  microBatchSize?: number;
  seed: number;
  startLr?: number;
  endLr?: number;
  numIt?: number;
  /** Stop when the smoothed loss exceeds this multiple of its minimum (fastai: 4); 0 = never. */
  divergeFactor?: number;
  inputNormalization?: InputNormalization | null;
  onStep?: (step: { i: number; lr: number; loss: number; smoothed: number }) => void;
}

export interface LrFindResult {
  lrs: number[];
  losses: number[];
  smoothed: number[];
  /** Why the sweep ended: every step ran, or the loss diverged (or became non-finite). */
  stop: 'completed' | 'diverged';
  suggestions: Record<LrSuggestion, number>;
}

/** Runs the sweep (see the module comment). β1 is held at optimizer.beta1Max throughout. */
export function lrFind(o: LrFindOptions): LrFindResult {
  const startLr = o.startLr ?? 1e-7;
  const endLr = o.endLr ?? 10;
  const numIt = o.numIt ?? 100;
  const divergeFactor = o.divergeFactor ?? 4;
  if (!(startLr > 0 && endLr > startLr)) throw new Error(`lr-find: need 0 < start lr < end lr, got ${startLr} and ${endLr}`);
  if (!Number.isInteger(numIt) || numIt < 3) throw new Error(`lr-find: num-it must be an integer >= 3, got ${numIt}`);
  const n = o.clips.length;
  if (n === 0) throw new Error('lr-find: no training clips');
  const batchSize = Math.min(o.batchSize, n);
  const micro = o.microBatchSize && o.microBatchSize > 0 ? Math.min(o.microBatchSize, batchSize) : batchSize;
  const rng = new Rng(o.seed);
  const optimizer = new AdamW(trainableVariables(o.model), o.optimizer);
  const lrs: number[] = [];
  const losses: number[] = [];
  let smoothed: number[] = [];
  let stop: LrFindResult['stop'] = 'completed';
  try {
    let order = rng.permutation(n);
    let pos = 0;
    let best = Infinity;
    for (let i = 0; i < numIt; i++) {
      if (pos + batchSize > n) {
        order = rng.permutation(n);
        pos = 0;
      }
      const indices = order.slice(pos, pos + batchSize);
      pos += batchSize;
      const lr = lrAt(i, numIt, startLr, endLr);
      const loss = trainStep(o.model, optimizer, o.makeBatch(o.clips, indices, rng), indices.length, micro, { lr, beta1: o.optimizer.beta1Max }, rng,
        o.inputNormalization ?? null, o.task.loss);
      if (!Number.isFinite(loss)) {
        stop = 'diverged';
        break;
      }
      lrs.push(lr);
      losses.push(loss);
      smoothed = smoothLosses(losses);
      const s = smoothed[smoothed.length - 1];
      o.onStep?.({ i, lr, loss, smoothed: s });
      if (s < best) best = s;
      if (divergeFactor > 0 && i > 0 && s > divergeFactor * best) {
        stop = 'diverged';
        break;
      }
    }
  } finally {
    optimizer.dispose();
  }
  if (lrs.length < 3) throw new Error(`lr-find: the loss diverged after ${lrs.length} step(s); lower --start-lr`);
  const suggestions = Object.fromEntries(LR_SUGGESTIONS.map((m) => [m, suggestLr(lrs, smoothed, m).lr])) as Record<LrSuggestion, number>;
  return { lrs, losses, smoothed, stop, suggestions };
}
