/**
 * Feature extraction (SPEC preprocessing): trim, pad, STFT, Slaney mel filterbank, dB and the
 * uint8 clip image, reproducing the librosa 0.6.3 reference (see tests/fixtures/golden).
 */
export type { ClipImage, Uint8ClipImage, Matrix, Matrix64 } from './types';
export { trimSilence, padCentered, reflectIndex, type TrimOptions, type TrimResult } from './trim';
export { RealFft } from './fft';
export {
  stft,
  powerSpectrogram,
  hannWindow,
  frameCount,
  StftPlan,
  type StftOptions,
  type ComplexSpectrogram,
} from './stft';
export {
  melFilterbank,
  melFilterbankFloat32,
  sparseMelFilterbank,
  melBandEdges,
  hzToMel,
  melToHz,
  type MelOptions,
  type SparseMel,
} from './mel';
export { powerToDb, dbToImage, pairwiseSumF32, numpySumF32, type PowerToDbOptions, type ImageOptions } from './image';
export {
  melSpectrogram,
  logMelSpectrogram,
  trimClip,
  imageFromTrimmed,
  clipImageFromSamples,
  type LogMelConfig,
} from './logmel';
