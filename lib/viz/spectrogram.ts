import { applyColormap, ColormapName, encodePng, pngDataUri } from './png';
import { escapeHtml } from './html';
import { baseLayout, ChartOptions, Figure } from './plotly';

/**
 * Something drawable as a spectrogram: a `ClipImage` (`{nMels, frames, data}`, uint8 or a 'db'
 * float image, lib/features/types.ts) or a float matrix `{rows, cols, data}` such as a dB log-mel
 * spectrogram `[nMels][frames]`. Both are row-major with row 0 = the LOWEST mel band.
 */
export type SpectrogramInput =
  | { nMels: number; frames: number; data: Uint8Array | Float32Array }
  | { rows: number; cols: number; data: ArrayLike<number> };

/**
 * Rows, columns and grey levels (0..255) of a {@link SpectrogramInput}, row 0 = lowest band.
 * A float matrix is scaled from `range` (default: its own min..max) to 0..255, clamped: pass
 * `[0, 1]` for model-input crops so that brightness changes (lighting) stay visible.
 */
export function spectrogramGrey(input: SpectrogramInput, range?: [number, number]): { rows: number; cols: number; grey: Uint8Array; min: number; max: number } {
  if ('nMels' in input && input.data instanceof Uint8Array) {
    const { nMels, frames, data } = input;
    if (data.length !== nMels * frames) throw new Error(`spectrogram: data length ${data.length} != nMels*frames = ${nMels}*${frames}`);
    return { rows: nMels, cols: frames, grey: data, min: 0, max: 255 };
  }
  // A float clip image (preprocess output 'db') is drawn as the matrix it is.
  const { rows, cols, data } = 'nMels' in input ? { rows: input.nMels, cols: input.frames, data: input.data } : input;
  if (data.length !== rows * cols) throw new Error(`spectrogram: data length ${data.length} != rows*cols = ${rows}*${cols}`);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (Number.isFinite(v)) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  if (min === Infinity) min = max = 0;
  if (range) {
    if (!(Number.isFinite(range[0]) && Number.isFinite(range[1]) && range[1] > range[0])) {
      throw new Error(`range must be finite with lo < hi, got [${range[0]}, ${range[1]}]`);
    }
    [min, max] = range;
  }
  const grey = new Uint8Array(data.length);
  const span = max - min;
  if (span > 0) {
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      grey[i] = Number.isFinite(v) ? Math.round((255 * Math.min(span, Math.max(0, v - min))) / span) : 0;
    }
  }
  return { rows, cols, grey, min, max };
}

/**
 * PNG bytes of a spectrogram: one pixel per (mel band, frame), the LOWEST band at the BOTTOM
 * of the picture (rows are flipped, since PNG row 0 is the top), coloured with `colormap`.
 */
export function spectrogramPng(input: SpectrogramInput, colormap: ColormapName = 'magma', range?: [number, number]): Buffer {
  const { rows, cols, grey } = spectrogramGrey(input, range);
  if (rows === 0 || cols === 0) throw new Error(`spectrogram: empty image (${rows} rows × ${cols} frames)`);
  const flipped = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) flipped.set(grey.subarray((rows - 1 - r) * cols, (rows - r) * cols), r * cols);
  return encodePng(applyColormap(flipped, colormap), cols, rows, 3);
}

/** Options of {@link spectrogram}. */
export interface SpectrogramOptions {
  title?: string;
  colormap?: ColormapName;
  /** Frames per second, to label the time axis (44,100 / 694 ≈ 63.5 for the reference). */
  framesPerSecond?: number;
  /** Frequency range of the mel bands in Hz, for the caption (default 20–22,050). */
  fMin?: number;
  fMax?: number;
  /** Displayed height in px (default 160); width follows the frame count, at most 100%. */
  height?: number;
  /** Displayed px per frame (default 2; long clips are capped by the cell width). */
  pxPerFrame?: number;
  /** Value range of a float matrix mapped to the colour map (default: its min..max). */
  range?: [number, number];
}

/**
 * A spectrogram as an HTML `<figure>`: a PNG `<img>` (low bands at the bottom, time to the
 * right) with a title and a caption giving the duration, frames and frequency range. Light
 * (a few KB), works in any notebook front end and in exported HTML without plotly.
 */
export function spectrogram(input: SpectrogramInput, options: SpectrogramOptions = {}): string {
  const { rows, cols, min, max } = spectrogramGrey(input, options.range);
  const png = spectrogramPng(input, options.colormap ?? 'magma', options.range);
  const height = options.height ?? 160;
  const width = Math.round(cols * (options.pxPerFrame ?? 2));
  const fps = options.framesPerSecond;
  const seconds = fps ? ` · ${(cols / fps).toFixed(2)} s` : '';
  const range = 'nMels' in input ? '' : ` · ${min.toFixed(1)} to ${max.toFixed(1)}`;
  const caption =
    `${rows} mel bands (${options.fMin ?? 20}–${options.fMax ?? 22050} Hz, low at the bottom) × ${cols} frames${seconds}${range}`;
  return (
    '<figure style="margin:6px 0;font:12px sans-serif">' +
    (options.title ? `<div style="font-weight:bold;margin-bottom:3px">${escapeHtml(options.title)}</div>` : '') +
    `<img src="${pngDataUri(png)}" alt="${escapeHtml(options.title ?? 'spectrogram')}" ` +
    `style="display:block;width:${width}px;max-width:100%;height:${height}px;image-rendering:pixelated;border:1px solid #ccc">` +
    `<figcaption style="color:#555">${escapeHtml(caption)}</figcaption></figure>`
  );
}

/**
 * A spectrogram as an interactive Plotly heatmap (hover shows band, frame and value); row 0 at
 * the bottom. Heavier than {@link spectrogram}: keep it for a clip or two.
 */
export function spectrogramFigure(input: SpectrogramInput, options: ChartOptions & { framesPerSecond?: number; colorscale?: string } = {}): Figure {
  const { rows, cols } = spectrogramGrey(input);
  const data = input.data;
  const z: number[][] = [];
  for (let r = 0; r < rows; r++) z.push(Array.from({ length: cols }, (_, c) => data[r * cols + c]));
  const fps = options.framesPerSecond;
  const x = Array.from({ length: cols }, (_, c) => (fps ? c / fps : c));
  return {
    data: [{ type: 'heatmap', z, x, colorscale: options.colorscale ?? 'Magma' }],
    layout: baseLayout({ xTitle: fps ? 'time (s)' : 'frame', yTitle: 'mel band', height: 300, ...options }),
  };
}
