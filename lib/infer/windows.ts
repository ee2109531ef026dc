/**
 * The sliding windows of inference (SPEC "Inference"): each clip image `[nMels][T]` is cut
 * into s = ceil((T − W) / shift) + 1 windows of W frames, start_i = round_half_even((T − W)·i/(s − 1)),
 * a single window when T ≤ W. A clip narrower than W is centred and zero-padded exactly as a
 * training crop is (lib/runtime/windows copyWindow), so the model sees the same input either way.
 */
import type { ClipImage } from '../features/types';
import type { TrainingClip } from '../data/types';
import { centreStart, copyWindow, slidingWindowStarts } from '../runtime/windows';

/** One window: clip index (into the images given) and first frame. */
export interface InferenceWindow {
  clip: number;
  start: number;
  /** Width of this window when it is not the planned window width: a whole short clip fed to a network that takes any width. */
  frames?: number;
}

/** Window starts of one `width`-frame image: the reference formula (lib/runtime/windows slidingWindowStarts). */
export function windowStarts(width: number, windowFrames: number, windowShift: number): number[] {
  if (!Number.isInteger(windowFrames) || windowFrames < 1) throw new Error(`windowFrames must be an integer >= 1, got ${windowFrames}`);
  if (!Number.isInteger(windowShift) || windowShift < 1) throw new Error(`windowShift must be an integer >= 1, got ${windowShift}`);
  return slidingWindowStarts(width, windowFrames, windowShift);
}

/**
 * Which windows of a clip are scored: 'sliding' = every window of the reference (inference,
 * out-of-fold predictions); 'centre' = the one centre window (fast validation during training).
 */
export type WindowMode = 'sliding' | 'centre';

/**
 * Short clips on a network that takes any width and pools globally (e.g. PANNs): each is one
 * window of its own width, but at least `minFrames` (the network's fewest frames: every 2×2
 * pool halves the width, and a map pooled down to nothing has no values to pool globally).
 */
export interface WholeShortClips {
  minFrames: number;
}

/**
 * Every window of `images`, clip by clip, starts ascending. With `wholeShortClips` a clip
 * narrower than the window is one window of its own width instead of a padded one, so the
 * network sees exactly the clip; one narrower than `wholeShortClips.minFrames` is centred and
 * padded to that width (as {@link fillWindowBatch} pads any narrow clip).
 */
export function planWindows(images: readonly ClipImage[], windowFrames: number, windowShift: number, mode: WindowMode = 'sliding', wholeShortClips: WholeShortClips | null = null): InferenceWindow[] {
  if (mode !== 'sliding' && mode !== 'centre') throw new Error(`window mode must be 'sliding' or 'centre', got '${String(mode)}'`);
  if (wholeShortClips && !(Number.isInteger(wholeShortClips.minFrames) && wholeShortClips.minFrames >= 1)) {
    throw new Error(`wholeShortClips.minFrames must be an integer >= 1, got ${wholeShortClips.minFrames}`);
  }
  const out: InferenceWindow[] = [];
  images.forEach((img, clip) => {
    if (wholeShortClips && img.frames < windowFrames) {
      out.push({ clip, start: 0, frames: Math.max(img.frames, wholeShortClips.minFrames) });
      return;
    }
    if (mode === 'centre') {
      out.push({ clip, start: centreStart(img.frames, windowFrames) });
      return;
    }
    for (const start of windowStarts(img.frames, windowFrames, windowShift)) out.push({ clip, start });
  });
  return out;
}

const NO_TARGET = new Float32Array(0);

/**
 * Copies `windows` of `images` into `out` as single-channel `[n][nMels][windowFrames]` floats
 * (uint8 / 255, or a float image's values), n = windows.length; `out` must hold at least
 * n·nMels·windowFrames values.
 */
export function fillWindowBatch(
  images: readonly ClipImage[],
  windows: readonly InferenceWindow[],
  windowFrames: number,
  out: Float32Array,
): void {
  windows.forEach((w, j) => {
    const image = images[w.clip];
    const clip: TrainingClip = { fname: '', image, target: NO_TARGET };
    copyWindow(clip, w.start, windowFrames, out, j * image.nMels * windowFrames);
  });
}

/** Splits `windows` into runs of at most `batchSize` consecutive windows of one width (a batch is one tensor). */
export function windowBatches(windows: readonly InferenceWindow[], windowFrames: number, batchSize: number): { windows: InferenceWindow[]; frames: number }[] {
  const out: { windows: InferenceWindow[]; frames: number }[] = [];
  for (const w of windows) {
    const frames = w.frames ?? windowFrames;
    const last = out[out.length - 1];
    if (last && last.frames === frames && last.windows.length < batchSize) last.windows.push(w);
    else out.push({ windows: [w], frames });
  }
  return out;
}
