import { bar, LiveLineChart, progressBar } from '../viz/charts';
import type { Figure } from '../viz/plotly';
import type { Callback } from '../train/callbacks';
import { liveDisplay, LiveDisplay } from './display';

/**
 * The live view of a training run in a notebook: a progress line and the loss / validation
 * lwlrap curves, each in a display that overwrites itself (see `liveDisplay`), so the cell
 * shows the current state while it runs and keeps the final one when saved or exported.
 */

/** One finished epoch, as the dashboard plots it. */
export interface EpochPoint {
  /** Pipeline stage (1..4) and fold (0-based) the epoch belongs to. */
  stage: number;
  fold: number;
  /** Epoch within the stage, 1-based. */
  epoch: number;
  trainLoss: number;
  validLoss?: number;
  validLwlrap?: number;
  /** The task's selection metric (see {@link DashboardOptions.metric}); plotted instead of lwlrap when the metric is not lwlrap. */
  validScore?: number;
}

/** Options of {@link TrainingDashboard}. */
export interface DashboardOptions {
  title?: string;
  /** The validation metric on the right axis: 'lwlrap' (default, multiLabel) or the task's, e.g. 'accuracy'. */
  metric?: string;
  /** Redraw the curves at most every this many ms (progress redraws are cheap). Default 0. */
  minRedrawMs?: number;
}

export class TrainingDashboard {
  readonly chart: LiveLineChart;
  private readonly progress: LiveDisplay;
  private readonly curves: LiveDisplay;
  /** x of the next epoch: epochs are numbered across stages and folds so curves read left to right. */
  private step = 0;
  private lastDraw = 0;
  readonly points: EpochPoint[] = [];

  constructor(private readonly options: DashboardOptions = {}) {
    this.progress = liveDisplay();
    this.curves = liveDisplay();
    this.chart = new LiveLineChart(
      { title: options.title ?? 'Training curves', xTitle: 'epoch (all stages and folds, in order)', yTitle: metricOf(options) === 'lwlrap' ? 'BCE loss' : 'loss', y2Title: metricOf(options), y2Range: [0, 1], height: 380 },
      { [`valid ${metricOf(options)}`]: 2 },
    );
  }

  /** Shows "label: done/total". */
  setProgress(done: number, total: number, label: string): void {
    this.progress.update(progressBar(done, Math.max(1, total), label));
  }

  /** Adds an epoch's losses and lwlrap to the curves and redraws them. */
  addEpoch(p: EpochPoint): void {
    this.points.push(p);
    this.step++;
    this.chart.push('train loss', this.step, p.trainLoss);
    if (p.validLoss !== undefined && Number.isFinite(p.validLoss)) this.chart.push('valid loss', this.step, p.validLoss);
    const metric = metricOf(this.options);
    const score = metric === 'lwlrap' ? p.validLwlrap : p.validScore;
    if (score !== undefined && Number.isFinite(score)) this.chart.push(`valid ${metric}`, this.step, score);
    const now = Date.now();
    if (now - this.lastDraw >= (this.options.minRedrawMs ?? 0)) this.redraw();
  }

  /**
   * A lib/train `fit` callback feeding this dashboard: the progress line every
   * `everyBatches` steps ("stage 2 · fold 1 · epoch 3/10 · step 40/120 · loss 0.0712") and
   * one point per epoch on the curves.
   */
  callback(stage: number, fold: number, everyBatches = 5): Callback {
    const label = (epoch: number, epochs: number) => `stage ${stage} · fold ${fold} · epoch ${epoch}/${epochs}`;
    return {
      name: 'notebookDashboard',
      onBatchEnd: (ctx, log) => {
        if ((log.batch + 1) % everyBatches !== 0 && log.batch + 1 !== ctx.stepsPerEpoch) return;
        this.setProgress(log.batch + 1, ctx.stepsPerEpoch, `${label(log.epoch, ctx.epochs)} · loss ${log.loss.toFixed(4)}`);
      },
      onEpochEnd: (ctx, log) => {
        this.setProgress(ctx.stepsPerEpoch, ctx.stepsPerEpoch, `${label(log.epoch, ctx.epochs)} done in ${log.seconds.toFixed(1)} s`);
        this.addEpoch({ stage, fold, epoch: log.epoch, trainLoss: log.trainLoss, validLoss: log.validLoss, validLwlrap: log.validLwlrap, validScore: log.validScore });
      },
      onTrainEnd: () => this.redraw(),
    };
  }

  /** Draws the curves now (also call it once at the end when redraws are throttled). */
  redraw(): void {
    this.lastDraw = Date.now();
    this.curves.update(this.chart.html());
  }
}

function metricOf(options: DashboardOptions): string {
  return options.metric ?? 'lwlrap';
}

/**
 * Per-class lwlrap as horizontal bars, best class on top, with the overall value in the title.
 * `perClass[i]` belongs to `vocabulary[i]`; classes never positive in the data (`weights[i] = 0`
 * when given) are left out, since their lwlrap is undefined.
 */
export function perClassLwlrapChart(
  vocabulary: readonly string[],
  perClass: ArrayLike<number>,
  overall: number,
  options: { title?: string; weights?: ArrayLike<number> } = {},
): Figure {
  if (perClass.length !== vocabulary.length) throw new Error(`perClass has ${perClass.length} values for ${vocabulary.length} classes`);
  const keep = vocabulary.map((_, i) => i).filter((i) => !options.weights || options.weights[i] > 0);
  return bar(
    keep.map((i) => vocabulary[i]),
    { name: 'lwlrap', values: keep.map((i) => perClass[i]) },
    { horizontal: true, sort: 'desc', title: `${options.title ?? 'Per-class lwlrap'} (overall ${overall.toFixed(4)})`, yTitle: 'lwlrap' },
  );
}
