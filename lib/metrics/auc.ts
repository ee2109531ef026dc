/** Result of {@link rocAuc}. */
export interface RocAucResult {
  /** ROC AUC per class `[numClasses]`; NaN where the class has only positives or only negatives. */
  perClass: Float64Array;
  /** Unweighted mean over the classes whose AUC is defined (NaN when none is). */
  macro: number;
}

/**
 * Per-class ROC AUC, equal to scikit-learn's `roc_auc_score(truth, scores, average=None)`
 * including ties (a tied positive/negative pair counts 1/2, the trapezoidal ROC rule), computed
 * exactly as the Mann-Whitney statistic: AUC = (#pairs pos > neg + #tied pairs / 2) / (P * N).
 * sklearn raises for a class with only one label value; here that class gets NaN and is left
 * out of `macro` (documented difference, so one rare class does not sink a whole report).
 *
 * @param truth `[numClips][numClasses]` row-major, value > 0.5 = positive.
 * @param scores `[numClips][numClasses]` row-major; NaN is rejected.
 */
export function rocAuc(truth: Uint8Array | Float32Array | Float64Array, scores: Float32Array | Float64Array, numClasses: number): RocAucResult {
  if (!Number.isInteger(numClasses) || numClasses <= 0) throw new Error(`numClasses must be a positive integer, got ${numClasses}`);
  if (scores.length % numClasses !== 0) throw new Error(`scores length must be a multiple of numClasses=${numClasses}, got ${scores.length}`);
  if (truth.length !== scores.length) throw new Error(`truth and scores must have the same length, got ${truth.length} and ${scores.length}`);
  const numClips = scores.length / numClasses;
  const perClass = new Float64Array(numClasses);
  const idx = new Array<number>(numClips);
  const col = new Float64Array(numClips);
  let sum = 0;
  let defined = 0;
  for (let c = 0; c < numClasses; c++) {
    for (let r = 0; r < numClips; r++) {
      const s = scores[r * numClasses + c];
      if (s !== s) throw new Error(`scores must not contain NaN, got NaN at clip ${r}, class ${c}`);
      col[r] = s;
      idx[r] = r;
    }
    idx.sort((a, b) => col[a] - col[b]);
    // Walk groups of equal scores in ascending order; count negatives strictly below.
    let negBelow = 0;
    let twiceU = 0; // 2 * (pairs won + ties / 2), an exact integer
    let P = 0;
    let N = 0;
    for (let i = 0; i < numClips; ) {
      let j = i;
      let p = 0;
      let n = 0;
      while (j < numClips && col[idx[j]] === col[idx[i]]) {
        if (truth[idx[j] * numClasses + c] > 0.5) p++;
        else n++;
        j++;
      }
      twiceU += p * (2 * negBelow + n);
      negBelow += n;
      P += p;
      N += n;
      i = j;
    }
    if (P === 0 || N === 0) {
      perClass[c] = NaN;
    } else {
      perClass[c] = twiceU / 2 / (P * N);
      sum += perClass[c];
      defined++;
    }
  }
  return { perClass, macro: defined > 0 ? sum / defined : NaN };
}
