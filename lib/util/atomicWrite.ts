import { mkdirSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import { mkdir, rename, writeFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

let counter = 0;
const tempName = (path: string) => `${path}.${process.pid}.${Date.now().toString(36)}.${counter++}.tmp`;

/**
 * Writes a file so that readers see either the old content or the whole new content, never a
 * torn write: data goes to a temp file in the same folder, which is then renamed over `path`.
 */
export function writeFileAtomicSync(path: string, data: string | NodeJS.ArrayBufferView): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempName(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Async form of {@link writeFileAtomicSync}. */
export async function writeFileAtomic(path: string, data: string | NodeJS.ArrayBufferView): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempName(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
