/**
 * The trivial baseline a model must beat: every clip gets the same scores, each class's
 * frequency in the training labels. Its lwlrap is what "learned nothing about the audio" scores
 * (it still ranks frequent classes first).
 */
import { vocabularyIndex } from '../data/labels';

/**
 * Scores `[nClips][C]`: row i = (clips labelled c) / (training clips) for every class c, the
 * same for all rows. A training label outside `vocabulary` throws (naming it).
 *
 * @param trainLabels labels of each training clip (e.g. from readLabelCsv)
 */
export function frequencyBaseline(trainLabels: readonly (readonly string[])[], vocabulary: readonly string[], nClips: number): Float32Array {
  if (vocabulary.length === 0) throw new Error('frequencyBaseline: vocabulary must not be empty');
  if (trainLabels.length === 0) throw new Error('frequencyBaseline: trainLabels must not be empty');
  if (!Number.isInteger(nClips) || nClips < 0) throw new Error(`frequencyBaseline: nClips must be an integer >= 0, got ${nClips}`);
  const index = vocabularyIndex(vocabulary);
  const C = vocabulary.length;
  const counts = new Float64Array(C);
  trainLabels.forEach((labels, i) => {
    for (const label of new Set(labels)) {
      const c = index.get(label);
      if (c === undefined) throw new Error(`frequencyBaseline: training clip ${i} has label "${label}", not in the vocabulary`);
      counts[c]++;
    }
  });
  const row = new Float32Array(C);
  for (let c = 0; c < C; c++) row[c] = counts[c] / trainLabels.length;
  const out = new Float32Array(nClips * C);
  for (let i = 0; i < nClips; i++) out.set(row, i * C);
  return out;
}
