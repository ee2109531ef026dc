/**
 * On-disk cache of clip images: `<cacheDir>/<configHash>/<dataset>/<fname>.u8` (a name too long
 * for the file system, with the temp suffix of an atomic write, is shortened and hashed).
 *
 * The folder is named after a hash of the whole {@link PreprocessConfig} (and of
 * {@link FEATURE_CACHE_VERSION}), so changing any preprocessing parameter lands in a new folder
 * and can never serve stale images. Entries are written atomically; each starts with a 32-byte
 * header (magic "F19I", version, nMels, frames as little-endian uint32, then the source file's
 * size and mtime in ms as float64) and is checked on read: a truncated or foreign entry, or one
 * made from another version of the audio file (a regenerated dataset, another data folder with
 * the same dataset and file names), is treated as missing and recomputed. Since version 3 the
 * header ends with a checksum of the pixels (8 bytes of their sha256, at byte 32): an entry
 * whose bytes changed on disk is recomputed too, never used.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { isAbsolute, join, normalize, sep } from 'node:path';
import type { PreprocessConfig } from '../config';
import type { ClipImage } from '../features/types';
import { writeFileAtomicSync } from '../util/atomicWrite';

/** Bump when the feature code changes its output for the same config: old caches are then ignored. */
export const FEATURE_CACHE_VERSION = 3;

/** The feature cache root when none is given (the CLI's `--cache`, the library's `cacheDir`). */
export const DEFAULT_FEATURE_CACHE = 'work/features';

const MAGIC = 0x49393146; // "F19I" read as little-endian uint32: uint8 pixels
const MAGIC_FLOAT = 0x46393146; // "F19F": float32 values (preprocess output 'db'), little-endian
const HEADER_BYTES = 40;
const CHECKSUM_OFFSET = 32;
const CHECKSUM_BYTES = 8;

/** The first 8 bytes of the sha256 of an image's pixels (what an entry's header stores). */
function pixelChecksum(pixels: Uint8Array | Float32Array): Uint8Array {
  const bytes = new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  return new Uint8Array(createHash('sha256').update(bytes).digest().subarray(0, CHECKSUM_BYTES));
}

/** The values' bytes, little-endian (float32 values as stored on any machine). */
function valueBytes(data: Uint8Array | Float32Array): Uint8Array {
  if (data instanceof Uint8Array) return data;
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i], true);
  return out;
}

/**
 * Longest file name (bytes) of an entry before it is hashed: 255 (ext4, APFS, NTFS) minus the
 * `.u8` suffix and the temp suffix of an atomic write, with room to spare.
 */
const MAX_ENTRY_NAME_BYTES = 150;

/**
 * The entry's file name for one path segment of a clip name: `<segment>.u8`, or, for a segment
 * too long for the file system, its first 80 characters, `~`, and 16 hex digits of its sha256
 * (distinct long names stay distinct).
 */
function entryFileName(segment: string, suffix = ''): string {
  if (Buffer.byteLength(segment + suffix) <= MAX_ENTRY_NAME_BYTES) return segment + suffix;
  let head = segment.slice(0, 80);
  while (Buffer.byteLength(head) > 80) head = head.slice(0, -1);
  return `${head}~${createHash('sha256').update(segment).digest('hex').slice(0, 16)}${suffix}`;
}

/** Identity of the audio file an entry was computed from: its size and modification time. */
export interface SourceStamp {
  size: number;
  mtimeMs: number;
}

/** The stamp of `file` as it is now, or null when it cannot be stat'ed. */
export function sourceStamp(file: string): SourceStamp | null {
  try {
    const st = statSync(file);
    return { size: st.size, mtimeMs: st.mtimeMs };
  } catch {
    return null;
  }
}

const NO_STAMP: SourceStamp = { size: 0, mtimeMs: 0 };

function stampMatches(view: DataView, stamp: SourceStamp | undefined): boolean {
  return stamp === undefined || (view.getFloat64(16, true) === stamp.size && view.getFloat64(24, true) === stamp.mtimeMs);
}

/** Short (12 hex digits) sha256 of the config's JSON (keys sorted) and the cache version. */
export function preprocessConfigHash(config: PreprocessConfig): string {
  // Fields added after version 3 leave the hash alone at their reference values, so the
  // folders made before they existed keep serving the same images.
  const hashed: Partial<PreprocessConfig> = { ...config };
  if (hashed.output === 'image') delete hashed.output;
  if (hashed.trim === true) delete hashed.trim;
  const keys = Object.keys(hashed).sort();
  const json = JSON.stringify({ featureCacheVersion: FEATURE_CACHE_VERSION, config: hashed }, ['featureCacheVersion', 'config', ...keys]);
  return createHash('sha256').update(json).digest('hex').slice(0, 12);
}

/** `<cacheDir>/<configHash>`: the folder holding every dataset's images for this config. */
export function featureCacheDir(cacheDir: string, config: PreprocessConfig): string {
  return join(cacheDir, preprocessConfigHash(config));
}

/** Path of one clip's entry. `fname` must be a relative path inside the dataset (no `..`). */
export function cacheEntryPath(cacheDir: string, config: PreprocessConfig, dataset: string, fname: string): string {
  checkRelative('dataset', dataset);
  checkRelative('fname', fname);
  const parts = fname.split(/[\\/]/).filter(Boolean);
  const names = parts.map((p, i) => entryFileName(p, i === parts.length - 1 ? '.u8' : ''));
  return join(featureCacheDir(cacheDir, config), dataset, ...names);
}

function checkRelative(what: string, p: string): void {
  if (!p || isAbsolute(p) || normalize(p).split(sep).includes('..')) {
    throw new Error(`${what} must be a relative path inside the dataset, got "${p}"`);
  }
}

/** Serialises an image: 40-byte header (with the source's stamp and the pixels' checksum) + `[nMels][frames]` uint8. */
export function encodeClipImage(img: ClipImage, source: SourceStamp = NO_STAMP): Uint8Array {
  if (img.data.length !== img.nMels * img.frames) {
    throw new Error(`image data length must be nMels × frames = ${img.nMels * img.frames}, got ${img.data.length}`);
  }
  const values = valueBytes(img.data);
  const out = new Uint8Array(HEADER_BYTES + values.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, img.data instanceof Float32Array ? MAGIC_FLOAT : MAGIC, true);
  view.setUint32(4, FEATURE_CACHE_VERSION, true);
  view.setUint32(8, img.nMels, true);
  view.setUint32(12, img.frames, true);
  view.setFloat64(16, source.size, true);
  view.setFloat64(24, source.mtimeMs, true);
  out.set(pixelChecksum(values), CHECKSUM_OFFSET);
  out.set(values, HEADER_BYTES);
  return out;
}

/**
 * Parses an entry; throws an Error naming `name` and the problem (bad magic, version, size).
 * `expectedNMels`, when given, must match the header.
 */
export function decodeClipImage(bytes: Uint8Array, name: string, expectedNMels?: number): ClipImage {
  if (bytes.length < HEADER_BYTES) throw new Error(`${name}: cache entry truncated: ${bytes.length} bytes < ${HEADER_BYTES}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  if (magic !== MAGIC && magic !== MAGIC_FLOAT) throw new Error(`${name}: not a clip-image cache entry (bad magic)`);
  const bytesPerValue = magic === MAGIC_FLOAT ? 4 : 1;
  const version = view.getUint32(4, true);
  if (version !== FEATURE_CACHE_VERSION) throw new Error(`${name}: cache entry version ${version}, expected ${FEATURE_CACHE_VERSION}`);
  const nMels = view.getUint32(8, true);
  const frames = view.getUint32(12, true);
  if (expectedNMels !== undefined && nMels !== expectedNMels) throw new Error(`${name}: cache entry has nMels ${nMels}, expected ${expectedNMels}`);
  if (nMels === 0 || frames === 0) throw new Error(`${name}: cache entry has an empty image (${nMels}×${frames})`);
  const want = HEADER_BYTES + nMels * frames * bytesPerValue;
  if (bytes.length !== want) throw new Error(`${name}: cache entry truncated or padded: ${bytes.length} bytes, expected ${want} for ${nMels}×${frames}`);
  const data = bytes.slice(HEADER_BYTES);
  const stored = bytes.subarray(CHECKSUM_OFFSET, CHECKSUM_OFFSET + CHECKSUM_BYTES);
  if (!pixelChecksum(data).every((b, i) => b === stored[i])) throw new Error(`${name}: cache entry checksum mismatch: its bytes changed after it was written`);
  if (bytesPerValue === 1) return { nMels, frames, data };
  const values = new Float32Array(nMels * frames);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < values.length; i++) values[i] = dv.getFloat32(4 * i, true);
  return { nMels, frames, data: values };
}

/**
 * Reads an entry; null when it is missing, invalid (including a checksum mismatch), or (when
 * `source` is given) computed from another version of the audio file: the caller recomputes it.
 */
export function readCachedImage(path: string, expectedNMels?: number, source?: SourceStamp): ClipImage | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return null;
  }
  try {
    if (bytes.length < HEADER_BYTES || !stampMatches(new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES), source)) return null;
    return decodeClipImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path, expectedNMels);
  } catch {
    return null;
  }
}

/**
 * True when the entry exists, its header and size are consistent and (when `source` is given)
 * it was computed from that version of the audio file. Reads the header only (the checksum is
 * verified when the entry is read, {@link readCachedImage}); used to skip finished clips when
 * a preprocessing run resumes.
 */
export function isValidCacheEntry(path: string, expectedNMels?: number, source?: SourceStamp): boolean {
  if (!existsSync(path)) return false;
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    if (size < HEADER_BYTES) return false;
    const head = new Uint8Array(HEADER_BYTES);
    if (readSync(fd, head, 0, HEADER_BYTES, 0) !== HEADER_BYTES) return false;
    const view = new DataView(head.buffer);
    const nMels = view.getUint32(8, true);
    const frames = view.getUint32(12, true);
    const magic = view.getUint32(0, true);
    return (
      (magic === MAGIC || magic === MAGIC_FLOAT) &&
      view.getUint32(4, true) === FEATURE_CACHE_VERSION &&
      (expectedNMels === undefined || nMels === expectedNMels) &&
      nMels > 0 &&
      frames > 0 &&
      size === HEADER_BYTES + nMels * frames * (magic === MAGIC_FLOAT ? 4 : 1) &&
      stampMatches(view, source)
    );
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes an entry atomically (readers see the old entry or the whole new one). */
export function writeCachedImage(path: string, img: ClipImage, source?: SourceStamp): void {
  writeFileAtomicSync(path, encodeClipImage(img, source));
}
