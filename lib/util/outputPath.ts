/**
 * The output rule: one check, called by every command that writes, before any work.
 *
 *   An output may be a new path, or a file/folder this toolkit wrote before (one it recognises
 *   as its own kind); never a device or other special file; never inside a run folder or a
 *   dataset folder except where the command owns the place; never one of the command's inputs.
 *
 * - {@link checkOutputFile}: a file output (`infer --out`). `kind.isOwn` recognises an
 *   existing file of that kind (a submission CSV); `ownedIn` names the run folder the command
 *   may write into and which names there are its own (`<run>/submission*.csv`).
 * - {@link checkOutputFolder}: a folder output (`web --out`, `generate --out`, `train --run`,
 *   `import-weights --run`, `export --run`): new, empty, or a folder of that kind
 *   (`kind.isOwn`: `web` → a folder with site.json or only site files; a run → run.json).
 *
 * Both throw one UsageError (the CLI exits 2) naming the option, the path and the problem, and
 * what to do instead; only a folder where files cannot be created (permissions, a full or
 * read-only disk) is a plain Error (exit 1).
 * A new command calls one of them with its option name and kind before reading its inputs
 * (plan, merge, embed, lr-find: e.g. `checkOutputFolder(runDir, { option: '--run', kind: RUN_FOLDER })`).
 * {@link writeFileAtomicSync} also refuses to replace a special file (a second line of defence).
 */
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { isInside } from './paths';
import { tempPathFor } from './atomicWrite';
import { UsageError } from './options';

/** A kind of output the toolkit writes: its name in messages and how to recognise one. */
export interface OutputKind {
  /** In messages: "a submission CSV", "a web site folder", "a run folder". */
  name: string;
  /** True when the existing file or folder at `path` is one the toolkit wrote (its own kind). */
  isOwn(path: string): boolean;
  /** Entries of a half-written folder of this kind (folder kinds): such a folder counts as its own. */
  entries?: readonly string[];
}

/** What {@link checkOutputFile} and {@link checkOutputFolder} check besides the rule itself. */
export interface OutputRules {
  /** The option that named the output, for the message (e.g. `--out`). */
  option: string;
  /** Files the command reads (label files, truth, run.json): the output may not be one of them. */
  inputs?: readonly string[];
  /** Folders the output may not lie in, besides every run and dataset folder (e.g. the data folder given). */
  protectedDirs?: readonly string[];
  /** The kind of output (recognises an existing one as the toolkit's own). */
  kind?: OutputKind;
  /** A run (or dataset) folder this command owns, and the names it may write at its top level. */
  ownedIn?: { dir: string; names: RegExp; what: string };
}

/** The files that mark a folder as a run folder or a dataset folder. */
const RUN_MARKER = 'run.json';
const DATASET_MARKERS = ['train_curated.csv', 'sample_submission.csv', 'demo.json', 'train_noisy.csv', 'test_post_competition.csv'];

/** `path` with symlinks of its existing part resolved, so two spellings of one file compare equal. */
function canonicalPath(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : resolve(canonicalPath(parent), abs.slice(parent.length + 1));
  }
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/** What a special file is, for messages ('a character device'); null for files, folders and links. */
function specialKind(s: Stats): string | null {
  if (s.isFile() || s.isDirectory() || s.isSymbolicLink()) return null;
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isFIFO()) return 'a named pipe';
  if (s.isSocket()) return 'a socket';
  return 'a special file';
}

/** The innermost folder at or above `dir` (canonical) that holds run.json or a dataset marker. */
function enclosingProject(dir: string): { kind: 'run' | 'dataset'; dir: string } | null {
  let d = dir;
  for (;;) {
    if (existsSync(join(d, RUN_MARKER))) return { kind: 'run', dir: d };
    if (DATASET_MARKERS.some((m) => existsSync(join(d, m)))) return { kind: 'dataset', dir: d };
    const up = dirname(d);
    if (up === d) return null;
    d = up;
  }
}

/** The checks common to files and folders: empty path, special file, inputs, protected folders. */
function checkCommon(out: string, rules: OutputRules, what: string): string {
  if (out.trim() === '') throw new UsageError(`${rules.option} is empty: give ${rules.kind?.name ?? 'a path'}`);
  const target = canonicalPath(out);
  const s = lstatOrNull(target);
  const special = s ? specialKind(s) : null;
  if (special) throw new UsageError(`${what}: is ${special}, not a regular file; outputs are only written as new files or over files this toolkit wrote (writing would replace the ${special.slice(2)})`);
  for (const input of rules.inputs ?? []) {
    if (canonicalPath(input) === target) throw new UsageError(`${what}: that is an input of this run (${input}); writing there would destroy it: choose another path`);
  }
  for (const dir of rules.protectedDirs ?? []) {
    const d = canonicalPath(dir);
    if (d === target || isInside(d, target)) throw new UsageError(`${what}: inside the data folder ${dir}; outputs never go there (they could replace its label files or audio): choose a path elsewhere`);
  }
  return target;
}

/** Refuses `target` when it lies in a run or dataset folder the command does not own there. */
function checkPlace(target: string, rules: OutputRules, what: string): void {
  const project = enclosingProject(dirname(target));
  if (!project) return;
  const owned = rules.ownedIn;
  if (owned && canonicalPath(owned.dir) === project.dir && dirname(target) === project.dir && owned.names.test(basename(target))) return;
  const where = relative(process.cwd(), project.dir) || project.dir;
  const allowed = owned && canonicalPath(owned.dir) === project.dir ? ` (this command writes only ${owned.what} there)` : '';
  throw new UsageError(`${what}: inside the ${project.kind === 'run' ? 'run' : 'dataset'} folder ${where}${allowed}; ` +
    `outputs never go into a ${project.kind === 'run' ? "run's" : "dataset's"} folders, where they could replace ${project.kind === 'run' ? 'its models, folds or settings' : 'its label files or audio'}: choose a path elsewhere`);
}

/** Creates and removes a probe file in `dir`, so an unwritable folder is found before any work. */
function probeWritable(dir: string, what: string): void {
  const probe = tempPathFor(join(dir, '.fat2019-probe'));
  try {
    writeFileSync(probe, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const why: Record<string, string> = { EACCES: 'permission denied', EPERM: 'operation not permitted', EROFS: 'read-only file system', ENOSPC: 'no space left', ENOENT: 'files cannot be created there (a virtual file system?)' };
    throw new Error(`${what}: cannot create files in ${dir}: ${why[code] ?? code ?? (err as Error).message}`);
  } finally {
    rmSync(probe, { force: true });
  }
}

/**
 * Checks an output file before any work starts (so a mistake costs nothing). It may be a new
 * file, or an existing regular file of `rules.kind` (checked with `kind.isOwn`); never a
 * device or special file, a folder, an input of the command, a file inside a run or dataset
 * folder (except `rules.ownedIn`'s names) or a protected folder. Its folder must exist (a typo
 * in a folder name is not silently created) and accept new files. Throws an Error naming the
 * option, the path and the problem.
 */
export function checkOutputFile(out: string, rules: OutputRules): void {
  const what = `${rules.option} ${out}`;
  const target = checkCommon(out, rules, what);
  if (existsSync(target) && statSync(target).isDirectory()) throw new UsageError(`${what}: is a folder; give a file name`);
  checkPlace(target, rules, what);
  if (existsSync(target) && rules.kind && !rules.kind.isOwn(target)) {
    throw new UsageError(`${what}: exists and is not ${rules.kind.name} this toolkit wrote; outputs never replace other files: choose a new file name (or delete it yourself)`);
  }
  const parent = dirname(target);
  if (!existsSync(parent)) throw new UsageError(`${what}: its folder ${dirname(out)} does not exist; create it first or fix the path`);
  if (!statSync(parent).isDirectory()) throw new UsageError(`${what}: ${dirname(out)} is not a folder`);
  probeWritable(parent, what);
}

/**
 * Checks an output folder before any work starts: new, empty, or a folder of `rules.kind`
 * (`kind.isOwn`, or only `kind.entries` in it: a half-written one); not a file or special
 * file; not inside another run or dataset folder, nor a protected folder or input. Throws an
 * Error naming the option, the path and the problem.
 */
export function checkOutputFolder(out: string, rules: OutputRules): void {
  const what = `${rules.option} ${out}`;
  const target = checkCommon(out, rules, what);
  if (existsSync(target) && !statSync(target).isDirectory()) throw new UsageError(`${what}: is a file, not a folder; give a folder path (a new one, or ${rules.kind ? rules.kind.name : 'an empty one'})`);
  // Judged from its parent: a run folder's own run.json does not make it "inside a run".
  checkPlace(target, rules, what);
  const own = existsSync(target) && rules.kind ? isOwnFolder(target, rules.kind) : false;
  if (existsSync(target) && !own && readdirSync(target).length > 0) {
    const held = readdirSync(target).slice(0, 3).join(', ');
    throw new UsageError(`${what}: not empty and not ${rules.kind?.name ?? 'a folder this toolkit wrote'} (holds ${held}${readdirSync(target).length > 3 ? ', ...' : ''}); ` +
      'outputs never mix with other files: choose a new or empty folder');
  }
  const parent = existsSync(target) ? target : nearestExisting(target);
  if (!statSync(parent).isDirectory()) throw new UsageError(`${what}: ${parent} is not a folder`);
  probeWritable(parent, what);
}

function isOwnFolder(dir: string, kind: OutputKind): boolean {
  if (kind.isOwn(dir)) return true;
  if (!kind.entries) return false;
  const known = new Set(kind.entries);
  const names = readdirSync(dir);
  return names.length > 0 && names.every((n) => known.has(n) || n.endsWith('.tmp'));
}

function nearestExisting(path: string): string {
  let d = path;
  while (!existsSync(d)) {
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  return d;
}

/** A CSV whose header starts `fname,` followed by class columns (not `labels`): a submission or out-of-fold scores. */
export const SUBMISSION_CSV: OutputKind = {
  name: 'a submission CSV',
  isOwn(path) {
    try {
      if (!statSync(path).isFile()) return false;
      const head = readFileSync(path, 'utf8').slice(0, 65536).split('\n', 2);
      if (!/^fname,/.test(head[0]) || /^fname,labels\b/.test(head[0])) return false;
      const row = (head[1] ?? '').trim();
      return row === '' || row.split(',').slice(1).every((v) => v.trim() !== '' && Number.isFinite(Number(v)));
    } catch {
      return false;
    }
  },
};

/** A run folder (run.json; or only the entries a first job writes before it). */
export const RUN_FOLDER: OutputKind = {
  name: 'a run folder',
  isOwn: (dir) => existsSync(join(dir, RUN_MARKER)),
  entries: ['recipe.json', 'folds', 'lock.json'],
};
