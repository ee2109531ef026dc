/**
 * Training augmentation (SPEC "Augmentation"): batch-level mixup, SpecMix, SpecAugment, random
 * erasing; sample-level crop (uniform or strength-adaptive), zoom, lighting; waveform gain,
 * shift, stretch, pitch, noise, fade, reverb, bass/treble/equalize; the training-batch pipeline
 * for lib/train (`batchMaker`) and a notebook preview. Config: `AugmentConfig` in lib/config.ts.
 */
export {
  mixup, mixupApply, specMix, specMixApply, specMixArea, drawSpecMix, specAugment, specAugmentApply, randomErasing,
  resolveFill, checkBatch,
  type BatchShape, type BatchAugmentResult, type MixupDraw, type SpecMixDraw, type SpecAugmentDraw, type MaskBand, type ErasingDraw,
} from './batch';
export {
  windowEnergies, chooseCropStart, cropImage, zoomImage, randomZoom, adjustLighting, randomLighting,
  type ZoomParams, type LightingParams,
} from './image';
export {
  gain, timeShift, fade, timeStretch, pitchShift, coloredNoise, addNoise, reverbImpulse, fftConvolve, reverb,
  lowShelfCoefficients, highShelfCoefficients, peakingCoefficients, biquadMagnitude, biquad, bass, treble, equalize,
  VOCODER_N_FFT, VOCODER_HOP,
  type WaveformTransform, type FadeShape, type NoiseColor, type BiquadCoefficients,
} from './waveform';
export {
  applyWaveformAug, augmentWaveform, waveformActive, imageFromAugmentedWaveform, makeTrainingBatch, batchMaker, WAVEFORM_AUG_ORDER,
  type AugmentResources, type WaveformDraw, type WaveformAugName, type SampleDraws, type TrainingBatchDraws, type TrainingBatch,
} from './pipeline';
export { previewAugmentations, type AugmentPreview, type PreviewOptions } from './preview';
export { validateAugmentConfig } from './validate';
export { AUGMENT_DEFAULTS, type AugmentConfig, type AugmentToggle, type MaskFill, type WaveformAugmentConfig } from '../config';
