/**
 * The fit loop's extension points (fastai style): progress, live display, logs, early
 * stopping. Every hook may be async; hooks run in the order the callbacks are given.
 */
import type * as tf from '@tensorflow/tfjs';
import { writeFileAtomicSync } from '../util/atomicWrite';
import { formatBar, formatDuration, formatFixed } from '../util/format';
import { progressReporter } from '../util/progress';

/** After each optimizer step. */
export interface BatchLog {
  /** 1-based epoch. */
  epoch: number;
  /** 0-based batch within the epoch. */
  batch: number;
  /** Optimizer steps done (1-based: this step's number). */
  step: number;
  /** Mean BCE of this step's batch. */
  loss: number;
  lr: number;
  beta1: number;
  /** Samples in this step's batch. */
  samples: number;
}

/** After each epoch; one line of the history. */
export interface EpochLog {
  /** 1-based epoch. */
  epoch: number;
  /** Optimizer steps done at the end of the epoch. */
  step: number;
  /** Mean of the epoch's step losses (BCE on augmented batches). */
  trainLoss: number;
  /** Validation BCE of the averaged window probabilities (if validation clips given). */
  validLoss?: number;
  /** Validation lwlrap (if validation clips given). */
  validLwlrap?: number;
  /** Name of the task's selection metric ('lwlrap', 'accuracy'); absent in older histories (= lwlrap). */
  validMetric?: string;
  /** The task's selection metric on the validation clips: picks best/ and drives early stopping. */
  validScore?: number;
  /** Every validation metric of the task (multiLabel: lwlrap, mAP, auc; singleLabel: accuracy, map3, auc). */
  validMetrics?: Record<string, number>;
  /** Learning rate of the epoch's last step. */
  lr: number;
  /** Wall-clock seconds of the epoch (training + validation). */
  seconds: number;
  /** Training samples per second. */
  samplesPerSecond: number;
}

/** What callbacks see (and may change: `stopTraining`). */
export interface FitContext {
  model: tf.LayersModel;
  /** Current (1-based) epoch; the last completed one in onTrainEnd. */
  epoch: number;
  epochs: number;
  /** Optimizer steps done so far. */
  step: number;
  stepsPerEpoch: number;
  totalSteps: number;
  /** Epoch logs so far (restored ones included when resuming). */
  history: EpochLog[];
  /** Set to true to stop after the current epoch. */
  stopTraining: boolean;
  /** Why training stopped early (set by whoever sets stopTraining). */
  stopReason?: string;
  /**
   * Set (with stopTraining) when the run is finished for good, e.g. by early stopping: the
   * checkpoint records it and a resume trains no further. stopTraining alone pauses a run.
   */
  completed?: boolean;
  /** True when the run continued from a checkpoint. */
  resumed: boolean;
}

type Hook<A extends unknown[]> = (ctx: FitContext, ...args: A) => void | Promise<void>;

/** A fit callback: implement any subset of the hooks. */
export interface Callback {
  name?: string;
  onTrainBegin?: Hook<[]>;
  onEpochBegin?: Hook<[]>;
  onBatchEnd?: Hook<[BatchLog]>;
  onEpochEnd?: Hook<[EpochLog]>;
  onTrainEnd?: Hook<[]>;
}

/** Runs one hook on every callback, in order. */
export async function runHook<K extends keyof Omit<Callback, 'name'>>(
  callbacks: Callback[], hook: K, ctx: FitContext, ...args: Parameters<NonNullable<Callback[K]>> extends [FitContext, ...infer R] ? R : never
): Promise<void> {
  for (const cb of callbacks) {
    const fn = cb[hook] as ((ctx: FitContext, ...a: unknown[]) => void | Promise<void>) | undefined;
    if (fn) await fn.call(cb, ctx, ...args);
  }
}

/** A loss or score of the epoch log; absent ones as `-`. */
const logValue = (v: number | undefined): string => formatFixed(v, { missing: '-' });

/** One history line as text: "epoch 3/10  train 0.0612  valid 0.0588  lwlrap 0.7123  lr 1.2e-03  41s". */
export function formatEpochLog(log: EpochLog, epochs: number): string {
  const metric = log.validMetric && log.validMetric !== 'lwlrap' ? `${log.validMetric} ${logValue(log.validScore)}` : `lwlrap ${logValue(log.validLwlrap)}`;
  return `epoch ${log.epoch}/${epochs}  train ${logValue(log.trainLoss)}  valid ${logValue(log.validLoss)}  ${metric}  ` +
    `lr ${log.lr.toExponential(1)}  ${formatDuration(log.seconds)} (${log.samplesPerSecond.toFixed(1)} samples/s)`;
}

export interface ProgressBarOptions {
  /** Where to write; default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Bar width in characters; default 30. */
  width?: number;
}

/**
 * CLI progress: on a TTY a one-line bar per epoch with loss, lr and ETA, rewritten in place;
 * always one summary line per epoch. Writes to stderr by default (stdout stays for results).
 */
export function progressBar(options: ProgressBarOptions = {}): Callback {
  // Per batch only on a terminal (redrawn at every step); the epoch lines always.
  const reporter = progressReporter({ stream: options.stream ?? process.stderr, redrawEveryMs: 0, lineEveryMs: Infinity });
  let epochStart = 0;
  let smoothLoss: number | undefined;
  return {
    name: 'progressBar',
    onEpochBegin() {
      epochStart = Date.now();
    },
    onBatchEnd(ctx, log) {
      const loss = (smoothLoss = smoothLoss === undefined ? log.loss : 0.98 * smoothLoss + 0.02 * log.loss);
      reporter.update(() => {
        const done = log.batch + 1;
        const elapsed = (Date.now() - epochStart) / 1000;
        const eta = (elapsed / done) * (ctx.stepsPerEpoch - done);
        return `epoch ${log.epoch}/${ctx.epochs} ${formatBar(done / ctx.stepsPerEpoch, options.width)} ${done}/${ctx.stepsPerEpoch} ` +
          `loss ${loss.toFixed(4)} lr ${log.lr.toExponential(1)} ETA ${formatDuration(eta)}`;
      });
    },
    onEpochEnd(ctx, log) {
      const remaining = (ctx.epochs - log.epoch) * log.seconds;
      reporter.log(`${formatEpochLog(log, ctx.epochs)}  ETA ${formatDuration(remaining)}`);
    },
  };
}

/** What {@link liveUpdates} hands to the display function. */
export interface LiveSnapshot {
  epoch: number;
  epochs: number;
  step: number;
  totalSteps: number;
  /** Loss of every step so far in this call (index = step − first step of the call). */
  batchLosses: number[];
  /** Learning rate of every step so far in this call. */
  batchLrs: number[];
  history: EpochLog[];
  /** 'batch' or 'epoch': what triggered the update. */
  trigger: 'batch' | 'epoch';
}

/**
 * A hook for notebooks: calls `display(snapshot)` every `everyBatches` steps and after each
 * epoch, e.g. to redraw a loss curve with `tslab.display`. The snapshot arrays are live (do
 * not mutate them).
 */
export function liveUpdates(display: (snapshot: LiveSnapshot) => void | Promise<void>, everyBatches = 10): Callback {
  const batchLosses: number[] = [];
  const batchLrs: number[] = [];
  const snapshot = (ctx: FitContext, trigger: 'batch' | 'epoch'): LiveSnapshot => ({
    epoch: ctx.epoch, epochs: ctx.epochs, step: ctx.step, totalSteps: ctx.totalSteps,
    batchLosses, batchLrs, history: ctx.history, trigger,
  });
  return {
    name: 'liveUpdates',
    async onBatchEnd(ctx, log) {
      batchLosses.push(log.loss);
      batchLrs.push(log.lr);
      if (everyBatches > 0 && batchLosses.length % everyBatches === 0) await display(snapshot(ctx, 'batch'));
    },
    async onEpochEnd(ctx) {
      await display(snapshot(ctx, 'epoch'));
    },
  };
}

/**
 * Writes the history as JSON Lines (one {@link EpochLog} per line) to `file`, rewritten
 * atomically after every epoch, so a resumed run's file holds exactly the restored epochs plus
 * the new ones.
 */
export function jsonlLogger(file: string): Callback {
  const write = (history: EpochLog[]) =>
    writeFileAtomicSync(file, history.map((h) => JSON.stringify(h)).join('\n') + (history.length > 0 ? '\n' : ''));
  return {
    name: 'jsonlLogger',
    onTrainBegin(ctx) {
      write(ctx.history);
    },
    onEpochEnd(ctx) {
      write(ctx.history);
    },
  };
}

/** The epoch's selection score: the task's metric, or lwlrap in histories written before tasks existed. */
export function validationScore(h: EpochLog): number | undefined {
  return h.validScore ?? h.validLwlrap;
}

/**
 * Stops when the task's validation metric (lwlrap, accuracy) has not improved for `patience` epochs. Its state is derived
 * from the history, so it continues correctly after a resume.
 */
export function earlyStopping(patience: number, minDelta = 0): Callback {
  if (!Number.isInteger(patience) || patience < 1) throw new Error(`earlyStopping patience must be an integer >= 1, got ${patience}`);
  return {
    name: 'earlyStopping',
    onEpochEnd(ctx) {
      const best = bestEpoch(ctx.history, minDelta);
      if (best === undefined) return;
      const since = ctx.history[ctx.history.length - 1].epoch - best.epoch;
      if (since >= patience) {
        ctx.stopTraining = true;
        ctx.completed = true;
        ctx.stopReason = `validation ${best.validMetric ?? 'lwlrap'} has not improved for ${since} epochs (best ${validationScore(best)!.toFixed(4)} at epoch ${best.epoch})`;
      }
    },
  };
}

/**
 * The epoch with the highest validation score (the task's selection metric; the first one, on
 * ties within minDelta). NaN never wins.
 */
export function bestEpoch(history: EpochLog[], minDelta = 0): EpochLog | undefined {
  let best: EpochLog | undefined;
  for (const h of history) {
    const score = validationScore(h);
    if (score === undefined || Number.isNaN(score)) continue;
    if (best === undefined || score > validationScore(best)! + minDelta) best = h;
  }
  return best;
}

/** Stops after `n` epochs of this call (time-boxed runs; tests simulate an interrupted run). */
export function stopAfterEpochs(n: number): Callback {
  let count = 0;
  return {
    name: 'stopAfterEpochs',
    onEpochEnd(ctx) {
      count++;
      if (count >= n) {
        ctx.stopTraining = true;
        ctx.stopReason = `stopAfterEpochs(${n})`;
      }
    },
  };
}
