/**
 * Notebook preview: the same clip under each augmentation, as data for a plot grid (lib/viz
 * `spectrogram` accepts both image kinds returned here).
 */
import { PREPROCESS_DEFAULTS, type AugmentConfig, type PreprocessConfig } from '../config';
import type { ClipImage, Matrix } from '../features/types';
import type { Rng } from '../util/rng';
import { drawSpecMix, mixupApply, randomErasing, specAugment, specMixApply } from './batch';
import { chooseCropStart, cropImage, randomLighting, randomZoom } from './image';
import { applyWaveformAug, imageFromAugmentedWaveform, WAVEFORM_AUG_ORDER, type AugmentResources } from './pipeline';
import { validateAugmentConfig } from './validate';
import { formatCompact } from '../util/format';

/** One preview panel: a title (with the drawn parameters), its image, and audio when it has one. */
export interface AugmentPreview {
  name: string;
  /** A full clip image (uint8) or a crop `[rows = nMels][cols = cropFrames]` in 0..1. */
  image: ClipImage | Matrix;
  audio?: Float32Array;
  sampleRate?: number;
}

/** Options of {@link previewAugmentations}. */
export interface PreviewOptions {
  cropFrames?: number;
  preprocess?: PreprocessConfig;
  /** The partner for mixup/SpecMix; default: the clip's own crop reversed in time. */
  partner?: { image: ClipImage };
  resources?: AugmentResources;
  /** Show only augmentations enabled in `cfg` (default: all, each forced on). */
  onlyEnabled?: boolean;
}


/**
 * The same clip under each augmentation, each forced on (probability 1) with parameters drawn
 * from `cfg`'s ranges: 'original' (full image, and audio when the clip has a waveform),
 * 'crop', 'strength-adaptive crop', 'zoom', 'lighting', 'mixup', 'SpecMix', 'SpecAugment',
 * 'random erasing' (crops `[nMels][cropFrames]` in 0..1), then every waveform augmentation
 * (full recomputed image + audio) when the clip has a waveform. Names carry the drawn
 * parameters, e.g. "SpecMix h=0.183 w=0.0712 a=0.241".
 */
export function previewAugmentations(
  clip: { image: ClipImage; waveform?: Float32Array },
  cfg: AugmentConfig,
  rng: Rng,
  options: PreviewOptions = {},
): AugmentPreview[] {
  validateAugmentConfig(cfg);
  const cropFrames = options.cropFrames ?? 128;
  const preprocess = options.preprocess ?? PREPROCESS_DEFAULTS;
  const show = (enabled: boolean) => !options.onlyEnabled || enabled;
  const { nMels } = clip.image;
  const H = nMels;
  const W = cropFrames;
  const mat = (data: Float32Array): Matrix => ({ rows: H, cols: W, data });
  const out: AugmentPreview[] = [];
  const sr = preprocess.sampleRate;
  out.push(clip.waveform ? { name: 'original', image: clip.image, audio: clip.waveform, sampleRate: sr } : { name: 'original', image: clip.image });

  const start = chooseCropStart(clip.image, cropFrames, { ...cfg.strengthCrop, enabled: false }, rng);
  const crop = cropImage(clip.image, start, cropFrames, cfg.shortClipPad);
  out.push({ name: `crop start=${start}`, image: mat(crop) });
  if (show(cfg.strengthCrop.enabled)) {
    const s = chooseCropStart(clip.image, cropFrames, { ...cfg.strengthCrop, enabled: true, p: 1 }, rng);
    out.push({ name: `strength-adaptive crop start=${s}`, image: mat(cropImage(clip.image, s, cropFrames, cfg.shortClipPad)) });
  }
  if (show(cfg.zoom.enabled)) {
    const z = randomZoom(crop, H, W, { ...cfg.zoom, enabled: true, p: 1 }, rng);
    out.push({ name: `zoom ×${formatCompact(z.params?.scale ?? 1)}`, image: mat(z.image) });
  }
  if (show(cfg.lighting.enabled)) {
    const l = randomLighting(crop, { ...cfg.lighting, enabled: true, p: 1 }, rng);
    const b = l.params?.brightness ?? 0.5;
    const c = l.params?.contrast ?? 1;
    out.push({ name: `lighting brightness=${formatCompact(b)} contrast=${formatCompact(c)}`, image: mat(l.image === crop ? crop.slice() : l.image) });
  }

  // Batch-level augmentations on a batch of two: [crop, partner], sample 0 paired with 1.
  let partnerCrop: Float32Array;
  if (options.partner) {
    partnerCrop = cropImage(options.partner.image, chooseCropStart(options.partner.image, cropFrames, { ...cfg.strengthCrop, enabled: false }, rng), cropFrames, cfg.shortClipPad);
    if (options.partner.image.nMels !== H) throw new Error(`partner has ${options.partner.image.nMels} mel bands, expected ${H}`);
  } else {
    partnerCrop = new Float32Array(H * W);
    for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) partnerCrop[r * W + c] = crop[r * W + (W - 1 - c)];
  }
  const pair = new Float32Array(2 * H * W);
  pair.set(crop, 0);
  pair.set(partnerCrop, H * W);
  const y2 = new Float32Array([1, 0, 0, 1]);
  const shape = { batch: 2, height: H, width: W };
  const first = (x: Float32Array) => x.slice(0, H * W);
  if (show(cfg.mixup.enabled)) {
    const l = rng.beta(cfg.mixup.alpha, cfg.mixup.alpha);
    const lambda = Math.max(l, 1 - l);
    const r = mixupApply(pair, y2, shape, [
      { applied: true, partner: 1, lambda },
      { applied: false, partner: 1, lambda: 1 },
    ]);
    out.push({ name: `mixup λ=${formatCompact(lambda)}`, image: mat(first(r.x)) });
  }
  if (show(cfg.specMix.enabled)) {
    const d = drawSpecMix(1, H, W, cfg.specMix.maxFraction, rng);
    const r = specMixApply(pair, y2, shape, [d, { ...d, applied: false }]);
    out.push({ name: `SpecMix h=${formatCompact(d.h)} w=${formatCompact(d.w)} a=${formatCompact(r.y[1])}`, image: mat(first(r.x)) });
  }
  const single = { batch: 1, height: H, width: W };
  const y1 = new Float32Array([1]);
  if (show(cfg.specAugment.enabled)) {
    const r = specAugment(crop, y1, single, { ...cfg.specAugment, enabled: true, p: 1 }, rng);
    const masks = r.draws[0].masks.map((m) => `${m.axis[0]}${m.start}+${m.width}`).join(' ');
    out.push({ name: `SpecAugment ${masks}`, image: mat(r.x) });
  }
  if (show(cfg.randomErasing.enabled)) {
    const r = randomErasing(crop, y1, single, { ...cfg.randomErasing, enabled: true, p: 1 }, rng);
    const d = r.draws[0];
    out.push({ name: d.applied ? `random erasing ${d.height}×${d.width} at (${d.top}, ${d.left})` : 'random erasing (no fit)', image: mat(r.x) });
  }

  if (clip.waveform && clip.waveform.length > 0 && show(cfg.waveform.enabled)) {
    for (const name of WAVEFORM_AUG_ORDER) {
      if (!show(cfg.waveform.enabled && cfg.waveform[name].enabled)) continue;
      if (name === 'noise' && cfg.waveform.noise.source === 'clips' && !(options.resources?.noiseClips?.length)) continue;
      const r = applyWaveformAug(name, clip.waveform, sr, cfg.waveform, rng, options.resources);
      const params = Object.entries(r.draw.params)
        .map(([k, v]) => `${k}=${typeof v === 'number' ? formatCompact(v) : v}`)
        .join(' ');
      out.push({ name: `${name} ${params}`, image: imageFromAugmentedWaveform(r.signal, preprocess), audio: r.signal, sampleRate: sr });
    }
  }
  return out;
}
