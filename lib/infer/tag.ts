/**
 * Tagging audio files: decode (any format lib/audio reads) → the run's preprocessing → the
 * ensemble → the top-k classes with their probabilities.
 */
import type { InferConfig, PreprocessConfig } from '../config';
import { loadAudioFile } from '../audio/load';
import { clipImageFromSamples } from '../features/logmel';
import type { ClipImage } from '../features/types';
import type { OutputActivation } from './activation';
import { predictImages } from './predict';
import type { Ensemble, InferProgress } from './types';
import { rankLabels, type LabelScore, type TagResult } from './ranking';

export { rankLabels };
export type { LabelScore, TagResult };

/** Options of {@link tagFiles}. */
export interface TagOptions {
  /** Classes listed per file (default 5; at most the vocabulary size). */
  topK?: number;
  infer?: Partial<InferConfig>;
  /** The task's activation (default 'sigmoid'). */
  activation?: OutputActivation;
  onProgress?: (p: InferProgress) => void;
  /**
   * Called for a file that cannot be decoded; the file is then left out of the results.
   * Without it the first such file throws (the Error names the file).
   */
  onError?: (file: string, error: Error) => void;
}

/** A decoded file ready for the ensemble. */
export interface DecodedClip {
  file: string;
  seconds: number;
  image: ClipImage;
}

/** Decodes `file` and builds its clip image with `config`; errors name the file. */
export async function decodeForTagging(file: string, config: PreprocessConfig): Promise<DecodedClip> {
  const samples = await loadAudioFile(file, { sampleRate: config.sampleRate });
  let image: ClipImage;
  try {
    image = clipImageFromSamples(samples, config);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  return { file, seconds: samples.length / config.sampleRate, image };
}

/**
 * Tags each file with the ensemble: the `topK` most probable classes. Files are decoded first,
 * then predicted together (one pass over the members, even for a lazy ensemble).
 */
export async function tagFiles(files: readonly string[], ensemble: Ensemble, options: TagOptions = {}): Promise<TagResult[]> {
  const topK = options.topK ?? 5;
  if (!Number.isInteger(topK) || topK < 1) throw new Error(`topK must be an integer >= 1, got ${topK}`);
  const decoded: DecodedClip[] = [];
  for (const file of files) {
    try {
      decoded.push(await decodeForTagging(file, ensemble.config.preprocess));
    } catch (err) {
      if (!options.onError) throw err;
      options.onError(file, err as Error);
    }
  }
  const scores = await predictImages(ensemble, decoded.map((d) => d.image), { infer: options.infer, activation: options.activation, onProgress: options.onProgress });
  const C = ensemble.vocabulary.length;
  return decoded.map((d, i) => ({ file: d.file, seconds: d.seconds, labels: rankLabels(scores, i * C, ensemble.vocabulary, topK) }));
}
