/** Audio I/O: WAV/FLAC decoding, mono mix-down, resampy-compatible resampling. */
export { parseWavHeader, decodeWav, encodeWavPcm16, readWavInfo, type WavInfo, type DecodedWav } from './wav';
export { resample, kaiserBestWindow, besselI0, KAISER_BEST } from './resample';
export {
  loadAudioFile,
  loadWavFileSync,
  decodeAudio,
  decodeFlac,
  audioToMono,
  toMono,
  type LoadAudioOptions,
  type DecodedAudio,
} from './load';
