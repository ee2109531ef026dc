/**
 * The check every train, infer and preprocess run makes before any long work: each listed clip
 * is looked up on disk, and every problem is reported at once (rather than the first one, after
 * an hour of training). A clip is a problem when it is
 * - outside the data folder (an absolute name, or `../` in a label file),
 * - missing, or not a file,
 * - unreadable (permissions, empty),
 * - in a format the decoders do not read (MP3, OGG, M4A, AIFF, … are named as such).
 * Only the first bytes of each file are read: a dataset of 30,000 clips is checked in seconds.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { isInside } from '../util/paths';
import { unsupportedFormatMessage } from '../audio/format';

/** A clip a run will read: its name as listed (label file row, folder entry) and its path. */
export interface ListedClip {
  name: string;
  path: string;
}

/** Kinds of problem, in the order they are reported. */
export type ClipProblemKind = 'outside the data folder' | 'missing' | 'not a file' | 'unreadable' | 'unsupported format';

/** One clip that cannot be used. */
export interface ClipProblem {
  name: string;
  path: string;
  kind: ClipProblemKind;
  /** The specifics, e.g. "MP3 is not supported (convert to WAV or FLAC)". */
  detail: string;
}

export { UNSUPPORTED_AUDIO_EXTENSIONS } from '../audio/format';

const HEAD_BYTES = 16;

/** The problem with one clip, or null when it can be read. */
function checkClip(clip: ListedClip, dataDir: string): ClipProblem | null {
  const problem = (kind: ClipProblemKind, detail: string): ClipProblem => ({ name: clip.name, path: clip.path, kind, detail });
  // The message states the rule broken, never a resolved path that may lie inside the folder.
  if (isAbsolute(clip.name)) {
    return problem('outside the data folder', `"${clip.name}" is an absolute path; clip names are paths relative to their set's folder (e.g. "a.wav", "dog/1.wav")`);
  }
  if (clip.name.split(/[\\/]/).includes('..')) {
    return problem('outside the data folder', `"${clip.name}" leaves its set's folder with ".."; clip names are paths relative to that folder, without ".."`);
  }
  if (!isInside(dataDir, clip.path)) {
    return problem('outside the data folder', `"${clip.name}" resolves to ${resolve(clip.path)}, outside ${resolve(dataDir)}`);
  }
  let size: number;
  try {
    const st = statSync(clip.path);
    if (!st.isFile()) return problem('not a file', `${clip.path} is a ${st.isDirectory() ? 'folder' : 'special file'}`);
    size = st.size;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? problem('missing', `${clip.path} does not exist`) : problem('unreadable', `${clip.path}: ${code ?? (err as Error).message}`);
  }
  if (size === 0) return problem('unreadable', `${clip.path} is empty (0 bytes)`);
  const head = new Uint8Array(Math.min(HEAD_BYTES, size));
  let fd: number | undefined;
  try {
    fd = openSync(clip.path, 'r');
    readSync(fd, head, 0, head.length, 0);
  } catch (err) {
    return problem('unreadable', `${clip.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const unsupported = unsupportedFormatMessage(head, clip.path);
  return unsupported === null ? null : problem('unsupported format', unsupported);
}

/** Every problem of `clips` (in the order listed); empty when all can be read. */
export function findClipProblems(clips: readonly ListedClip[], dataDir: string): ClipProblem[] {
  const out: ClipProblem[] = [];
  for (const clip of clips) {
    const p = checkClip(clip, dataDir);
    if (p) out.push(p);
  }
  return out;
}

/** Thrown by {@link validateClips}: every problem, grouped by kind in its message. */
export class ClipValidationError extends Error {
  /**
   * @param checked how many clips were checked
   * @param source where they were listed
   */
  constructor(readonly problems: ClipProblem[], message: string, readonly checked = problems.length, readonly source = '') {
    super(message);
    this.name = 'ClipValidationError';
  }
}

/**
 * Runs several checks (e.g. one per set of a recipe) and throws ONE {@link ClipValidationError}
 * with the problems of all of them, so that no problem waits for the next run to be reported.
 */
export function validateAll(checks: readonly (() => unknown)[]): void {
  const failed: ClipValidationError[] = [];
  for (const check of checks) {
    try {
      check();
    } catch (err) {
      if (!(err instanceof ClipValidationError)) throw err;
      failed.push(err);
    }
  }
  if (failed.length === 0) return;
  if (failed.length === 1) throw failed[0];
  const problems = failed.flatMap((e) => e.problems);
  const checked = failed.reduce((n, e) => n + e.checked, 0);
  const source = failed.map((e) => e.source).join('; ');
  throw new ClipValidationError(problems, formatClipProblems(problems, checked, source), checked, source);
}

/** The report of {@link validateClips}: one line per problem (at most `maxPerKind` per kind). */
function formatClipProblems(problems: readonly ClipProblem[], total: number, source: string, maxPerKind = 10): string {
  const kinds: ClipProblemKind[] = ['outside the data folder', 'missing', 'not a file', 'unreadable', 'unsupported format'];
  const lines = [`${problems.length} of ${total} clip(s) listed in ${source} cannot be used:`];
  for (const kind of kinds) {
    const of = problems.filter((p) => p.kind === kind);
    if (of.length === 0) continue;
    lines.push(`  ${kind} (${of.length}):`);
    for (const p of of.slice(0, maxPerKind)) lines.push(`    ${p.name}: ${p.detail}`);
    if (of.length > maxPerKind) lines.push(`    … and ${of.length - maxPerKind} more`);
  }
  return lines.join('\n');
}

/**
 * Checks every clip against the disk and throws one {@link ClipValidationError} listing all
 * problems (grouped by kind), or returns when every clip can be read. `source` names where the
 * clips were listed (a label file, a dataset folder) for the message.
 */
export function validateClips(clips: readonly ListedClip[], dataDir: string, source = dataDir): void {
  const problems = findClipProblems(clips, dataDir);
  if (problems.length > 0) throw new ClipValidationError(problems, formatClipProblems(problems, clips.length, source), clips.length, source);
}

/** The clips `fnames` of `<dataDir>/<dataset>/` as {@link ListedClip}s. */
export function datasetClips(dataDir: string, dataset: string, fnames: readonly string[]): ListedClip[] {
  return fnames.map((name) => ({ name, path: join(dataDir, dataset, name) }));
}
