/**
 * Batch-level augmentations on CPU-side training batches: mixup, SpecMix, SpecAugment masks and
 * random erasing (SPEC "Augmentation").
 *
 * Layouts: `x` single-channel images `[batch][height = mel bands][width = frames]` row-major,
 * values in 0..1 (uint8 / 255); `y` targets `[batch][numClasses]` (multi-hot or soft).
 *
 * Every function is pure: it returns new arrays and the random parameters it drew (`draws`),
 * so tests and notebook previews can see exactly what happened. Each random augmentation has a
 * deterministic inner `…Apply` function taking those parameters explicitly.
 */
import type { AugmentConfig, MaskFill } from '../config';
import type { Rng } from '../util/rng';
import { checkFill, checkInRange, checkInteger, checkPositive, checkSpecAugment, checkToggle } from './validate';

/** Shape of an image batch `x` = `[batch][height][width]`. */
export interface BatchShape {
  batch: number;
  height: number;
  width: number;
}

/** A batch-level augmentation's output: new `x`, `y` (same layouts) and what was drawn. */
export interface BatchAugmentResult<D> {
  x: Float32Array;
  y: Float32Array;
  draws: D[];
}

/** Checks `x` and `y` against `shape`; returns numClasses = y.length / batch. */
export function checkBatch(x: Float32Array, y: Float32Array, shape: BatchShape): number {
  const { batch, height, width } = shape;
  checkInteger('shape.batch', batch, 1);
  checkInteger('shape.height', height, 1);
  checkInteger('shape.width', width, 1);
  if (!(x instanceof Float32Array)) throw new Error(`x must be a Float32Array, got ${Object.prototype.toString.call(x)}`);
  if (!(y instanceof Float32Array)) throw new Error(`y must be a Float32Array, got ${Object.prototype.toString.call(y)}`);
  if (x.length !== batch * height * width) {
    throw new Error(`x length must be batch*height*width = ${batch}*${height}*${width} = ${batch * height * width}, got ${x.length}`);
  }
  if (y.length === 0 || y.length % batch !== 0) throw new Error(`y length must be a positive multiple of batch = ${batch}, got ${y.length}`);
  return y.length / batch;
}

function checkPartner(name: string, partner: number, batch: number): void {
  if (!Number.isInteger(partner) || partner < 0 || partner >= batch) throw new Error(`${name} must be an integer in [0, ${batch}), got ${partner}`);
}

// ---------------------------------------------------------------------------------------------
// mixup
// ---------------------------------------------------------------------------------------------

/** What mixup drew for one sample: `out = λ·self + (1 − λ)·partner` (λ = 1 when not applied). */
export interface MixupDraw {
  applied: boolean;
  partner: number;
  lambda: number;
}

/**
 * Deterministic mixup: for every sample i, `x'[i] = λᵢ·x[i] + (1 − λᵢ)·x[partnerᵢ]` and the
 * same for `y`. Partners read the ORIGINAL batch (not the partly mixed one).
 *
 * @param x `[batch][height][width]`, @param y `[batch][numClasses]`
 * @returns new `{x, y}` with the same layouts
 */
export function mixupApply(x: Float32Array, y: Float32Array, shape: BatchShape, draws: MixupDraw[]): { x: Float32Array; y: Float32Array } {
  const numClasses = checkBatch(x, y, shape);
  const { batch } = shape;
  if (draws.length !== batch) throw new Error(`draws length must be batch = ${batch}, got ${draws.length}`);
  const plane = shape.height * shape.width;
  const xo = x.slice();
  const yo = y.slice();
  draws.forEach((d, i) => {
    if (!d.applied) return;
    checkPartner(`draws[${i}].partner`, d.partner, batch);
    checkInRange(`draws[${i}].lambda`, d.lambda, 0, 1);
    const l = d.lambda;
    const k = 1 - l;
    const a = i * plane;
    const b = d.partner * plane;
    for (let j = 0; j < plane; j++) xo[a + j] = l * x[a + j] + k * x[b + j];
    const ca = i * numClasses;
    const cb = d.partner * numClasses;
    for (let c = 0; c < numClasses; c++) yo[ca + c] = l * y[ca + c] + k * y[cb + c];
  });
  return { x: xo, y: yo };
}

/**
 * mixup as the reference applies it (fastai MixUp, per-sample λ): partners = one random
 * permutation of the batch (a sample may pair with itself); for each sample, with probability
 * `cfg.p`, λ ~ Beta(α, α) and λ = max(λ, 1 − λ) so the sample itself dominates.
 *
 * Draw order: permutation, then per sample `chance(p)` and, if applied, `beta(α, α)`.
 * Disabled or p = 0: returns copies and draws nothing.
 *
 * @param x `[batch][height][width]` in 0..1, @param y `[batch][numClasses]`
 */
export function mixup(x: Float32Array, y: Float32Array, shape: BatchShape, cfg: AugmentConfig['mixup'], rng: Rng): BatchAugmentResult<MixupDraw> {
  checkBatch(x, y, shape);
  checkToggle('mixup', cfg);
  checkPositive('mixup.alpha', cfg.alpha);
  const { batch } = shape;
  if (!cfg.enabled || cfg.p <= 0) {
    const draws = Array.from({ length: batch }, (_, i) => ({ applied: false, partner: i, lambda: 1 }));
    return { x: x.slice(), y: y.slice(), draws };
  }
  const perm = rng.permutation(batch);
  const draws: MixupDraw[] = perm.map((partner) => {
    if (!rng.chance(cfg.p)) return { applied: false, partner, lambda: 1 };
    const l = rng.beta(cfg.alpha, cfg.alpha);
    return { applied: true, partner, lambda: Math.max(l, 1 - l) };
  });
  return { ...mixupApply(x, y, shape, draws), draws };
}

// ---------------------------------------------------------------------------------------------
// SpecMix
// ---------------------------------------------------------------------------------------------

/**
 * What SpecMix drew for one sample: fractions `h`, `w` (unrounded), the band of `rows` =
 * int(h·height) mel rows starting at `rowStart` and of `cols` = int(w·width) frames starting
 * at `colStart`, copied from `partner`.
 */
export interface SpecMixDraw {
  applied: boolean;
  partner: number;
  h: number;
  w: number;
  rowStart: number;
  rows: number;
  colStart: number;
  cols: number;
}

/** SpecMix's target weight of the partner: the covered area a = h + w − h·w (unrounded h, w). */
export function specMixArea(h: number, w: number): number {
  return h + w - h * w;
}

/**
 * Deterministic SpecMix: for each applied sample i, rows `[rowStart, rowStart + rows)` over all
 * frames and frames `[colStart, colStart + cols)` over all rows are copied from `x[partner]`
 * (the INPUT batch), and `y'[i] = (1 − a)·y[i] + a·y[partner]`, a = h + w − h·w.
 *
 * @param x `[batch][height][width]`, @param y `[batch][numClasses]`
 * @returns new `{x, y}`, same layouts
 */
export function specMixApply(x: Float32Array, y: Float32Array, shape: BatchShape, draws: SpecMixDraw[]): { x: Float32Array; y: Float32Array } {
  const numClasses = checkBatch(x, y, shape);
  const { batch, height: H, width: W } = shape;
  if (draws.length !== batch) throw new Error(`draws length must be batch = ${batch}, got ${draws.length}`);
  const plane = H * W;
  const xo = x.slice();
  const yo = y.slice();
  draws.forEach((d, i) => {
    if (!d.applied) return;
    checkPartner(`draws[${i}].partner`, d.partner, batch);
    checkInRange(`draws[${i}].h`, d.h, 0, 1);
    checkInRange(`draws[${i}].w`, d.w, 0, 1);
    checkInteger(`draws[${i}].rows`, d.rows);
    checkInteger(`draws[${i}].cols`, d.cols);
    checkInteger(`draws[${i}].rowStart`, d.rowStart);
    checkInteger(`draws[${i}].colStart`, d.colStart);
    if (d.rowStart + d.rows > H) throw new Error(`draws[${i}]: rowStart + rows must be <= height = ${H}, got ${d.rowStart} + ${d.rows}`);
    if (d.colStart + d.cols > W) throw new Error(`draws[${i}]: colStart + cols must be <= width = ${W}, got ${d.colStart} + ${d.cols}`);
    const a = i * plane;
    const b = d.partner * plane;
    // Frequency band: whole rows.
    xo.set(x.subarray(b + d.rowStart * W, b + (d.rowStart + d.rows) * W), a + d.rowStart * W);
    // Time band: the same frames of every row.
    if (d.cols > 0) {
      for (let r = 0; r < H; r++) {
        const off = r * W + d.colStart;
        xo.set(x.subarray(b + off, b + off + d.cols), a + off);
      }
    }
    const area = specMixArea(d.h, d.w);
    const ca = i * numClasses;
    const cb = d.partner * numClasses;
    for (let c = 0; c < numClasses; c++) yo[ca + c] = (1 - area) * y[ca + c] + area * y[cb + c];
  });
  return { x: xo, y: yo };
}

/**
 * Draws SpecMix parameters for one sample as the reference does: h, w ~ U(0, maxFraction),
 * rows = int(h·H), cols = int(w·W), starts uniform over the valid range.
 * Draw order: h, w, rowStart, colStart.
 */
export function drawSpecMix(partner: number, height: number, width: number, maxFraction: number, rng: Rng): SpecMixDraw {
  const h = rng.range(0, maxFraction);
  const w = rng.range(0, maxFraction);
  const rows = Math.floor(h * height);
  const cols = Math.floor(w * width);
  const rowStart = rng.int(height - rows + 1);
  const colStart = rng.int(width - cols + 1);
  return { applied: true, partner, h, w, rowStart, rows, colStart, cols };
}

/**
 * SpecMix (SPEC, applied after mixup on the mixed batch): partners = a fresh random
 * permutation (a sample may pair with itself; then x is unchanged and y too); for each sample
 * with probability `cfg.p` (reference: always), {@link drawSpecMix} then {@link specMixApply}.
 *
 * @param x `[batch][height][width]` in 0..1, @param y `[batch][numClasses]`
 */
export function specMix(x: Float32Array, y: Float32Array, shape: BatchShape, cfg: AugmentConfig['specMix'], rng: Rng): BatchAugmentResult<SpecMixDraw> {
  checkBatch(x, y, shape);
  checkToggle('specMix', cfg);
  checkInRange('specMix.maxFraction', cfg.maxFraction, 0, 1);
  const { batch, height, width } = shape;
  const none = (partner: number): SpecMixDraw => ({ applied: false, partner, h: 0, w: 0, rowStart: 0, rows: 0, colStart: 0, cols: 0 });
  if (!cfg.enabled || cfg.p <= 0) return { x: x.slice(), y: y.slice(), draws: Array.from({ length: batch }, (_, i) => none(i)) };
  const perm = rng.permutation(batch);
  const draws = perm.map((partner) => (rng.chance(cfg.p) ? drawSpecMix(partner, height, width, cfg.maxFraction, rng) : none(partner)));
  return { ...specMixApply(x, y, shape, draws), draws };
}

// ---------------------------------------------------------------------------------------------
// SpecAugment masks
// ---------------------------------------------------------------------------------------------

/** One mask: `width` mel rows ('freq') or frames ('time') starting at `start`. */
export interface MaskBand {
  axis: 'freq' | 'time';
  start: number;
  width: number;
}

/** What SpecAugment drew for one sample; `fill` is the resolved value written. */
export interface SpecAugmentDraw {
  applied: boolean;
  masks: MaskBand[];
  fill: number;
}

/** The fill value for one sample's image `[height][width]` (0..1): 0, its mean, or a constant. */
export function resolveFill(image: Float32Array, fill: MaskFill): number {
  if (fill === 'zero') return 0;
  if (fill === 'mean') {
    let s = 0;
    for (let i = 0; i < image.length; i++) s += image[i];
    return image.length ? s / image.length : 0;
  }
  return fill;
}

/**
 * Deterministic SpecAugment: writes each sample's `fill` over its mask bands (a 'freq' band =
 * whole mel rows, a 'time' band = whole frames). Targets are copied unchanged.
 */
export function specAugmentApply(x: Float32Array, y: Float32Array, shape: BatchShape, draws: SpecAugmentDraw[]): { x: Float32Array; y: Float32Array } {
  checkBatch(x, y, shape);
  const { batch, height: H, width: W } = shape;
  if (draws.length !== batch) throw new Error(`draws length must be batch = ${batch}, got ${draws.length}`);
  const plane = H * W;
  const xo = x.slice();
  draws.forEach((d, i) => {
    if (!d.applied) return;
    checkFinite01(`draws[${i}].fill`, d.fill);
    const base = i * plane;
    for (const m of d.masks) {
      const limit = m.axis === 'freq' ? H : W;
      checkInteger(`draws[${i}] mask width`, m.width);
      checkInteger(`draws[${i}] mask start`, m.start);
      if (m.start + m.width > limit) throw new Error(`draws[${i}]: ${m.axis} mask start + width must be <= ${limit}, got ${m.start} + ${m.width}`);
      if (m.axis === 'freq') xo.fill(d.fill, base + m.start * W, base + (m.start + m.width) * W);
      else for (let r = 0; r < H; r++) xo.fill(d.fill, base + r * W + m.start, base + r * W + m.start + m.width);
    }
  });
  return { x: xo, y: y.slice() };
}

function checkFinite01(name: string, v: number): void {
  checkInRange(name, v, 0, 1);
}

/**
 * SpecAugment frequency and time masks (Park et al. 2019, without time warping): for each
 * sample with probability `cfg.p`, `freqMasks` bands of width U{0..freqMaxWidth} mel rows and
 * `timeMasks` bands of width U{0..timeMaxWidth} frames, start uniform over the valid range,
 * filled with `cfg.fill` (0, the sample's mean before masking, or a constant in 0..1).
 * Widths are capped at the image size.
 */
export function specAugment(x: Float32Array, y: Float32Array, shape: BatchShape, cfg: AugmentConfig['specAugment'], rng: Rng): BatchAugmentResult<SpecAugmentDraw> {
  checkBatch(x, y, shape);
  checkSpecAugment(cfg);
  const { batch, height: H, width: W } = shape;
  const plane = H * W;
  const draws: SpecAugmentDraw[] = [];
  const active = cfg.enabled && cfg.p > 0;
  for (let i = 0; i < batch; i++) {
    if (!active || !rng.chance(cfg.p)) {
      draws.push({ applied: false, masks: [], fill: 0 });
      continue;
    }
    const masks: MaskBand[] = [];
    const band = (axis: 'freq' | 'time', count: number, maxWidth: number, limit: number) => {
      for (let k = 0; k < count; k++) {
        const width = rng.int(Math.min(maxWidth, limit) + 1);
        masks.push({ axis, start: rng.int(limit - width + 1), width });
      }
    };
    band('freq', cfg.freqMasks, cfg.freqMaxWidth, H);
    band('time', cfg.timeMasks, cfg.timeMaxWidth, W);
    draws.push({ applied: true, masks, fill: resolveFill(x.subarray(i * plane, (i + 1) * plane), cfg.fill) });
  }
  return { ...specAugmentApply(x, y, shape, draws), draws };
}

// ---------------------------------------------------------------------------------------------
// Random erasing
// ---------------------------------------------------------------------------------------------

/** What random erasing drew for one sample: the rectangle and its fill (a number or 'random'). */
export interface ErasingDraw {
  applied: boolean;
  top: number;
  left: number;
  height: number;
  width: number;
  fill: number | 'random';
}

/** Attempts at drawing a rectangle that fits before giving up on a sample (the paper's loop). */
const ERASING_ATTEMPTS = 10;

/**
 * Random erasing (Zhong et al. 2017; FAT2018 8th place): for each sample with probability
 * `cfg.p`, area S ~ U(minArea, maxArea)·H·W and aspect r log-uniform in [minAspect, maxAspect];
 * rectangle rows = round(√(S·r)), cols = round(√(S/r)); retried up to 10 times until it fits,
 * placed uniformly; filled with i.i.d. U(0, 1) values ('random'), 0, the sample's mean or a
 * constant. Targets unchanged.
 */
export function randomErasing(x: Float32Array, y: Float32Array, shape: BatchShape, cfg: AugmentConfig['randomErasing'], rng: Rng): BatchAugmentResult<ErasingDraw> {
  checkBatch(x, y, shape);
  checkToggle('randomErasing', cfg);
  checkInRange('randomErasing.minArea', cfg.minArea, 0, 1);
  checkInRange('randomErasing.maxArea', cfg.maxArea, cfg.minArea, 1);
  checkPositive('randomErasing.minAspect', cfg.minAspect);
  checkPositive('randomErasing.maxAspect', cfg.maxAspect);
  checkFill('randomErasing.fill', cfg.fill, true);
  const { batch, height: H, width: W } = shape;
  const plane = H * W;
  const xo = x.slice();
  const draws: ErasingDraw[] = [];
  const active = cfg.enabled && cfg.p > 0;
  const none: ErasingDraw = { applied: false, top: 0, left: 0, height: 0, width: 0, fill: 0 };
  for (let i = 0; i < batch; i++) {
    if (!active || !rng.chance(cfg.p)) {
      draws.push({ ...none });
      continue;
    }
    let drawn: ErasingDraw | null = null;
    for (let attempt = 0; attempt < ERASING_ATTEMPTS && !drawn; attempt++) {
      const area = rng.range(cfg.minArea, cfg.maxArea) * plane;
      const aspect = Math.exp(rng.range(Math.log(cfg.minAspect), Math.log(cfg.maxAspect)));
      const rows = Math.round(Math.sqrt(area * aspect));
      const cols = Math.round(Math.sqrt(area / aspect));
      if (rows < 1 || cols < 1 || rows > H || cols > W) continue;
      const top = rng.int(H - rows + 1);
      const left = rng.int(W - cols + 1);
      const image = x.subarray(i * plane, (i + 1) * plane);
      const fill = cfg.fill === 'random' ? 'random' : resolveFill(image, cfg.fill);
      drawn = { applied: true, top, left, height: rows, width: cols, fill };
    }
    if (!drawn) {
      draws.push({ ...none });
      continue;
    }
    const base = i * plane;
    for (let r = drawn.top; r < drawn.top + drawn.height; r++) {
      const off = base + r * W + drawn.left;
      if (drawn.fill === 'random') for (let c = 0; c < drawn.width; c++) xo[off + c] = rng.uniform();
      else xo.fill(drawn.fill, off, off + drawn.width);
    }
    draws.push(drawn);
  }
  return { x: xo, y: y.slice(), draws };
}
