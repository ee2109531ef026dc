import { npArgsortInto } from './npArgsort';

/**
 * How tied scores are ranked (only matters when a clip has equal scores):
 * - `'numpy'` (default): the official DCASE 2019 / Kaggle reference (`Lwlrap` of the DCASE
 *   2019 task 2 baseline `evaluation.py`), which ranks with `np.argsort(scores)[::-1]`; ties are
 *   ordered exactly as numpy 1.24.2's introsort orders them (see `npArgsort.ts`). For rows of
 *   at most 16 classes that is "highest class index first"; for more classes it is
 *   scrambled by the partitioning.
 * - `'sklearn'`: every tied class counts as ranked above (pessimistic), as scikit-learn's
 *   `label_ranking_average_precision_score`; lwlrap then equals that score with
 *   `sample_weight` = number of labels per clip.
 * - `'stable-low'`: descending stable sort, among equal scores the lower class index first.
 * - `'stable-high'`: stable ascending sort reversed, among equal scores the higher class index
 *   first (the numpy order for rows of at most 16 classes).
 */
export type LwlrapTies = 'numpy' | 'sklearn' | 'stable-low' | 'stable-high';

/** The tie rules, for validation and CLI help. */
export const LWLRAP_TIES: readonly LwlrapTies[] = ['numpy', 'sklearn', 'stable-low', 'stable-high'];

export interface LwlrapOptions {
  /** Tie rule; default `'numpy'` (the reference). */
  ties?: LwlrapTies;
}

/** Result of {@link lwlrap}; every per-class array has length `numClasses`. */
export interface LwlrapResult {
  /** Label-weighted label-ranking average precision over all (clip, true label) pairs. */
  overall: number;
  /** Mean precision over the class's (clip, label) pairs; 0 for a class never positive. */
  perClass: Float64Array;
  /** Class share of all (clip, label) pairs (sums to 1); 0 for a class never positive. */
  weights: Float64Array;
  /** Number of clips in which the class is positive. */
  positives: Int32Array;
}

/** Ground truth: 0/1 (or soft) targets; a value > 0.5 counts as a true label. */
export type TruthMatrix = Uint8Array | Float32Array | Float64Array;
/** Scores (logits or probabilities: only the order within a clip matters). */
export type ScoreMatrix = Float32Array | Float64Array;

function checkInputs(truth: TruthMatrix, scores: ScoreMatrix, numClasses: number): number {
  if (!Number.isInteger(numClasses) || numClasses <= 0) {
    throw new Error(`numClasses must be a positive integer, got ${numClasses}`);
  }
  if (scores.length % numClasses !== 0) {
    throw new Error(`scores length must be a multiple of numClasses=${numClasses}, got ${scores.length}`);
  }
  if (truth.length !== scores.length) {
    throw new Error(`truth and scores must have the same length [numClips*numClasses], got ${truth.length} and ${scores.length}`);
  }
  const numClips = scores.length / numClasses;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (s !== s) {
      throw new Error(`scores must not contain NaN, got NaN at clip ${Math.floor(i / numClasses)}, class ${i % numClasses}`);
    }
  }
  return numClips;
}

/**
 * Per-row worker: computes, for every true label of one clip, its precision = (true labels
 * ranked at or above it) / (its 1-based rank). Buffers are reused across rows.
 */
class RowRanker {
  private readonly order: Int32Array;
  private readonly rank: Int32Array;
  /** Class indices of the current row's true labels, ascending (as np.flatnonzero). */
  readonly pos: Int32Array;
  /** precision[k] belongs to pos[k]. */
  readonly precision: Float64Array;
  numPos = 0;

  constructor(private readonly numClasses: number, private readonly ties: LwlrapTies) {
    if (!LWLRAP_TIES.includes(ties)) {
      throw new Error(`ties must be one of ${LWLRAP_TIES.join(', ')}, got "${String(ties)}"`);
    }
    this.order = new Int32Array(numClasses);
    this.rank = new Int32Array(numClasses);
    this.pos = new Int32Array(numClasses);
    this.precision = new Float64Array(numClasses);
  }

  /** Loads row `row`; returns the number of true labels (0: nothing computed). */
  run(truth: TruthMatrix, scores: ScoreMatrix, row: number): number {
    const C = this.numClasses;
    const base = row * C;
    let n = 0;
    for (let c = 0; c < C; c++) if (truth[base + c] > 0.5) this.pos[n++] = c;
    this.numPos = n;
    if (n === 0) return 0;
    const { pos, rank, precision } = this;
    switch (this.ties) {
      case 'numpy': {
        const order = this.order;
        for (let c = 0; c < C; c++) order[c] = c;
        npArgsortInto(scores, base, order, C);
        // Descending rank = position in the reversed ascending order.
        for (let p = 0; p < C; p++) rank[order[p]] = C - 1 - p;
        break;
      }
      case 'stable-low':
      case 'stable-high': {
        const low = this.ties === 'stable-low';
        for (let k = 0; k < n; k++) {
          const c = pos[k];
          const s = scores[base + c];
          let r = 0;
          for (let j = 0; j < C; j++) {
            const t = scores[base + j];
            if (t > s || (t === s && (low ? j < c : j > c))) r++;
          }
          rank[c] = r;
        }
        break;
      }
      case 'sklearn': {
        // rank = #{k : s_k >= s_c} (1-based), hits = #{true k : s_k >= s_c}.
        for (let k = 0; k < n; k++) {
          const s = scores[base + pos[k]];
          let r = 0;
          for (let j = 0; j < C; j++) if (scores[base + j] >= s) r++;
          let hits = 0;
          for (let m = 0; m < n; m++) if (scores[base + pos[m]] >= s) hits++;
          precision[k] = hits / r;
        }
        return n;
      }
    }
    for (let k = 0; k < n; k++) {
      const r = rank[pos[k]];
      let hits = 0;
      for (let m = 0; m < n; m++) if (rank[pos[m]] <= r) hits++;
      precision[k] = hits / (1 + r);
    }
    return n;
  }
}

/**
 * numpy's pairwise summation of a float64 vector (`np.sum` on a contiguous array), so that
 * overall lwlrap matches the reference to the last bit: blocks of <= 128 are summed with 8
 * interleaved accumulators, larger arrays split recursively.
 */
export function npPairwiseSum(a: ArrayLike<number>, start = 0, n = a.length - start): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i];
    return res;
  }
  if (n <= 128) {
    const r = [0, 0, 0, 0, 0, 0, 0, 0];
    for (let j = 0; j < 8; j++) r[j] = a[start + j];
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[start + i + j];
    let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += a[start + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return npPairwiseSum(a, start, n2) + npPairwiseSum(a, start + n2, n - n2);
}

/**
 * Label-weighted label-ranking average precision (lwlrap), the FAT2019 / DCASE 2019 task 2
 * metric, computed as the reference `Lwlrap` class: for each clip and each of its true labels,
 * precision = (true labels ranked at or above it) / (its 1-based rank among all classes,
 * scores descending); per-class lwlrap = mean of the class's precisions; weight = class share of
 * all (clip, label) pairs; overall = sum(perClass * weights) = mean over all pairs.
 * Clips without a true label are skipped; a class never positive gets lwlrap 0 and weight 0.
 *
 * @param truth `[numClips][numClasses]` row-major, value > 0.5 = true label.
 * @param scores `[numClips][numClasses]` row-major; NaN is rejected.
 * @param numClasses classes per row (80 for FSDKaggle2019).
 * @param options.ties tie rule, see {@link LwlrapTies}; default `'numpy'` (the reference).
 */
export function lwlrap(truth: TruthMatrix, scores: ScoreMatrix, numClasses: number, options: LwlrapOptions = {}): LwlrapResult {
  const numClips = checkInputs(truth, scores, numClasses);
  const ranker = new RowRanker(numClasses, options.ties ?? 'numpy');
  const cumPrecision = new Float64Array(numClasses);
  const positives = new Int32Array(numClasses);
  for (let row = 0; row < numClips; row++) {
    const n = ranker.run(truth, scores, row);
    for (let k = 0; k < n; k++) {
      const c = ranker.pos[k];
      cumPrecision[c] += ranker.precision[k];
      positives[c] += 1;
    }
  }
  let total = 0;
  for (let c = 0; c < numClasses; c++) total += positives[c];
  const perClass = new Float64Array(numClasses);
  const weights = new Float64Array(numClasses);
  const products = new Float64Array(numClasses);
  for (let c = 0; c < numClasses; c++) {
    perClass[c] = cumPrecision[c] / Math.max(1, positives[c]);
    weights[c] = total > 0 ? positives[c] / total : 0;
    products[c] = perClass[c] * weights[c];
  }
  // No true label anywhere: the metric is undefined (the reference would divide 0 by 0).
  const overall = total > 0 ? npPairwiseSum(products) : NaN;
  return { overall, perClass, weights, positives };
}

/**
 * Per-clip label-ranking average precision: for each clip, the mean precision over its true
 * labels (same ranking and tie rule as {@link lwlrap}); NaN for a clip without true labels.
 * Averaging it over clips weighted by their label counts gives `lwlrap(...).overall`. The
 * warm-up pipeline uses it to score noisy clips out-of-fold (l1, l2, l3).
 *
 * @param truth `[numClips][numClasses]` row-major, value > 0.5 = true label.
 * @param scores `[numClips][numClasses]` row-major.
 * @returns Float64Array `[numClips]`.
 */
export function clipLwlrap(truth: TruthMatrix, scores: ScoreMatrix, numClasses: number, options: LwlrapOptions = {}): Float64Array {
  const numClips = checkInputs(truth, scores, numClasses);
  const ranker = new RowRanker(numClasses, options.ties ?? 'numpy');
  const out = new Float64Array(numClips);
  for (let row = 0; row < numClips; row++) {
    const n = ranker.run(truth, scores, row);
    if (n === 0) {
      out[row] = NaN;
      continue;
    }
    let sum = 0;
    for (let k = 0; k < n; k++) sum += ranker.precision[k];
    out[row] = sum / n;
  }
  return out;
}
