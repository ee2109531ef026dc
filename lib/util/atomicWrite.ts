import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import { mkdir, rename, writeFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';

let counter = 0;
/** This host, in temp names: writers on several machines sharing a folder (NFS) may have equal pids. */
const HOST = hostname().replace(/[^A-Za-z0-9-]/g, '').slice(0, 32) || 'host';

/** Longest file name (bytes) most file systems allow. */
const MAX_NAME_BYTES = 255;

/**
 * The temp file beside `path`: `<name>.<host>.<pid>.<time>.<n>.tmp`, or, when that would exceed the
 * file system's name limit, a short hashed name in the same folder (so a long target name
 * never fails with ENAMETOOLONG on the temp file alone).
 */
export function tempPathFor(path: string): string {
  const suffix = `.${HOST}.${process.pid}.${Date.now().toString(36)}.${counter++}.tmp`;
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
 * Refuses to replace a device, pipe or socket (as root, renaming over /dev/full would turn the
 * device node into a regular file). The output rule (lib/util/outputPath.ts) says so before any
 * work; this is the last line of defence.
 */
function refuseSpecialFile(path: string): void {
  let s;
  try {
    s = lstatSync(path);
  } catch {
    return;
  }
  if (!s.isFile() && !s.isDirectory() && !s.isSymbolicLink()) {
    const err = new Error(`cannot write ${path}: it is a device or special file, not a regular file; outputs never replace one`);
    (err as NodeJS.ErrnoException).code = 'EEXIST';
    throw err;
  }
}

/**
 * Writes a file so that readers see either the old content or the whole new content, never a
 * torn write: data goes to a temp file in the same folder, which is then renamed over `path`.
 * The folder is created when missing. Errors name `path` (never the temp file).
 */
export function writeFileAtomicSync(path: string, data: string | NodeJS.ArrayBufferView): void {
  refuseSpecialFile(path);
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
  refuseSpecialFile(path);
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
