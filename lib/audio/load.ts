/**
 * Loading audio files as librosa.load(path, sr=44100, mono=True) does: decode, mix down to
 * mono with the float32 mean of the channels, resample other rates with resampy kaiser_best.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { decodeWav } from './wav';
import { resample } from './resample';
import { Md5 } from '../util/md5';
import { sniffAudioFormat, unsupportedFormatMessage } from './format';

/** Options of {@link loadAudioFile}. */
export interface LoadAudioOptions {
  /** Output sample rate in Hz (default 44100); other rates are resampled. null keeps the file's rate. */
  sampleRate?: number | null;
}

/** Decoded multi-channel audio: one Float32Array `[frames]` per channel. */
export interface DecodedAudio {
  sampleRate: number;
  channelData: Float32Array[];
}

/**
 * Mono mix-down `[frames]` of `channels` (each `[frames]`): numpy's float32 mean over the channel
 * axis, i.e. a float32 running sum divided by the channel count (for stereo exactly
 * `fround(L + R) / 2`, bit-identical to librosa.to_mono).
 */
export function toMono(channels: Float32Array[]): Float32Array {
  if (channels.length === 0) throw new Error('toMono: channels must not be empty');
  if (channels.length === 1) return channels[0];
  const n = channels[0].length;
  const out = new Float32Array(n);
  const c = channels.length;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < c; k++) s = Math.fround(s + channels[k][i]);
    out[i] = s / c;
  }
  return out;
}

let flacDecoderModule: { FLACDecoder: new () => FlacDecoder } | null = null;
interface FlacDecoder {
  ready: Promise<void>;
  decodeFile(data: Uint8Array): Promise<{ channelData: Float32Array[]; samplesDecoded: number; sampleRate: number; bitDepth?: number; errors: { message: string }[] }>;
  free(): void;
}

/** What a FLAC file's STREAMINFO block declares (null when the block is missing or short). */
function flacStreamInfo(bytes: Uint8Array): { sampleRate: number; channels: number; bitDepth: number; totalSamples: number; md5: Uint8Array } | null {
  // "fLaC", then the first metadata block: a 4-byte header (type 0 = STREAMINFO, length 34).
  if (bytes.length < 42 || (bytes[4] & 0x7f) !== 0) return null;
  const b = (i: number): number => bytes[8 + i];
  const sampleRate = (b(10) << 12) | (b(11) << 4) | (b(12) >> 4);
  const channels = ((b(12) >> 1) & 7) + 1;
  const bitDepth = (((b(12) & 1) << 4) | (b(13) >> 4)) + 1;
  const totalSamples = (b(13) & 0x0f) * 2 ** 32 + ((b(14) << 24) >>> 0) + (b(15) << 16) + (b(16) << 8) + b(17);
  return { sampleRate, channels, bitDepth, totalSamples, md5: bytes.slice(26, 42) };
}

/** MD5 of decoded samples as FLAC signs them: interleaved signed little-endian integers of `bitDepth` bits. */
function flacSamplesMd5(channels: Float32Array[], frames: number, bitDepth: number): string {
  const width = Math.ceil(bitDepth / 8);
  // The decoder scales by 2^(bits-1) − 1 (measured: 32767 → 1.0, −32768 → −1.00003).
  const scale = 2 ** (bitDepth - 1) - 1;
  const hash = new Md5();
  const chunkFrames = 4096;
  const buf = new Uint8Array(chunkFrames * channels.length * width);
  for (let start = 0; start < frames; start += chunkFrames) {
    const end = Math.min(frames, start + chunkFrames);
    let o = 0;
    for (let i = start; i < end; i++) {
      for (const ch of channels) {
        let v = Math.round(ch[i] * scale);
        for (let k = 0; k < width; k++, v >>= 8) buf[o++] = v & 0xff;
      }
    }
    hash.update(buf.subarray(0, o));
  }
  return Array.from(hash.digest(), (x) => x.toString(16).padStart(2, '0')).join('');
}

/**
 * Decodes FLAC bytes with @wasm-audio-decoders/flac. Errors name `name` and the reason. A
 * damaged stream is an error, never a shorter clip: the decoder skips a frame whose CRC fails
 * without a word, so the decoded length is checked against STREAMINFO's sample count, and the
 * samples against its MD5 signature (when the encoder wrote one).
 */
export async function decodeFlac(bytes: Uint8Array, name: string): Promise<DecodedAudio> {
  if (bytes.length === 0) throw new Error(`${name}: file is empty (0 bytes)`);
  if (bytes.length < 4 || String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]) !== 'fLaC') {
    throw new Error(`${name}: not a FLAC file: no "fLaC" marker`);
  }
  // ESM-only package, loaded by import(): tsx keeps it native, so tsx's require hook does not
  // lex the package's ~100 KB of JS; that lexing grows a WebAssembly.Memory, which detaches an
  // ArrayBuffer and makes V8 slow every typed-array access in the thread by ~25 % for good
  // (see bench/featuresThread.ts). Under tslab's CommonJS, TypeScript turns it into a require().
  flacDecoderModule ??= (await import('@wasm-audio-decoders/flac')) as unknown as { FLACDecoder: new () => FlacDecoder };
  const decoder = new flacDecoderModule.FLACDecoder();
  try {
    await decoder.ready;
    const r = await decoder.decodeFile(bytes);
    if (r.errors.length > 0) throw new Error(`${name}: FLAC decode error: ${r.errors[0].message}`);
    if (r.samplesDecoded === 0 || r.channelData.length === 0) throw new Error(`${name}: FLAC stream holds no samples`);
    const info = flacStreamInfo(bytes);
    if (info && info.totalSamples > 0 && r.samplesDecoded !== info.totalSamples) {
      const sec = (n: number) => `${(n / info.sampleRate).toFixed(2)} s`;
      throw new Error(`${name}: damaged FLAC: decoded ${r.samplesDecoded} of the ${info.totalSamples} samples its header declares ` +
        `(${sec(r.samplesDecoded)} of ${sec(info.totalSamples)}): a frame failed its CRC check or could not be decoded; re-encode or replace the file`);
    }
    // float32 holds integers of up to 24 bits exactly: deeper samples cannot be checked this way.
    if (info && info.md5.some((x) => x !== 0) && info.bitDepth <= 24 && info.bitDepth === (r.bitDepth ?? info.bitDepth)) {
      const want = Array.from(info.md5, (x) => x.toString(16).padStart(2, '0')).join('');
      const got = flacSamplesMd5(r.channelData, r.samplesDecoded, info.bitDepth);
      if (got !== want) throw new Error(`${name}: damaged FLAC: the decoded audio does not match the MD5 signature in its header (${got} vs ${want}); re-encode or replace the file`);
    }
    return { sampleRate: r.sampleRate, channelData: r.channelData.map((ch) => ch.subarray(0, r.samplesDecoded)) };
  } finally {
    decoder.free();
  }
}

/**
 * Decodes WAV or FLAC bytes (by magic number) into per-channel float32 samples.
 * Throws an Error naming `name` and the reason when the bytes are not valid audio.
 */
export async function decodeAudio(bytes: Uint8Array, name: string): Promise<DecodedAudio> {
  if (bytes.length >= 4 && bytes[0] === 0x66 && bytes[1] === 0x4c && bytes[2] === 0x61 && bytes[3] === 0x43) {
    return decodeFlac(bytes, name);
  }
  // No node:path here: the browser page decodes with this function too.
  if (/\.flac$/i.test(name)) return decodeFlac(bytes, name);
  // MP3, OGG... are named as such (as preprocess names them), not "no RIFF/WAVE header".
  const format = sniffAudioFormat(bytes.subarray(0, 16));
  if (format !== 'WAV' && format !== 'unknown') throw new Error(unsupportedFormatMessage(bytes.subarray(0, 16), name) ?? `${name}: ${format}`);
  return decodeWav(bytes, name);
}

/**
 * Converts decoded audio to mono at `sampleRate` (librosa.load semantics: mean of the
 * channels in float32, then resampy kaiser_best). Throws if the audio holds no samples.
 *
 * @returns mono samples `[frames · sampleRate / fileRate]`, float32
 */
export function audioToMono(audio: DecodedAudio, name: string, sampleRate: number | null = 44100): Float32Array {
  const frames = audio.channelData[0]?.length ?? 0;
  if (frames === 0) throw new Error(`${name}: audio holds no samples (0 frames)`);
  const mono = toMono(audio.channelData);
  if (sampleRate === null || sampleRate === audio.sampleRate) return mono;
  if (!(sampleRate > 0)) throw new Error(`sampleRate must be > 0, got ${sampleRate}`);
  return resample(mono, audio.sampleRate, sampleRate);
}

/**
 * Loads an audio file (WAV: PCM 8/16/24/32-bit, float 32/64, extensible; FLAC) as mono float32
 * at `sampleRate` Hz, like `librosa.load(path, sr=44100, mono=True)`.
 * Errors (missing, empty, random bytes, truncated) name the file and the reason.
 *
 * @returns mono samples `[n]`, nominally in [-1, 1)
 */
export async function loadAudioFile(path: string, options: LoadAudioOptions = {}): Promise<Float32Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new Error(`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const audio = await decodeAudio(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
  return audioToMono(audio, path, options.sampleRate === undefined ? 44100 : options.sampleRate);
}

/** Synchronous {@link loadAudioFile} for WAV files only (FLAC decoding is asynchronous). */
export function loadWavFileSync(path: string, options: LoadAudioOptions = {}): Float32Array {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const audio = decodeWav(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
  return audioToMono(audio, path, options.sampleRate === undefined ? 44100 : options.sampleRate);
}
