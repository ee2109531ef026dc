/**
 * Sample-level augmentations of one clip image: the training crop (uniform or strength-
 * adaptive), random zoom and lighting (fastai v1 semantics, as the reference used them).
 *
 * Layouts: a `ClipImage` is uint8 `[nMels][frames]` (lib/features/types.ts); a crop is a
 * Float32Array `[height = nMels][width = cropFrames]` row-major in 0..1 (uint8 / 255), mel row 0
 * = the lowest band.
 */
import type { AugmentConfig } from '../config';
import type { ClipImage } from '../features/types';
import type { Rng } from '../util/rng';
import { checkInRange, checkInteger, checkToggle } from './validate';

function checkClipImage(name: string, image: ClipImage): void {
  if (!image || !(image.data instanceof Uint8Array || image.data instanceof Float32Array)) throw new Error(`${name}.data must be a Uint8Array (or a Float32Array: preprocess output 'db')`);
  checkInteger(`${name}.nMels`, image.nMels, 1);
  checkInteger(`${name}.frames`, image.frames, 1);
  if (image.data.length !== image.nMels * image.frames) {
    throw new Error(`${name}.data length must be nMels*frames = ${image.nMels}*${image.frames}, got ${image.data.length}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Crop
// ---------------------------------------------------------------------------------------------

/** {@link cropImage} of a float image: values copied as they are; 'centre' pads with the image's minimum. */
function cropFloatImage(data: Float32Array, nMels: number, frames: number, start: number, cropFrames: number, pad: 'centre' | 'wrap', out: Float32Array | undefined, offset: number): Float32Array {
  const dst = out ?? new Float32Array(nMels * cropFrames);
  if (dst.length < offset + nMels * cropFrames) throw new Error(`out is too short: need ${offset + nMels * cropFrames} values, got ${dst.length}`);
  if (frames >= cropFrames) {
    checkInteger('start', start);
    if (start + cropFrames > frames) throw new Error(`start + cropFrames must be <= frames = ${frames}, got ${start} + ${cropFrames}`);
    for (let m = 0; m < nMels; m++) dst.set(data.subarray(m * frames + start, m * frames + start + cropFrames), offset + m * cropFrames);
    return dst;
  }
  if (pad === 'wrap') {
    for (let m = 0; m < nMels; m++) for (let t = 0; t < cropFrames; t++) dst[offset + m * cropFrames + t] = data[m * frames + (t % frames)];
    return dst;
  }
  if (pad !== 'centre') throw new Error(`pad must be 'centre' or 'wrap', got ${JSON.stringify(pad)}`);
  let floor = Infinity;
  for (let i = 0; i < data.length; i++) if (data[i] < floor) floor = data[i];
  const left = Math.floor((cropFrames - frames) / 2);
  for (let m = 0; m < nMels; m++) {
    const row = offset + m * cropFrames;
    dst.fill(floor, row, row + cropFrames);
    dst.set(data.subarray(m * frames, (m + 1) * frames), row + left);
  }
  return dst;
}

/**
 * Mean of the image over every `cropFrames`-wide window, `[frames − cropFrames + 1]`, in 0..1.
 *
 * Why this is the window's dB energy: the clip image is an increasing affine map of the clip's
 * log-mel dB matrix (z-score, then min-max to 0..255), so the window mean of the image is the
 * window's mean dB energy, rescaled so the clip's quietest cell is 0 and its loudest 1.
 * Computed with prefix sums over column sums: O(nMels·frames).
 */
export function windowEnergies(image: ClipImage, cropFrames: number): Float64Array {
  checkClipImage('image', image);
  checkInteger('cropFrames', cropFrames, 1);
  const { nMels, frames, data } = image;
  const count = Math.max(1, frames - cropFrames + 1);
  const width = Math.min(cropFrames, frames);
  const col = new Float64Array(frames + 1);
  for (let t = 0; t < frames; t++) {
    let s = 0;
    for (let m = 0; m < nMels; m++) s += data[m * frames + t];
    col[t + 1] = col[t] + s;
  }
  const out = new Float64Array(count);
  const norm = 255 * nMels * width;
  for (let s = 0; s < count; s++) out[s] = (col[s + width] - col[s]) / norm;
  return out;
}

/**
 * Start frame of the training crop. Images no wider than `cropFrames` give 0 without drawing.
 * Otherwise, when `cfg` (strength-adaptive crop, 7th place FAT2019) is enabled and
 * `chance(cfg.p)`, the start s is drawn with probability ∝ max(energy_s, 1e-6)^power where
 * energy_s = {@link windowEnergies} (the window's mean image value = rescaled mean dB), so loud
 * windows are favoured but none is impossible; else s is uniform: exactly one
 * `rng.int(frames − cropFrames + 1)`, the same draw as lib/train's `randomCropBatch`.
 *
 * @returns s in [0, max(0, frames − cropFrames)]
 */
export function chooseCropStart(image: ClipImage, cropFrames: number, cfg: AugmentConfig['strengthCrop'], rng: Rng): number {
  checkClipImage('image', image);
  checkInteger('cropFrames', cropFrames, 1);
  checkToggle('strengthCrop', cfg);
  checkInRange('strengthCrop.power', cfg.power, 0, 100);
  if (image.frames <= cropFrames) return 0;
  const count = image.frames - cropFrames + 1;
  if (cfg.enabled && rng.chance(cfg.p)) {
    const energy = windowEnergies(image, cropFrames);
    const cum = new Float64Array(count);
    let total = 0;
    for (let s = 0; s < count; s++) {
      total += Math.pow(Math.max(energy[s], 1e-6), cfg.power);
      cum[s] = total;
    }
    const u = rng.uniform() * total;
    // First s with cum[s] > u (binary search).
    let lo = 0;
    let hi = count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
  return rng.int(count);
}

/**
 * Copies the `cropFrames`-wide window of `image` starting at `start` as floats (uint8 / 255)
 * into `out` at `offset` (layout `[nMels][cropFrames]`). Images narrower than the crop are
 * padded: 'centre' = zero-padded on both sides with offset floor(pad / 2) (the same as
 * lib/train's `copyWindow` and the reference's 2 s padding); 'wrap' = tiled from frame 0.
 *
 * @returns `out` (a new `[nMels · cropFrames]` array when not given)
 */
export function cropImage(
  image: ClipImage,
  start: number,
  cropFrames: number,
  pad: 'centre' | 'wrap' = 'centre',
  out?: Float32Array,
  offset = 0,
): Float32Array {
  checkClipImage('image', image);
  checkInteger('cropFrames', cropFrames, 1);
  const { nMels, frames } = image;
  // A float image (preprocess output 'db', PANNs) is the network's input as it is; a short one
  // is padded with its minimum (the quietest value), as lib/runtime/windows does.
  if (image.data instanceof Float32Array) return cropFloatImage(image.data, nMels, frames, start, cropFrames, pad, out, offset);
  const data = image.data;
  const dst = out ?? new Float32Array(nMels * cropFrames);
  if (dst.length < offset + nMels * cropFrames) throw new Error(`out is too short: need ${offset + nMels * cropFrames} values, got ${dst.length}`);
  if (frames >= cropFrames) {
    checkInteger('start', start);
    if (start + cropFrames > frames) throw new Error(`start + cropFrames must be <= frames = ${frames}, got ${start} + ${cropFrames}`);
    for (let m = 0; m < nMels; m++) {
      const src = m * frames + start;
      const row = offset + m * cropFrames;
      for (let t = 0; t < cropFrames; t++) dst[row + t] = data[src + t] / 255;
    }
    return dst;
  }
  if (pad === 'wrap') {
    for (let m = 0; m < nMels; m++) {
      const row = offset + m * cropFrames;
      for (let t = 0; t < cropFrames; t++) dst[row + t] = data[m * frames + (t % frames)] / 255;
    }
    return dst;
  }
  if (pad !== 'centre') throw new Error(`pad must be 'centre' or 'wrap', got ${JSON.stringify(pad)}`);
  const left = Math.floor((cropFrames - frames) / 2);
  for (let m = 0; m < nMels; m++) {
    const row = offset + m * cropFrames;
    dst.fill(0, row, row + cropFrames);
    for (let t = 0; t < frames; t++) dst[row + left + t] = data[m * frames + t] / 255;
  }
  return dst;
}

// ---------------------------------------------------------------------------------------------
// Zoom
// ---------------------------------------------------------------------------------------------

/** Zoom parameters: `scale` ≥ 1 and the zoom centre as fractions `rowPct`, `colPct` in 0..1. */
export interface ZoomParams {
  scale: number;
  rowPct: number;
  colPct: number;
}

/**
 * Zooms into an image by `scale` and crops back to its size, bilinear (fastai v1 `zoom` with
 * `F.grid_sample(align_corners=True)`): in normalised coordinates u ∈ [−1, 1] the output at u
 * samples the input at u / scale + c with c = (1 − 1/scale)·(2·pct − 1), so the zoomed window
 * always lies inside the image. scale = 1 is the identity.
 *
 * @param image `[height][width]` float, @returns a new `[height][width]` array (values stay within the input's range)
 */
export function zoomImage(image: Float32Array, height: number, width: number, params: ZoomParams): Float32Array {
  checkInteger('height', height, 1);
  checkInteger('width', width, 1);
  if (image.length !== height * width) throw new Error(`image length must be height*width = ${height}*${width}, got ${image.length}`);
  checkInRange('scale', params.scale, 1, 10);
  checkInRange('rowPct', params.rowPct, 0, 1);
  checkInRange('colPct', params.colPct, 0, 1);
  if (params.scale === 1) return image.slice();
  const out = new Float32Array(height * width);
  const { scale } = params;
  const axis = (n: number, pct: number): { i0: Int32Array; frac: Float32Array } => {
    const i0 = new Int32Array(n);
    const frac = new Float32Array(n);
    const c = (1 - 1 / scale) * (2 * pct - 1);
    for (let i = 0; i < n; i++) {
      const u = n > 1 ? (2 * i) / (n - 1) - 1 : 0;
      let p = ((u / scale + c + 1) / 2) * (n - 1);
      p = Math.min(Math.max(p, 0), n - 1);
      const f = Math.min(Math.floor(p), Math.max(n - 2, 0));
      i0[i] = f;
      frac[i] = n > 1 ? p - f : 0;
    }
    return { i0, frac };
  };
  const rows = axis(height, params.rowPct);
  const cols = axis(width, params.colPct);
  const dc = width > 1 ? 1 : 0;
  const dr = height > 1 ? width : 0;
  for (let r = 0; r < height; r++) {
    const fr = rows.frac[r];
    const base = rows.i0[r] * width;
    for (let c = 0; c < width; c++) {
      const fc = cols.frac[c];
      const k = base + cols.i0[c];
      const top = image[k] + fc * (image[k + dc] - image[k]);
      const bottom = image[k + dr] + fc * (image[k + dr + dc] - image[k + dr]);
      out[r * width + c] = top + fr * (bottom - top);
    }
  }
  return out;
}

/**
 * Random zoom (fastai `rand_zoom(scale=(minScale, maxScale))`, reference p = 0.75): with
 * probability `cfg.p`, scale ~ U(minScale, maxScale), rowPct, colPct ~ U(0, 1).
 * Draw order: chance(p), scale, rowPct, colPct. Returns the input itself (not a copy) with
 * `params: null` when not applied.
 */
export function randomZoom(
  image: Float32Array,
  height: number,
  width: number,
  cfg: AugmentConfig['zoom'],
  rng: Rng,
): { image: Float32Array; params: ZoomParams | null } {
  checkToggle('zoom', cfg);
  if (!cfg.enabled || !rng.chance(cfg.p)) return { image, params: null };
  const params = { scale: rng.range(cfg.minScale, cfg.maxScale), rowPct: rng.uniform(), colPct: rng.uniform() };
  return { image: zoomImage(image, height, width, params), params };
}

// ---------------------------------------------------------------------------------------------
// Lighting
// ---------------------------------------------------------------------------------------------

/**
 * Lighting parameters (fastai v1): `brightness` change in (0, 1) (0.5 = none), `contrast`
 * scale > 0 (1 = none); either may be null (not applied).
 */
export interface LightingParams {
  brightness: number | null;
  contrast: number | null;
}

const LOGIT_EPS = 1e-7;

/**
 * fastai v1 lighting: in logit space, brightness adds logit(change) and contrast multiplies by
 * scale: `x' = sigmoid(scale · (logit(clamp(x, 1e-7, 1 − 1e-7)) + logit(change)))`. The sigmoid
 * keeps values inside (0, 1). Returns a copy unchanged when both are null.
 *
 * @param image any layout, values in 0..1
 */
export function adjustLighting(image: Float32Array, params: LightingParams): Float32Array {
  if (params.brightness === null && params.contrast === null) return image.slice();
  const shift = params.brightness === null ? 0 : logit(checkOpen01('brightness', params.brightness));
  const scale = params.contrast === null ? 1 : params.contrast;
  if (!(scale > 0) || !Number.isFinite(scale)) throw new Error(`contrast must be > 0, got ${scale}`);
  const out = new Float32Array(image.length);
  for (let i = 0; i < image.length; i++) {
    const v = Math.min(Math.max(image[i], LOGIT_EPS), 1 - LOGIT_EPS);
    const z = scale * (Math.log(v / (1 - v)) + shift);
    out[i] = 1 / (1 + Math.exp(-z));
  }
  return out;
}

function checkOpen01(name: string, v: number): number {
  if (!(v > 0 && v < 1)) throw new Error(`${name} must be in (0, 1), got ${v}`);
  return v;
}

function logit(p: number): number {
  return Math.log(p / (1 - p));
}

/**
 * Random lighting as fastai's `get_transforms(max_lighting=m, p_lighting=p)`: brightness with
 * probability p, change ~ U(0.5·(1 − m), 0.5·(1 + m)); contrast with probability p
 * (independently), scale log-uniform in [1 − m, 1/(1 − m)]. Draw order: chance, change,
 * chance, scale. Returns the input itself when neither applies.
 */
export function randomLighting(image: Float32Array, cfg: AugmentConfig['lighting'], rng: Rng): { image: Float32Array; params: LightingParams | null } {
  checkToggle('lighting', cfg);
  checkInRange('lighting.maxChange', cfg.maxChange, 0, 0.99);
  if (!cfg.enabled || cfg.p <= 0) return { image, params: null };
  const m = cfg.maxChange;
  const brightness = rng.chance(cfg.p) ? rng.range(0.5 * (1 - m), 0.5 * (1 + m)) : null;
  const contrast = rng.chance(cfg.p) ? Math.exp(rng.range(Math.log(1 - m), -Math.log(1 - m))) : null;
  if (brightness === null && contrast === null) return { image, params: null };
  const params = { brightness, contrast };
  return { image: adjustLighting(image, params), params };
}
