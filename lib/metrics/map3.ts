/**
 * Top-k classes per clip, best first. Ties are broken by the lower class index first (a
 * documented deterministic rule; FAT2018 kernels used `np.argsort(-scores)[:, :3]`, whose tie
 * order is numpy's unstable quicksort).
 *
 * @param scores `[numClips][numClasses]` row-major.
 * @returns Int32Array `[numClips][k]`.
 */
export function topKClasses(scores: Float32Array | Float64Array, numClasses: number, k: number): Int32Array {
  if (!Number.isInteger(numClasses) || numClasses <= 0) throw new Error(`numClasses must be a positive integer, got ${numClasses}`);
  if (!Number.isInteger(k) || k <= 0 || k > numClasses) throw new Error(`k must be an integer in [1, numClasses=${numClasses}], got ${k}`);
  if (scores.length % numClasses !== 0) throw new Error(`scores length must be a multiple of numClasses=${numClasses}, got ${scores.length}`);
  const numClips = scores.length / numClasses;
  const out = new Int32Array(numClips * k);
  for (let r = 0; r < numClips; r++) {
    const base = r * numClasses;
    let filled = 0;
    // Insertion into a sorted list of at most k entries: O(numClasses * k).
    for (let c = 0; c < numClasses; c++) {
      const s = scores[base + c];
      if (s !== s) throw new Error(`scores must not contain NaN, got NaN at clip ${r}, class ${c}`);
      let p = filled;
      while (p > 0 && scores[base + out[r * k + p - 1]] < s) p--;
      if (p >= k) continue;
      for (let q = Math.min(filled, k - 1); q > p; q--) out[r * k + q] = out[r * k + q - 1];
      out[r * k + p] = c;
      if (filled < k) filled++;
    }
  }
  return out;
}

/**
 * Mean average precision at 3 (FAT2018, single-label): per clip, AP = 1/(p+1) if the true class
 * is at position p (0, 1, 2) of the 3 best-scored classes, else 0; MAP@3 = mean over clips.
 * Ties in the top 3 follow {@link topKClasses} (lower class index first).
 *
 * @param labels Int32Array `[numClips]`, the one true class of each clip (0 .. numClasses-1).
 * @param scores `[numClips][numClasses]` row-major.
 */
export function mapAt3(labels: Int32Array, scores: Float32Array | Float64Array, numClasses: number): number {
  const numClips = scores.length / numClasses;
  if (labels.length !== numClips) {
    throw new Error(`labels must have one entry per clip (scores.length / numClasses = ${numClips}), got ${labels.length}`);
  }
  if (numClips === 0) throw new Error('mapAt3 needs at least one clip, got 0');
  const k = Math.min(3, numClasses);
  const top = topKClasses(scores, numClasses, k);
  let sum = 0;
  for (let r = 0; r < numClips; r++) {
    const label = labels[r];
    if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
      throw new Error(`labels[${r}] must be a class index in [0, ${numClasses}), got ${label}`);
    }
    for (let p = 0; p < k; p++) {
      if (top[r * k + p] === label) {
        sum += 1 / (p + 1);
        break;
      }
    }
  }
  return sum / numClips;
}
