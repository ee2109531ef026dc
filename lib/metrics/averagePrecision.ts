/**
 * Per-class average precision, equal to scikit-learn's
 * `average_precision_score(truth, scores, average=None)`: AP = Σ_n (R_n − R_{n−1}) · P_n over
 * the distinct score thresholds in descending order (tied scores form one threshold), so no
 * interpolation. A class without positives gets NaN (sklearn warns and returns 0 or nan,
 * depending on the version) and is left out of the macro mean (mAP).
 *
 * @param truth `[numClips][numClasses]` row-major, value > 0.5 = positive.
 * @param scores `[numClips][numClasses]` row-major; NaN is rejected.
 */
export function averagePrecision(truth: Uint8Array | Float32Array | Float64Array, scores: Float32Array | Float64Array, numClasses: number): { perClass: Float64Array; macro: number } {
  if (!Number.isInteger(numClasses) || numClasses <= 0) throw new Error(`numClasses must be a positive integer, got ${numClasses}`);
  if (truth.length !== scores.length) throw new Error(`truth and scores must have the same length, got ${truth.length} and ${scores.length}`);
  if (scores.length % numClasses !== 0) throw new Error(`scores length must be a multiple of numClasses=${numClasses}, got ${scores.length}`);
  const numClips = scores.length / numClasses;
  const perClass = new Float64Array(numClasses);
  const idx = new Array<number>(numClips);
  const col = new Float64Array(numClips);
  let sum = 0;
  let defined = 0;
  for (let c = 0; c < numClasses; c++) {
    let positives = 0;
    for (let r = 0; r < numClips; r++) {
      const s = scores[r * numClasses + c];
      if (s !== s) throw new Error(`scores must not contain NaN, got NaN at clip ${r}, class ${c}`);
      col[r] = s;
      idx[r] = r;
      if (truth[r * numClasses + c] > 0.5) positives++;
    }
    if (positives === 0) {
      perClass[c] = NaN;
      continue;
    }
    idx.sort((a, b) => col[b] - col[a]);
    let tp = 0;
    let seen = 0;
    let ap = 0;
    let prevRecall = 0;
    for (let i = 0; i < numClips; ) {
      let j = i;
      while (j < numClips && col[idx[j]] === col[idx[i]]) {
        if (truth[idx[j] * numClasses + c] > 0.5) tp++;
        seen++;
        j++;
      }
      const recall = tp / positives;
      ap += (recall - prevRecall) * (tp / seen);
      prevRecall = recall;
      i = j;
    }
    perClass[c] = ap;
    sum += ap;
    defined++;
  }
  return { perClass, macro: defined > 0 ? sum / defined : NaN };
}
