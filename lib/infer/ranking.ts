/**
 * Ranked tags: the result format of `fat2019 tag --json`. Pure (no tfjs, no Node), so the web
 * page shares it.
 */

/** One ranked class. */
export interface LabelScore {
  label: string;
  probability: number;
}

/** Tags of one file. */
export interface TagResult {
  file: string;
  /** Duration of the decoded audio (before silence trimming). */
  seconds: number;
  /** The `topK` most probable classes, probability descending (ties: vocabulary order). */
  labels: LabelScore[];
}

/** The `topK` classes of one row `scores[offset .. offset + C)`, probability descending, ties in vocabulary order. */
export function rankLabels(scores: ArrayLike<number>, offset: number, vocabulary: readonly string[], topK: number): LabelScore[] {
  const order = vocabulary.map((_, c) => c);
  order.sort((a, b) => scores[offset + b] - scores[offset + a] || a - b);
  return order.slice(0, Math.min(topK, vocabulary.length)).map((c) => ({ label: vocabulary[c], probability: scores[offset + c] }));
}
