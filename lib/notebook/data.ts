import { Dirent, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { generateDemoDataset } from '../data/demo/index';
import { hasContent } from './eda';

/** Options of {@link ensureDemoData}. */
export interface EnsureDemoOptions {
  size?: 'tiny' | 'small';
  seed?: number;
}

/**
 * Generates the synthetic demo dataset (lib/data/demo, Kaggle layout) into `dataDir` when that
 * folder is absent or empty; a folder with anything in it (the real FSDKaggle2019 data, or a
 * demo set made earlier) is left alone. Returns true when it generated.
 */
export async function ensureDemoData(dataDir: string, options: EnsureDemoOptions = {}): Promise<boolean> {
  if (hasContent(dataDir)) return false;
  await generateDemoDataset({ outDir: dataDir, size: options.size ?? 'tiny', seed: options.seed ?? 2019 });
  return true;
}

/** Every file under `dir` (recursively) with its size, paths relative to `dir`, sorted. */
export function listRunFiles(dir: string): { path: string; bytes: number }[] {
  const out: { path: string; bytes: number }[] = [];
  const walk = (d: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push({ path: relative(dir, p), bytes: statSync(p).size });
    }
  };
  walk(dir);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * The run folder summarised for display: one row per top-level file, and one per
 * `<arch>/stage<k>` with its finished folds (done.json), file count and size. Reference runs
 * hold hundreds of checkpoint files; this keeps the table to a screen.
 */
export function runFolderRows(dir: string): (string | number)[][] {
  const groups = new Map<string, { files: number; bytes: number; done: number }>();
  for (const f of listRunFiles(dir)) {
    const parts = f.path.split(/[\\/]/);
    const key = parts.length >= 3 && /^stage\d+$/.test(parts[1]) ? `${parts[0]}/${parts[1]}/` : parts.length >= 2 ? `${parts[0]}/` : parts[0];
    const g = groups.get(key) ?? { files: 0, bytes: 0, done: 0 };
    g.files++;
    g.bytes += f.bytes;
    if (parts[parts.length - 1] === 'done.json') g.done++;
    groups.set(key, g);
  }
  return [...groups].map(([key, g]) => [key, g.done > 0 ? `${g.done} fold${g.done === 1 ? '' : 's'} finished` : '', g.files, +(g.bytes / 1e6).toFixed(2)]);
}

/** Column names of {@link runFolderRows}. */
export const RUN_FOLDER_COLUMNS = ['path', 'finished', 'files', 'MB'];
