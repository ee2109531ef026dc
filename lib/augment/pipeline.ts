/**
 * The training-batch pipeline: per clip (waveform augmentations → image) → crop → zoom →
 * lighting, then on the batch mixup → SpecMix → SpecAugment → random erasing.
 * `batchMaker` plugs it into lib/train's fit loop (`makeBatch` option).
 */
import { AUGMENT_DEFAULTS, PREPROCESS_DEFAULTS, type AugmentConfig, type PreprocessConfig, type WaveformAugmentConfig } from '../config';
import type { TrainingClip } from '../data/types';
import { imageFromTrimmed } from '../features/logmel';
import type { ClipImage } from '../features/types';
import type { Rng } from '../util/rng';
import {
  mixup,
  randomErasing,
  specAugment,
  specMix,
  type BatchShape,
  type ErasingDraw,
  type MixupDraw,
  type SpecAugmentDraw,
  type SpecMixDraw,
} from './batch';
import { chooseCropStart, cropImage, randomLighting, randomZoom, type LightingParams, type ZoomParams } from './image';
import { checkInteger, isActive, validateAugmentConfig } from './validate';
import {
  addNoise,
  bass,
  coloredNoise,
  equalize,
  fade,
  gain,
  pitchShift,
  reverb,
  timeShift,
  timeStretch,
  treble,
  type NoiseColor,
} from './waveform';

/** Inputs that are not config values: noise clips for `waveform.noise.source` 'clips'/'mixed'. */
export interface AugmentResources {
  /** Background noise clips at the preprocessing sample rate, each `[n]` (n ≥ 1). */
  noiseClips?: Float32Array[];
}

// ---------------------------------------------------------------------------------------------
// Waveform chain
// ---------------------------------------------------------------------------------------------

/** One applied waveform augmentation and the parameters drawn for it. */
export interface WaveformDraw {
  name: WaveformAugName;
  params: Record<string, number | string>;
}

/** Names of the waveform augmentations, in the order {@link augmentWaveform} applies them. */
export const WAVEFORM_AUG_ORDER = [
  'gain',
  'timeStretch',
  'pitchShift',
  'timeShift',
  'bass',
  'treble',
  'equalize',
  'reverb',
  'noise',
  'fade',
] as const;
export type WaveformAugName = (typeof WAVEFORM_AUG_ORDER)[number];

/**
 * Applies ONE waveform augmentation with parameters drawn from its config section (ignoring
 * its `enabled`/`p`: the caller decides). Noise picks a clip from `resources.noiseClips`
 * (random clip, random offset, looped) or generates coloured noise, per `cfg.noise.source`.
 *
 * @param signal `[n]` at `sampleRate`, @returns the new signal and the drawn parameters
 */
export function applyWaveformAug(
  name: WaveformAugName,
  signal: Float32Array,
  sampleRate: number,
  cfg: WaveformAugmentConfig,
  rng: Rng,
  resources: AugmentResources = {},
): { signal: Float32Array; draw: WaveformDraw } {
  const n = signal.length;
  switch (name) {
    case 'gain': {
      const gainDb = rng.range(cfg.gain.minDb, cfg.gain.maxDb);
      return { signal: gain(signal, sampleRate, { gainDb }), draw: { name, params: { gainDb } } };
    }
    case 'timeStretch': {
      const stretch = rng.range(cfg.timeStretch.minStretch, cfg.timeStretch.maxStretch);
      return { signal: timeStretch(signal, sampleRate, { stretch }), draw: { name, params: { stretch } } };
    }
    case 'pitchShift': {
      const m = cfg.pitchShift.maxSemitones;
      const semitones = rng.range(-m, m);
      return { signal: pitchShift(signal, sampleRate, { semitones }), draw: { name, params: { semitones } } };
    }
    case 'timeShift': {
      const maxShift = Math.floor(cfg.timeShift.maxFraction * n);
      const shiftSamples = rng.int(2 * maxShift + 1) - maxShift;
      return { signal: timeShift(signal, sampleRate, { shiftSamples }), draw: { name, params: { shiftSamples } } };
    }
    case 'bass':
    case 'treble': {
      const section = cfg[name];
      const gainDb = rng.range(-section.maxGainDb, section.maxGainDb);
      const frequency = Math.min(section.frequency, 0.45 * sampleRate);
      const fn = name === 'bass' ? bass : treble;
      return { signal: fn(signal, sampleRate, { gainDb, frequency }), draw: { name, params: { gainDb, frequency } } };
    }
    case 'equalize': {
      const e = cfg.equalize;
      const hi = Math.min(e.maxFrequency, 0.45 * sampleRate);
      const lo = Math.min(e.minFrequency, hi);
      const frequency = Math.exp(rng.range(Math.log(lo), Math.log(hi)));
      const gainDb = rng.range(-e.maxGainDb, e.maxGainDb);
      return { signal: equalize(signal, sampleRate, { frequency, gainDb, q: e.q }), draw: { name, params: { frequency, gainDb, q: e.q } } };
    }
    case 'reverb': {
      const rt60 = rng.range(cfg.reverb.minRt60, cfg.reverb.maxRt60);
      const wet = rng.range(cfg.reverb.minWet, cfg.reverb.maxWet);
      return { signal: reverb(signal, sampleRate, { rt60, wet }, rng), draw: { name, params: { rt60, wet } } };
    }
    case 'noise': {
      const nz = cfg.noise;
      const snrDb = rng.range(nz.minSnrDb, nz.maxSnrDb);
      const clips = resources.noiseClips ?? [];
      if (nz.source === 'clips' && clips.length === 0) throw new Error("waveform.noise.source is 'clips' but no noiseClips were given");
      const useClip = clips.length > 0 && (nz.source === 'clips' || (nz.source === 'mixed' && rng.chance(0.5)));
      if (useClip) {
        const index = rng.int(clips.length);
        const clip = clips[index];
        if (!clip || clip.length === 0) throw new Error(`noiseClips[${index}] is empty`);
        const offset = rng.int(clip.length);
        return { signal: addNoise(signal, sampleRate, { snrDb, noise: clip, offset }), draw: { name, params: { snrDb, clip: index, offset } } };
      }
      const colors: NoiseColor[] = ['white', 'pink', 'brown'];
      const color = nz.color === 'random' ? colors[rng.int(3)] : nz.color;
      const noise = coloredNoise(Math.max(1, n), color, rng);
      return { signal: addNoise(signal, sampleRate, { snrDb, noise }), draw: { name, params: { snrDb, color } } };
    }
    case 'fade': {
      const inSamples = Math.floor(rng.range(0, cfg.fade.maxInFraction) * n);
      const outSamples = Math.floor(rng.range(0, cfg.fade.maxOutFraction) * n);
      return {
        signal: fade(signal, sampleRate, { inSamples, outSamples, shape: cfg.fade.shape }),
        draw: { name, params: { inSamples, outSamples, shape: cfg.fade.shape } },
      };
    }
    default:
      throw new Error(`unknown waveform augmentation ${JSON.stringify(name)}`);
  }
}

/**
 * The waveform chain: each augmentation of {@link WAVEFORM_AUG_ORDER} that is enabled is
 * applied with its probability p (draw order: chance, then its parameters). Returns the input
 * itself when `cfg.enabled` is false or nothing was applied.
 *
 * @param signal `[n]` at `sampleRate`; the output length differs only after time stretch
 */
export function augmentWaveform(
  signal: Float32Array,
  sampleRate: number,
  cfg: WaveformAugmentConfig,
  rng: Rng,
  resources: AugmentResources = {},
): { signal: Float32Array; draws: WaveformDraw[] } {
  const draws: WaveformDraw[] = [];
  if (!cfg.enabled || signal.length === 0) return { signal, draws };
  let s = signal;
  for (const name of WAVEFORM_AUG_ORDER) {
    if (!isActive(cfg[name]) || !rng.chance(cfg[name].p)) continue;
    const r = applyWaveformAug(name, s, sampleRate, cfg, rng, resources);
    s = r.signal;
    draws.push(r.draw);
  }
  return { signal: s, draws };
}

/** True when the waveform chain could change anything (master switch and one active aug). */
export function waveformActive(cfg: WaveformAugmentConfig): boolean {
  return cfg.enabled && WAVEFORM_AUG_ORDER.some((name) => isActive(cfg[name]));
}

/**
 * The image of an augmented waveform. `TrainingClip.waveform` is the clip's TRIMMED waveform,
 * so this is lib/features `imageFromTrimmed` (centred pad to minSamples → log-mel → uint8)
 * rather than `clipImageFromSamples`, which would trim again (a fade or shift can create new
 * leading silence, which the reference would not have trimmed at training time either).
 *
 * @param samples `[n]` at preprocess.sampleRate, @returns `[nMels][frames]` uint8
 */
export function imageFromAugmentedWaveform(samples: Float32Array, preprocess: PreprocessConfig): ClipImage {
  return imageFromTrimmed(samples, preprocess);
}

// ---------------------------------------------------------------------------------------------
// Training batch
// ---------------------------------------------------------------------------------------------

/** Per-sample draws of {@link makeTrainingBatch} (null = not applied). */
export interface SampleDraws {
  clip: number;
  waveform: WaveformDraw[];
  cropStart: number;
  zoom: ZoomParams | null;
  lighting: LightingParams | null;
}

/** Everything {@link makeTrainingBatch} drew, for tests and previews. */
export interface TrainingBatchDraws {
  samples: SampleDraws[];
  mixup: MixupDraw[] | null;
  specMix: SpecMixDraw[] | null;
  specAugment: SpecAugmentDraw[] | null;
  randomErasing: ErasingDraw[] | null;
}

/** A training batch: `x` `[batch][height][width]` in 0..1, `y` `[batch][numClasses]`. */
export interface TrainingBatch {
  x: Float32Array;
  y: Float32Array;
  batch: number;
  height: number;
  width: number;
  draws: TrainingBatchDraws;
}

const lengthRanges = new WeakMap<TrainingClip[], Map<string, [number, number]>>();

/**
 * The [low, high] percentiles (nearest rank) of the clips' lengths in frames, cached per clip
 * array (a training set is fixed for a fit).
 */
export function cropLengthRange(clips: TrainingClip[], lowPercentile: number, highPercentile: number): [number, number] {
  let cache = lengthRanges.get(clips);
  if (!cache) lengthRanges.set(clips, (cache = new Map()));
  const key = `${lowPercentile}/${highPercentile}`;
  let range = cache.get(key);
  if (!range) {
    const frames = clips.map((c) => c.image.frames).sort((a, b) => a - b);
    const at = (p: number) => frames[Math.min(frames.length - 1, Math.max(0, Math.ceil((p / 100) * frames.length) - 1))];
    range = [at(lowPercentile), at(highPercentile)];
    cache.set(key, range);
  }
  return range;
}

/** Frames [start, start + length) of an image (the whole image when it is shorter). */
function subImage(image: ClipImage, start: number, length: number): ClipImage {
  if (image.frames <= length) return image;
  const data = image.data instanceof Float32Array ? new Float32Array(image.nMels * length) : new Uint8Array(image.nMels * length);
  for (let m = 0; m < image.nMels; m++) data.set(image.data.subarray(m * image.frames + start, m * image.frames + start + length), m * length);
  return { nMels: image.nMels, frames: length, data };
}

/**
 * Builds one augmented training batch for `clips[indices[b]]`, b = 0..batch−1.
 *
 * Per clip, in index order: waveform chain (only when `cfg.waveform` is active and the clip has
 * a `waveform`; the image is then recomputed with {@link imageFromAugmentedWaveform}) → crop
 * start ({@link chooseCropStart}: uniform or strength-adaptive) → crop (clips narrower than
 * `cropFrames` padded per `cfg.shortClipPad`) → zoom → lighting. Then on the batch: mixup →
 * SpecMix → SpecAugment → random erasing, each only when enabled with p > 0.
 *
 * Disabled steps draw no randomness, so with everything disabled (or every p = 0) this is the
 * crop alone and reproduces lib/train's `randomCropBatch` exactly for the same rng state.
 *
 * @param clips all clips (images `[nMels][frames]` uint8, targets `[numClasses]`)
 * @param indices which clips, in batch order
 * @param preprocess the feature config for recomputed images (default PREPROCESS_DEFAULTS)
 * @returns x `[batch][nMels][cropFrames]` float32 in 0..1, y `[batch][numClasses]` float32
 */
export function makeTrainingBatch(
  clips: TrainingClip[],
  indices: number[],
  cropFrames: number,
  numClasses: number,
  cfg: AugmentConfig,
  rng: Rng,
  preprocess: PreprocessConfig = PREPROCESS_DEFAULTS,
  resources: AugmentResources = {},
): TrainingBatch {
  checkInteger('cropFrames', cropFrames, 1);
  checkInteger('numClasses', numClasses, 1);
  if (!Array.isArray(indices) || indices.length === 0) throw new Error(`indices must be a non-empty array, got ${JSON.stringify(indices)}`);
  validateAugmentConfig(cfg);
  const batch = indices.length;
  const first = clips[indices[0]];
  if (!first) throw new Error(`index ${indices[0]} out of range (${clips.length} clips)`);
  const height = first.image.nMels;
  const width = cropFrames;
  const plane = height * width;
  const wave = waveformActive(cfg.waveform);
  if (wave && preprocess.nMels !== height) throw new Error(`preprocess.nMels = ${preprocess.nMels} differs from the clip images' ${height} mel bands`);
  let x: Float32Array = new Float32Array(batch * plane);
  let y: Float32Array = new Float32Array(batch * numClasses);
  const samples: SampleDraws[] = [];
  // One crop length per batch (no draw at all when variable crops are off).
  let cropLength = cropFrames;
  if (cfg.variableCrop && isActive(cfg.variableCrop) && rng.chance(cfg.variableCrop.p)) {
    const [lo, hi] = cropLengthRange(clips, cfg.variableCrop.lowPercentile, cfg.variableCrop.highPercentile);
    cropLength = Math.max(1, Math.min(cropFrames, lo + rng.int(hi - lo + 1)));
  }
  indices.forEach((idx, b) => {
    const clip = clips[idx];
    if (!clip) throw new Error(`index ${idx} out of range (${clips.length} clips)`);
    if (clip.image.nMels !== height) throw new Error(`clip ${clip.fname} has ${clip.image.nMels} mel bands, expected ${height}`);
    if (clip.target.length !== numClasses) throw new Error(`clip ${clip.fname} target has ${clip.target.length} classes, expected numClasses = ${numClasses}`);
    let image = clip.image;
    let waveDraws: WaveformDraw[] = [];
    if (wave && clip.waveform && clip.waveform.length > 0) {
      const r = augmentWaveform(clip.waveform, preprocess.sampleRate, cfg.waveform, rng, resources);
      waveDraws = r.draws;
      if (r.draws.length > 0) image = imageFromAugmentedWaveform(r.signal, preprocess);
    }
    const cropStart = chooseCropStart(image, cropLength, cfg.strengthCrop, rng);
    let crop = cropLength === cropFrames
      ? cropImage(image, cropStart, cropFrames, cfg.shortClipPad)
      : cropImage(subImage(image, cropStart, cropLength), 0, cropFrames, cfg.shortClipPad);
    const z = randomZoom(crop, height, width, cfg.zoom, rng);
    crop = z.image;
    const l = randomLighting(crop, cfg.lighting, rng);
    crop = l.image;
    x.set(crop, b * plane);
    y.set(clip.target, b * numClasses);
    samples.push({ clip: idx, waveform: waveDraws, cropStart, zoom: z.params, lighting: l.params });
  });
  const shape: BatchShape = { batch, height, width };
  const draws: TrainingBatchDraws = { samples, mixup: null, specMix: null, specAugment: null, randomErasing: null };
  if (isActive(cfg.mixup)) {
    const r = mixup(x, y, shape, cfg.mixup, rng);
    ({ x, y } = r);
    draws.mixup = r.draws;
  }
  if (isActive(cfg.specMix)) {
    const r = specMix(x, y, shape, cfg.specMix, rng);
    ({ x, y } = r);
    draws.specMix = r.draws;
  }
  if (isActive(cfg.specAugment)) {
    const r = specAugment(x, y, shape, cfg.specAugment, rng);
    ({ x, y } = r);
    draws.specAugment = r.draws;
  }
  if (isActive(cfg.randomErasing)) {
    const r = randomErasing(x, y, shape, cfg.randomErasing, rng);
    ({ x, y } = r);
    draws.randomErasing = r.draws;
  }
  return { x, y, batch, height, width, draws };
}

/**
 * A `MakeBatch` for lib/train's `fit({ makeBatch })`: `(clips, indices, rng) => batch` running
 * {@link makeTrainingBatch} with this config. The config is validated once here.
 *
 * @example fit({ ..., makeBatch: batchMaker(withDefaults(AUGMENT_DEFAULTS, { specMix: { maxFraction: 0.3 } }), 128, 80) })
 */
export function batchMaker(
  cfg: AugmentConfig = AUGMENT_DEFAULTS,
  cropFrames = 128,
  numClasses = 80,
  preprocess: PreprocessConfig = PREPROCESS_DEFAULTS,
  resources: AugmentResources = {},
): (clips: TrainingClip[], indices: number[], rng: Rng) => TrainingBatch {
  validateAugmentConfig(cfg);
  checkInteger('cropFrames', cropFrames, 1);
  checkInteger('numClasses', numClasses, 1);
  return (clips, indices, rng) => makeTrainingBatch(clips, indices, cropFrames, numClasses, cfg, rng, preprocess, resources);
}
