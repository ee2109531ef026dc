import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import { mkdir, rename, writeFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let counter = 0;

/** Longest file name (bytes) most file systems allow. */
const MAX_NAME_BYTES = 255;

/**
 * The temp file beside `path`: `<name>.<pid>.<time>.<n>.tmp`, or, when that would exceed the
 * file system's name limit, a short hashed name in the same folder (so a long target name
 * never fails with ENAMETOOLONG on the temp file alone).
 */
function tempPathFor(path: string): string {
  const suffix = `.${process.pid}.${Date.now().toString(36)}.${counter++}.tmp`;
  const name = basename(path);
  if (Buffer.byteLength(name + suffix) <= MAX_NAME_BYTES) return `${path}${suffix}`;
  return join(dirname(path), `.${createHash('sha256').update(name).digest('hex').slice(0, 16)}${suffix}`);
}

/** An error about writing `path` that names `path`, not the temp file the error came from. */
function writeError(path: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  const out = new Error(`cannot write ${path}: ${e.code ? `${e.code} (${describeCode(e.code)})` : e.message}`);
  (out as NodeJS.ErrnoException).code = e.code;
  return out;
}

function describeCode(code: string): string {
  const known: Record<string, string> = {
    ENOENT: 'its folder does not exist',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'it is a folder',
    ENOSPC: 'no space left on the device',
    EROFS: 'read-only file system',
    ENAMETOOLONG: 'name too long',
    ENOTDIR: 'a part of the path is not a folder',
    EDQUOT: 'disk quota exceeded',
  };
  return known[code] ?? 'file system error';
}

/**
 * Writes a file so that readers see either the old content or the whole new content, never a
 * torn write: data goes to a temp file in the same folder, which is then renamed over `path`.
 * The folder is created when missing. Errors name `path` (never the temp file).
 */
export function writeFileAtomicSync(path: string, data: string | NodeJS.ArrayBufferView): void {
  const tmp = tempPathFor(path);
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw writeError(path, err);
  }
}

/** Async form of {@link writeFileAtomicSync}. */
export async function writeFileAtomic(path: string, data: string | NodeJS.ArrayBufferView): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw writeError(path, err);
  }
}
