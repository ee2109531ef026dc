import { isAbsolute, relative, resolve, sep } from 'node:path';

/** True when `path` lies strictly inside `dir` (lexically: a symlink inside the folder counts as inside). */
export function isInside(dir: string, path: string): boolean {
  const rel = relative(resolve(dir), resolve(path));
  return rel !== '' && rel !== '..' && !rel.startsWith('..' + sep) && !isAbsolute(rel);
}
