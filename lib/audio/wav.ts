/**
 * A small RIFF/WAVE reader: PCM 8/16/24/32-bit, IEEE float 32/64, and WAVE_FORMAT_EXTENSIBLE
 * with a PCM or float sub-format. Samples are scaled as soundfile/libsndfile does (what
 * librosa.load used for the golden fixtures): int16 / 2^15, int24 / 2^23, int32 / 2^31,
 * unsigned 8-bit (b - 128) / 2^7, float as stored.
 *
 * Own parser rather than `wavefile`: it reads only what it needs (a header without the data
 * for {@link readWavInfo}), decodes straight into a Float32Array without intermediate copies,
 * and names the file and the problem when the input is not a valid WAV.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Header facts of a WAV file. */
export interface WavInfo {
  /** Frames per second. */
  sampleRate: number;
  channels: number;
  /** Container bits per sample (8, 16, 24, 32 or 64). */
  bitsPerSample: number;
  /** 1 = integer PCM, 3 = IEEE float (the sub-format for WAVE_FORMAT_EXTENSIBLE files). */
  sampleFormat: 1 | 3;
  /** True when the fmt chunk is WAVE_FORMAT_EXTENSIBLE (0xFFFE). */
  extensible: boolean;
  /** Sample frames in the data chunk (one sample per channel each). */
  frames: number;
  /** frames / sampleRate, in seconds. */
  durationSec: number;
  /** Byte offset of the first sample in the file and byte length of the declared data. */
  dataOffset: number;
  dataBytes: number;
}

/** Decoded WAV: one Float32Array per channel, each `[frames]`, values nominally in [-1, 1). */
export interface DecodedWav extends WavInfo {
  channelData: Float32Array[];
}

/** Thrown by {@link parseWavHeader} when `bytes` is a prefix of the file that ends too early. */
const NEED_MORE = new Error('need more header bytes');

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

function fail(name: string, reason: string): never {
  throw new Error(`${name}: ${reason}`);
}

/**
 * Parses the RIFF header of a WAV held (at least up to its data chunk) in `bytes`.
 * `totalBytes` is the file's full size, used to detect a data chunk cut short.
 * Throws an Error naming `name` and the problem for anything that is not a readable WAV.
 */
export function parseWavHeader(bytes: Uint8Array, name: string, totalBytes = bytes.length): WavInfo {
  if (totalBytes === 0) fail(name, 'file is empty (0 bytes)');
  if (totalBytes < 12) fail(name, `not a WAV file: only ${totalBytes} bytes, too short for a RIFF header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (off: number) => String.fromCharCode(bytes[off], bytes[off + 1], bytes[off + 2], bytes[off + 3]);
  const riff = tag(0);
  if (riff === 'RIFX' || riff === 'RF64') fail(name, `unsupported WAV container "${riff}" (only little-endian RIFF)`);
  if (riff !== 'RIFF' || tag(8) !== 'WAVE') fail(name, 'not a WAV file: no RIFF/WAVE header');

  let fmt: { formatTag: number; channels: number; sampleRate: number; blockAlign: number; bits: number; sub: number } | null = null;
  let off = 12;
  for (;;) {
    if (off + 8 > totalBytes) {
      fail(name, fmt ? 'truncated or invalid WAV: the file ends before a data chunk' : 'truncated or invalid WAV: the file ends before a fmt chunk');
    }
    if (off + 8 > bytes.length) throw NEED_MORE;
    const id = tag(off);
    const size = view.getUint32(off + 4, true);
    const body = off + 8;
    if (id === 'fmt ') {
      if (size < 16) fail(name, `invalid fmt chunk: size ${size} < 16`);
      if (body + size > totalBytes) fail(name, 'truncated WAV: header cut inside the fmt chunk');
      if (body + size > bytes.length) throw NEED_MORE;
      const formatTag = view.getUint16(body, true);
      const channels = view.getUint16(body + 2, true);
      const sampleRate = view.getUint32(body + 4, true);
      const blockAlign = view.getUint16(body + 12, true);
      const bits = view.getUint16(body + 14, true);
      let sub = formatTag;
      if (formatTag === WAVE_FORMAT_EXTENSIBLE) {
        if (size < 40) fail(name, `invalid WAVE_FORMAT_EXTENSIBLE fmt chunk: size ${size} < 40`);
        // The sub-format GUID starts with the plain format tag (KSDATAFORMAT_SUBTYPE_PCM = 1, _IEEE_FLOAT = 3).
        sub = view.getUint16(body + 24, true);
      }
      fmt = { formatTag, channels, sampleRate, blockAlign, bits, sub };
    } else if (id === 'data') {
      if (!fmt) fail(name, 'invalid WAV: data chunk before the fmt chunk');
      const { channels, sampleRate, bits, sub, blockAlign, formatTag } = fmt;
      if (sub !== WAVE_FORMAT_PCM && sub !== WAVE_FORMAT_IEEE_FLOAT) {
        fail(name, `unsupported WAV sample format 0x${sub.toString(16)}${formatTag === WAVE_FORMAT_EXTENSIBLE ? ' (extensible sub-format)' : ''}: only PCM and IEEE float`);
      }
      if (channels < 1) fail(name, `invalid WAV: channels must be >= 1, got ${channels}`);
      if (sampleRate < 1) fail(name, `invalid WAV: sampleRate must be >= 1, got ${sampleRate}`);
      const okBits = sub === WAVE_FORMAT_PCM ? [8, 16, 24, 32] : [32, 64];
      if (!okBits.includes(bits)) fail(name, `unsupported WAV: ${bits}-bit ${sub === WAVE_FORMAT_PCM ? 'PCM' : 'float'} (supported: ${okBits.join(', ')})`);
      const frameBytes = (bits / 8) * channels;
      if (blockAlign !== frameBytes) fail(name, `invalid WAV: blockAlign ${blockAlign} != channels × bytes per sample = ${frameBytes}`);
      const available = Math.max(0, totalBytes - body);
      if (size > available) {
        fail(name, `truncated WAV: data chunk declares ${size} bytes but only ${available} are present`);
      }
      checkAfterData(bytes, view, name, body, size, totalBytes);
      const frames = Math.floor(size / frameBytes);
      return {
        sampleRate,
        channels,
        bitsPerSample: bits,
        sampleFormat: sub as 1 | 3,
        extensible: formatTag === WAVE_FORMAT_EXTENSIBLE,
        frames,
        durationSec: frames / sampleRate,
        dataOffset: body,
        dataBytes: size,
      };
    }
    // Chunks are word-aligned: an odd-sized chunk is followed by one pad byte.
    off = body + size + (size & 1);
  }
}

/**
 * A data chunk that declares fewer bytes than follow it is fine when the rest are other RIFF
 * chunks (LIST, id3, cue…); when they are not, the declared size disagrees with the file (a
 * writer that did not patch the header, a damaged file) and reading it would silently drop
 * the audio: an error, naming both sizes. Checked only when `bytes` holds the trailing bytes
 * (always for {@link decodeWav}; header-only reads skip it).
 */
function checkAfterData(bytes: Uint8Array, view: DataView, name: string, body: number, size: number, totalBytes: number): void {
  let off = body + size + (size & 1);
  if (totalBytes - off <= 1 || bytes.length < totalBytes) return; // at most a pad byte, or not loaded
  while (totalBytes - off >= 8) {
    let printable = true;
    for (let i = 0; i < 4; i++) printable &&= bytes[off + i] >= 0x20 && bytes[off + i] <= 0x7e;
    const chunkSize = view.getUint32(off + 4, true);
    if (!printable || off + 8 + chunkSize > totalBytes) break;
    off += 8 + chunkSize + (chunkSize & 1);
  }
  if (totalBytes - off <= 1) return;
  const rest = totalBytes - body;
  fail(name, `WAV header disagrees with the file: the data chunk declares ${size} bytes but ${rest} bytes of audio data follow its header ` +
    `(${rest - size} bytes are not a RIFF chunk); the file is damaged or its writer did not update the header`);
}

/** Names the first non-finite sample of a float WAV: NaN or ±Inf would poison every feature. */
function checkFinite(channels: Float32Array[], name: string): void {
  for (let c = 0; c < channels.length; c++) {
    const ch = channels[c];
    for (let i = 0; i < ch.length; i++) {
      if (!Number.isFinite(ch[i])) {
        let count = 0;
        for (const other of channels) for (let j = 0; j < other.length; j++) if (!Number.isFinite(other[j])) count++;
        fail(name, `${count} non-finite sample(s) (NaN or ±Infinity) in the float data, the first ${ch[i]} at frame ${i} of channel ${c}: the file is damaged`);
      }
    }
  }
}

/**
 * Decodes a whole WAV file held in `bytes` into per-channel float32 samples.
 * Throws an Error naming `name` and the reason on any malformed or unsupported input.
 */
export function decodeWav(bytes: Uint8Array, name: string): DecodedWav {
  const info = parseWavHeader(bytes, name);
  const { channels, frames, bitsPerSample: bits, sampleFormat, dataOffset } = info;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Float32Array[] = [];
  for (let c = 0; c < channels; c++) out.push(new Float32Array(frames));
  const bps = bits / 8;
  const stride = bps * channels;
  for (let c = 0; c < channels; c++) {
    const dst = out[c];
    let p = dataOffset + c * bps;
    if (sampleFormat === WAVE_FORMAT_IEEE_FLOAT) {
      if (bits === 32) for (let i = 0; i < frames; i++, p += stride) dst[i] = view.getFloat32(p, true);
      else for (let i = 0; i < frames; i++, p += stride) dst[i] = view.getFloat64(p, true);
    } else if (bits === 16) {
      for (let i = 0; i < frames; i++, p += stride) dst[i] = view.getInt16(p, true) / 32768;
    } else if (bits === 24) {
      for (let i = 0; i < frames; i++, p += stride) {
        const v = bytes[p] | (bytes[p + 1] << 8) | (bytes[p + 2] << 16);
        dst[i] = ((v << 8) >> 8) / 8388608; // sign-extend 24 → 32 bits
      }
    } else if (bits === 32) {
      for (let i = 0; i < frames; i++, p += stride) dst[i] = view.getInt32(p, true) / 2147483648;
    } else {
      for (let i = 0; i < frames; i++, p += stride) dst[i] = (bytes[p] - 128) / 128;
    }
  }
  if (sampleFormat === WAVE_FORMAT_IEEE_FLOAT) checkFinite(out, name);
  return { ...info, channelData: out };
}

/**
 * Reads only the header of a WAV file (sample rate, channels, bit depth, frames, duration):
 * fast enough to scan a whole dataset for a duration histogram.
 */
export function readWavInfo(path: string): WavInfo {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new Error(`${path}: cannot open: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const total = fstatSync(fd).size;
    // Headers are small, but some writers put LIST/bext chunks before the data: grow if needed.
    let size = Math.min(total, 4096);
    for (;;) {
      const buf = new Uint8Array(size);
      const n = readSync(fd, buf, 0, size, 0);
      try {
        return parseWavHeader(buf.subarray(0, n), path, total);
      } catch (err) {
        if (err !== NEED_MORE || size >= total) throw err;
        size = Math.min(total, size * 8);
      }
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Encodes mono or multi-channel float samples (each `[frames]`, nominally in [-1, 1]) as a
 * canonical 44-byte-header 16-bit PCM WAV (values rounded half away from zero, clipped).
 * Decoding it with {@link decodeWav} gives `round(x · 32768) / 32768`.
 */
export function encodeWavPcm16(channels: Float32Array[] | Float32Array, sampleRate: number): Uint8Array {
  const chans = channels instanceof Float32Array ? [channels] : channels;
  if (chans.length < 1) throw new Error('channels must not be empty');
  if (!Number.isInteger(sampleRate) || sampleRate < 1) throw new Error(`sampleRate must be a positive integer, got ${sampleRate}`);
  const frames = chans[0].length;
  for (const c of chans) if (c.length !== frames) throw new Error(`all channels must have ${frames} frames, got ${c.length}`);
  const nc = chans.length;
  const dataBytes = frames * nc * 2;
  const out = new Uint8Array(44 + dataBytes);
  const v = new DataView(out.buffer);
  const str = (off: number, s: string) => { for (let i = 0; i < 4; i++) out[off + i] = s.charCodeAt(i); };
  str(0, 'RIFF'); v.setUint32(4, 36 + dataBytes, true); str(8, 'WAVE');
  str(12, 'fmt '); v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, nc, true);
  v.setUint32(24, sampleRate, true); v.setUint32(28, sampleRate * nc * 2, true); v.setUint16(32, nc * 2, true); v.setUint16(34, 16, true);
  str(36, 'data'); v.setUint32(40, dataBytes, true);
  let p = 44;
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < nc; c++, p += 2) {
      const x = Math.round(Math.abs(chans[c][i]) * 32768) * Math.sign(chans[c][i]);
      v.setInt16(p, Math.max(-32768, Math.min(32767, x)), true);
    }
  }
  return out;
}
