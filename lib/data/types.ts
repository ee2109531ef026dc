import type { ClipImage } from '../features/types';

/** One clip as the training loop sees it. */
export interface TrainingClip {
  /** File name as in the label CSV, e.g. `ac9e7a91.wav`. */
  fname: string;
  image: ClipImage;
  /** Multi-hot (or soft) target `[numClasses]`. */
  target: Float32Array;
  /**
   * The clip's trimmed waveform at the preprocessing sample rate, present only when waveform
   * augmentations are enabled (they recompute the image, bypassing the feature cache).
   */
  waveform?: Float32Array;
}
