import type { TrainingClip } from '../data/types';
import type { Rng } from '../util/rng';
import { copyWindow } from '../runtime/windows';

/**
 * A training batch on the CPU side: `x` single-channel images `[B][H][W]` in 0..1 (H = mel
 * bands, W = frames), `y` targets `[B][numClasses]` (soft allowed).
 */
export interface Batch {
  x: Float32Array;
  y: Float32Array;
}

/**
 * Builds the batch for `indices` (into `clips`), drawing every random choice from `rng`.
 * lib/augment's `makeTrainingBatch` (crop + mixup + SpecMix + zoom + lighting) has this shape.
 */
export type MakeBatch = (clips: TrainingClip[], indices: number[], rng: Rng) => Batch;

/**
 * The plain default {@link MakeBatch}: a uniformly random `frames`-wide crop of each clip (one
 * `rng.int` per clip, in index order), no augmentation. All clips must share `nMels` and
 * the number of classes.
 */
export function randomCropBatch(frames = 128): MakeBatch {
  return (clips, indices, rng) => {
    if (indices.length === 0) throw new Error('randomCropBatch: indices must not be empty');
    const first = clips[indices[0]];
    const nMels = first.image.nMels;
    const numClasses = first.target.length;
    const x = new Float32Array(indices.length * nMels * frames);
    const y = new Float32Array(indices.length * numClasses);
    indices.forEach((idx, b) => {
      const clip = clips[idx];
      if (!clip) throw new Error(`randomCropBatch: index ${idx} out of range (${clips.length} clips)`);
      if (clip.image.nMels !== nMels) throw new Error(`randomCropBatch: clip ${clip.fname} has ${clip.image.nMels} mel bands, expected ${nMels}`);
      if (clip.target.length !== numClasses) throw new Error(`randomCropBatch: clip ${clip.fname} target has ${clip.target.length} classes, expected ${numClasses}`);
      const start = clip.image.frames > frames ? rng.int(clip.image.frames - frames + 1) : 0;
      copyWindow(clip, start, frames, x, b * nMels * frames);
      y.set(clip.target, b * numClasses);
    });
    return { x, y };
  };
}
