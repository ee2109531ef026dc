/**
 * Which audio container a file is, from its first bytes, and the message for the ones the
 * decoders (WAV, FLAC) do not read: the same words in preprocess, train, infer and tag.
 * No node modules: the browser page decodes with lib/audio too.
 */

/** Audio formats the decoders read (lib/audio). */
const SUPPORTED_AUDIO_FORMATS = ['WAV', 'FLAC'] as const;

/** Extensions of audio formats that exist but are not decoded here (for folder scans). */
export const UNSUPPORTED_AUDIO_EXTENSIONS: Readonly<Record<string, string>> = {
  '.mp3': 'MP3',
  '.ogg': 'OGG',
  '.oga': 'OGG',
  '.opus': 'Opus',
  '.m4a': 'M4A/AAC',
  '.aac': 'AAC',
  '.mp4': 'MP4',
  '.wma': 'WMA',
  '.aif': 'AIFF',
  '.aiff': 'AIFF',
  '.webm': 'WebM',
  '.amr': 'AMR',
};

/**
 * The container format of a file from its first bytes: 'WAV' and 'FLAC' are read by
 * lib/audio; anything else is returned by name ('MP3', 'OGG', …) or as 'unknown'.
 */
export function sniffAudioFormat(head: Uint8Array): string {
  const ascii = (off: number, len: number) => String.fromCharCode(...head.subarray(off, off + len));
  if (head.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WAVE') return 'WAV';
  if (head.length >= 4 && ascii(0, 4) === 'fLaC') return 'FLAC';
  if (head.length >= 4 && (ascii(0, 4) === 'RF64' || ascii(0, 4) === 'RIFX')) return `${ascii(0, 4)} WAV`;
  if (head.length >= 3 && ascii(0, 3) === 'ID3') return 'MP3';
  if (head.length >= 4 && ascii(0, 4) === 'OggS') return 'OGG';
  if (head.length >= 12 && ascii(4, 4) === 'ftyp') return 'M4A/MP4';
  if (head.length >= 12 && ascii(0, 4) === 'FORM' && (ascii(8, 4) === 'AIFF' || ascii(8, 4) === 'AIFC')) return 'AIFF';
  if (head.length >= 4 && head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return 'WebM/Matroska';
  if (head.length >= 4 && head[0] === 0x30 && head[1] === 0x26 && head[2] === 0xb2 && head[3] === 0x75) return 'WMA/ASF';
  // MPEG audio frame sync (11 set bits): layer bits 00 are AAC (ADTS), others MP1/2/3.
  if (head.length >= 2 && head[0] === 0xff && (head[1] & 0xe0) === 0xe0) return (head[1] & 0x06) === 0 ? 'AAC' : 'MP3';
  return 'unknown';
}

/**
 * The error text for a file the decoders do not read (`<name>: MP3 is not supported (...)`), or
 * null for WAV and FLAC. `head`: the file's first bytes (16 are enough).
 */
export function unsupportedFormatMessage(head: Uint8Array, name: string): string | null {
  const format = sniffAudioFormat(head);
  if (format === 'WAV' || format === 'FLAC') return null;
  const dot = name.lastIndexOf('.');
  const byExtension = dot > name.lastIndexOf('/') ? UNSUPPORTED_AUDIO_EXTENSIONS[name.slice(dot).toLowerCase()] : undefined;
  const what = format !== 'unknown' ? format : byExtension;
  return what
    ? `${name}: ${what} is not supported (only ${SUPPORTED_AUDIO_FORMATS.join(' and ')}: convert it, e.g. ffmpeg -i in.${what.split(/[/ ]/)[0].toLowerCase()} out.wav)`
    : `${name}: not a ${SUPPORTED_AUDIO_FORMATS.join(' or ')} file (no RIFF/WAVE or fLaC header)`;
}
