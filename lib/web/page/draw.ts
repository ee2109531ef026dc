/**
 * Canvas drawing of the page: the log-mel image and the heat map of window scores, both on
 * the clip's time axis (x = seconds / duration · width) so one cursor follows playback on both.
 */
import type { PreviewImage } from '../protocol';
import type { Timeline } from '../timeline';

type Rgb = [number, number, number];

/** Piecewise-linear colour map through `stops` (t in 0..1). */
function colourMap(stops: Rgb[]): (t: number) => Rgb {
  return (t) => {
    const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(x));
    const f = x - i;
    const a = stops[i], b = stops[i + 1];
    return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
  };
}

/** Approximations of matplotlib's magma (spectrograms) and viridis (scores). */
const magma = colourMap([[0, 0, 4], [59, 15, 112], [140, 41, 129], [222, 73, 104], [254, 159, 109], [252, 253, 191]]);
const viridis = colourMap([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]]);

/** Sizes `canvas`'s bitmap to its CSS box (device pixels); returns the 2D context. */
function fitCanvas(canvas: HTMLCanvasElement, cssHeight: number): CanvasRenderingContext2D {
  const ratio = window.devicePixelRatio || 1;
  canvas.style.height = `${cssHeight}px`;
  canvas.width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  canvas.height = Math.max(1, Math.round(cssHeight * ratio));
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser has no 2D canvas');
  return ctx;
}

/** Draws the log-mel image (low bands at the bottom) where it lies on the clip's time axis. */
export function drawLogMel(canvas: HTMLCanvasElement, image: PreviewImage, seconds: number): void {
  const ctx = fitCanvas(canvas, 128);
  const { nMels, frames, data } = image;
  const bitmap = new ImageData(frames, nMels);
  const lut = Array.from({ length: 256 }, (_, v) => magma(v / 255));
  for (let m = 0; m < nMels; m++) {
    const y = nMels - 1 - m;
    for (let t = 0; t < frames; t++) {
      const [r, g, b] = lut[data[m * frames + t]];
      const o = 4 * (y * frames + t);
      bitmap.data[o] = r;
      bitmap.data[o + 1] = g;
      bitmap.data[o + 2] = b;
      bitmap.data[o + 3] = 255;
    }
  }
  const off = document.createElement('canvas');
  off.width = frames;
  off.height = nMels;
  off.getContext('2d')!.putImageData(bitmap, 0, 0);
  const W = canvas.width;
  const x0 = (image.startSeconds / seconds) * W;
  const x1 = (image.endSeconds / seconds) * W;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, W, canvas.height);
  ctx.imageSmoothingEnabled = frames > W;
  ctx.drawImage(off, x0, 0, x1 - x0, canvas.height);
}

/** Height of one class row of the heat map, CSS pixels. */
export const HEAT_ROW_PX = 18;

/**
 * Draws the window scores of the classes `rows` (vocabulary indices, top to bottom): each pixel
 * column takes the window whose centre is nearest its time.
 */
export function drawHeatMap(canvas: HTMLCanvasElement, timeline: Timeline, rows: readonly number[]): void {
  const ctx = fitCanvas(canvas, rows.length * HEAT_ROW_PX);
  const W = canvas.width, H = canvas.height;
  const bitmap = ctx.createImageData(W, H);
  const windows = timeline.windows;
  const centres = windows.map((w) => (w.start + w.end) / 2);
  let k = 0;
  for (let x = 0; x < W; x++) {
    const t = ((x + 0.5) / W) * timeline.seconds;
    while (k + 1 < centres.length && Math.abs(centres[k + 1] - t) <= Math.abs(centres[k] - t)) k++;
    const scores = windows[k].scores;
    for (let r = 0; r < rows.length; r++) {
      const [cr, cg, cb] = viridis(scores[rows[r]]);
      const y0 = Math.round((r * H) / rows.length), y1 = Math.round(((r + 1) * H) / rows.length);
      for (let y = y0; y < y1; y++) {
        const o = 4 * (y * W + x);
        // A one-pixel gap between rows keeps them apart.
        const gap = y === y1 - 1 && r < rows.length - 1;
        bitmap.data[o] = gap ? 255 : cr;
        bitmap.data[o + 1] = gap ? 255 : cg;
        bitmap.data[o + 2] = gap ? 255 : cb;
        bitmap.data[o + 3] = 255;
      }
    }
  }
  ctx.putImageData(bitmap, 0, 0);
}
