/**
 * Running per-clip sums of window scores: each window's logits go through the task's
 * activation (./activation) and are added to their clip's row; the result is the mean over the
 * windows (and ensemble members) a clip received.
 *
 * Means: 'arithmetic' = mean of the probabilities (the reference); 'geometric' = exp of the
 * mean log-probability (computed from the logits, so tiny probabilities do not underflow).
 */
import { activateRow, type OutputActivation } from './activation';

export type EnsembleMean = 'arithmetic' | 'geometric';

export class WindowScoreSums {
  private readonly sums: Float64Array;
  private readonly counts: Float64Array;
  private readonly row: Float64Array;

  constructor(
    readonly numClips: number,
    readonly numClasses: number,
    readonly mean: EnsembleMean,
    readonly activation: OutputActivation,
  ) {
    this.sums = new Float64Array(numClips * numClasses);
    this.counts = new Float64Array(numClips);
    this.row = new Float64Array(numClasses);
  }

  /** Adds one window's scores, from its logits `logits[offset .. offset + C)`, to clip `clip`. */
  addLogits(clip: number, logits: ArrayLike<number>, offset: number): void {
    const C = this.numClasses;
    activateRow(logits, offset, C, this.activation, this.mean === 'geometric', this.row);
    const base = clip * C;
    for (let c = 0; c < C; c++) this.sums[base + c] += this.row[c];
    this.counts[clip]++;
  }

  /** Per-clip mean probabilities `[numClips][C]`. Throws if a clip received no window. */
  result(): Float32Array {
    const C = this.numClasses;
    const out = new Float32Array(this.sums.length);
    for (let i = 0; i < this.numClips; i++) {
      const n = this.counts[i];
      if (n === 0) throw new Error(`internal: clip ${i} received no window scores`);
      for (let c = 0; c < C; c++) {
        const m = this.sums[i * C + c] / n;
        out[i * C + c] = this.mean === 'geometric' ? Math.exp(m) : m;
      }
    }
    return out;
  }
}
