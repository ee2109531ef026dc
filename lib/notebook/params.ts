import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_FEATURE_CACHE } from '../data/featureCache';

/**
 * Notebook parameters: where the project is, which data folder and run folder a notebook uses,
 * and whether it runs the QUICK setting. Notebooks run with cwd = notebooks/, so every path is
 * resolved against the project root, never the cwd. Environment variables override the
 * notebook's defaults, which is how the test harness points a notebook at temp folders.
 */

/** Env var: data folder (Kaggle layout), absolute or relative to the project root. */
export const ENV_DATA_DIR = 'FAT2019_DATA_DIR';
/** Env var: run folder (weights, config, scores), absolute or relative to the project root. */
export const ENV_RUN_DIR = 'FAT2019_RUN_DIR';
/**
 * Env var: feature cache folder (clip images), absolute or relative to the project root;
 * default `work/features`. The cache is keyed by preprocessing config, set and file name, not
 * by data folder, so a test on throw-away data points it at a temp folder.
 */
export const ENV_CACHE_DIR = 'FAT2019_CACHE_DIR';
/** Env var: `1` = quick setting (tiny model, 1 fold, 1 epoch per stage), `0` = reference. */
export const ENV_QUICK = 'FAT2019_NOTEBOOK_QUICK';

/**
 * The project root: the nearest folder at or above `start` (default: the cwd) holding a
 * package.json named `fat2019-ts`. Throws when there is none.
 */
export function projectRoot(start: string = process.cwd()): string {
  let dir = resolve(start);
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'fat2019-ts') return dir;
      } catch {
        // An unreadable package.json is not ours: keep walking up.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no fat2019-ts project (package.json named "fat2019-ts") at or above ${resolve(start)}`);
    dir = parent;
  }
}

/** `p` resolved against the project root unless it is absolute. */
export function fromRoot(p: string, root: string = projectRoot()): string {
  return isAbsolute(p) ? p : resolve(root, p);
}

/**
 * Whether the quick setting is on: the env var when set (`1`/`true`/`yes` or `0`/`false`/`no`),
 * else true unless a GPU build of tfjs (tfjs-node-gpu) is installed: the reference setting
 * takes days on a CPU.
 */
export function defaultQuick(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env[ENV_QUICK];
  if (v !== undefined && v.trim() !== '') {
    const s = v.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(s)) return true;
    if (['0', 'false', 'no', 'off'].includes(s)) return false;
    throw new Error(`${ENV_QUICK} must be 1 or 0, got "${v}"`);
  }
  try {
    require.resolve('@tensorflow/tfjs-node-gpu');
    return false;
  } catch {
    return true;
  }
}

/** What the parameters cell of a notebook resolves to. */
export interface NotebookParams {
  /** Absolute project root. */
  root: string;
  /** Absolute data folder. */
  dataDir: string;
  /** Absolute run folder (e.g. `<root>/weights/notebook-cnn`). */
  runDir: string;
  /** Absolute feature cache folder (`<root>/work/features` unless FAT2019_CACHE_DIR is set). */
  cacheDir: string;
  quick: boolean;
}

/**
 * Resolves a notebook's parameters: `defaults.dataDir` (relative to the project root) unless
 * FAT2019_DATA_DIR is set; the run folder from FAT2019_RUN_DIR, else `defaults.runDir`, else
 * `weights/<defaults.run>` with `-quick` appended in the quick setting (a quick run and a
 * reference run cannot share a folder: run.json pins one config), else `weights/notebook`; the
 * feature cache from FAT2019_CACHE_DIR (default `work/features`); quick from
 * {@link defaultQuick} unless `defaults.quick` is given and the env var is not set.
 */
export function notebookParams(
  defaults: { dataDir: string; runDir?: string; run?: string; quick?: boolean },
  env: NodeJS.ProcessEnv = process.env,
): NotebookParams {
  const root = projectRoot();
  const pick = (name: string, fallback: string) => {
    const v = env[name];
    return v !== undefined && v.trim() !== '' ? v.trim() : fallback;
  };
  const quickFromEnv = env[ENV_QUICK] !== undefined && env[ENV_QUICK]!.trim() !== '';
  const quick = quickFromEnv || defaults.quick === undefined ? defaultQuick(env) : defaults.quick;
  if (defaults.run !== undefined && !/^[\w.-]+$/.test(defaults.run)) {
    throw new Error(`run name must be letters, digits, '.', '_' or '-' (a folder under weights/), got "${defaults.run}"`);
  }
  const runDir = defaults.runDir ?? (defaults.run !== undefined ? `weights/${defaults.run}${quick ? '-quick' : ''}` : 'weights/notebook');
  return {
    root,
    dataDir: fromRoot(pick(ENV_DATA_DIR, defaults.dataDir), root),
    runDir: fromRoot(pick(ENV_RUN_DIR, runDir), root),
    cacheDir: fromRoot(pick(ENV_CACHE_DIR, DEFAULT_FEATURE_CACHE), root),
    quick,
  };
}
