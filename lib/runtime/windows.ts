/** Window cutting over clip images, shared by training (crops, validation) and inference. */
import type { TrainingClip } from '../data/types';

/**
 * Copies a `frames`-wide window of `clip.image` starting at `start` into `out` at `offset`
 * (`[nMels][frames]`, values uint8 / 255). Clips narrower than `frames` are centred and
 * zero-padded (images are at least 128 frames after the 2 s padding, so this is a fallback).
 */
export function copyWindow(clip: TrainingClip, start: number, frames: number, out: Float32Array, offset: number): void {
  const { nMels, frames: width, data } = clip.image;
  if (data instanceof Float32Array) { copyFloatWindow(data, nMels, width, start, frames, out, offset); return; }
  if (width < frames) {
    const pad = Math.floor((frames - width) / 2);
    for (let m = 0; m < nMels; m++) {
      const row = offset + m * frames;
      out.fill(0, row, row + frames);
      for (let t = 0; t < width; t++) out[row + pad + t] = data[m * width + t] / 255;
    }
    return;
  }
  for (let m = 0; m < nMels; m++) {
    const src = m * width + start;
    const row = offset + m * frames;
    for (let t = 0; t < frames; t++) out[row + t] = data[src + t] / 255;
  }
}

/**
 * {@link copyWindow} for a float image (preprocess output 'db'): values as they are; a clip
 * narrower than the window is centred and padded with its own minimum (the quietest value, e.g.
 * −100 dB for digital silence), not 0, which in dB would be a loud band.
 */
function copyFloatWindow(data: Float32Array, nMels: number, width: number, start: number, frames: number, out: Float32Array, offset: number): void {
  if (width < frames) {
    let floor = Infinity;
    for (let i = 0; i < data.length; i++) if (data[i] < floor) floor = data[i];
    const pad = Math.floor((frames - width) / 2);
    for (let m = 0; m < nMels; m++) {
      const row = offset + m * frames;
      out.fill(floor, row, row + frames);
      out.set(data.subarray(m * width, (m + 1) * width), row + pad);
    }
    return;
  }
  for (let m = 0; m < nMels; m++) out.set(data.subarray(m * width + start, m * width + start + frames), offset + m * frames);
}

/** Start of the centre `frames`-wide window of a `width`-frame image (0 when narrower). */
export function centreStart(width: number, frames: number): number {
  return width > frames ? Math.floor((width - frames) / 2) : 0;
}

/**
 * Window starts of the reference sliding-window inference: s = ceil((T − W) / shift) + 1
 * windows, start_i = round_half_even((T − W) · i / (s − 1)); one window at 0 when T ≤ W.
 */
export function slidingWindowStarts(width: number, frames: number, shift: number): number[] {
  if (width <= frames) return [0];
  const span = width - frames;
  const s = Math.ceil(span / shift) + 1;
  const starts: number[] = [];
  for (let i = 0; i < s; i++) starts.push(roundHalfEven((span * i) / (s - 1)));
  return starts;
}

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
