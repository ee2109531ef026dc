import { mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CellOutput, startTslabKernel } from './kernelClient';
import { writeFileAtomicSync } from '../util/atomicWrite';

/**
 * Runs notebooks headlessly from Node: each notebook gets a fresh tslab kernel (started as its
 * kernelspec would, see ./kernelClient.ts), its code cells run in order, and the executed copy
 * is written with the outputs a Jupyter front end would have saved. Needs no Python: used by
 * tests/notebook/notebooks.test.ts. (Reading the notebooks interactively still uses `jupyter notebook`,
 * see scripts/jupyter-kernel.sh.)
 */

/** Options of {@link executeNotebook}. */
export interface ExecuteOptions {
  /** Folder for the executed copy (the source notebook is not modified). */
  outputDir: string;
  /** Extra environment for the kernel (e.g. FAT2019_DATA_DIR). */
  env?: Record<string, string>;
  /** Per-cell timeout in seconds (default 600). */
  cellTimeoutS?: number;
  /** Whole-run timeout in seconds (default 1200). */
  totalTimeoutS?: number;
  /**
   * Code run right after the cell tagged `parameters` (papermill's convention), e.g. to shrink
   * the quick setting in tests; it appears in the executed copy as an `injected-parameters` cell.
   */
  injectParameters?: string;
}

/** Result of {@link executeNotebook}. */
export interface ExecuteResult {
  ok: boolean;
  /** The executed copy (written also when a cell failed, up to that cell). */
  outputPath: string;
  /** Seconds the execution took. */
  seconds: number;
  /** When not ok: the failing cell's index, source and output (tslab's error text). */
  error?: string;
}

/** A notebook as JSON (nbformat 4), the parts used here. */
export interface NotebookJson {
  cells: {
    cell_type: string;
    source: string | string[];
    outputs?: unknown[];
    execution_count?: number | null;
    id?: string;
    metadata?: { tags?: string[] } & Record<string, unknown>;
  }[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

/** Source of a cell as one string. */
export function cellSource(cell: { source: string | string[] }): string {
  return Array.isArray(cell.source) ? cell.source.join('') : cell.source;
}

/**
 * A copy of `nb` with a code cell tagged `injected-parameters` holding `code` right after the
 * first cell tagged `parameters` (papermill's convention). Throws when no cell is tagged.
 */
function injectParameters(nb: NotebookJson, code: string, name = 'notebook'): NotebookJson {
  const at = nb.cells.findIndex((c) => (c.metadata?.tags ?? []).includes('parameters'));
  if (at < 0) throw new Error(`${name}: parameters to inject, but no cell is tagged 'parameters'`);
  const cell = { cell_type: 'code', source: code, outputs: [], execution_count: null, metadata: { tags: ['injected-parameters'] } };
  return { ...nb, cells: [...nb.cells.slice(0, at + 1), cell, ...nb.cells.slice(at + 1)] };
}

/** The text of a cell's outputs (streams, errors, text/plain), as a reader of a failure wants it. */
function outputText(outputs: readonly CellOutput[]): string {
  return outputs
    .map((o) => {
      if (o.output_type === 'stream') return o.text;
      if (o.output_type === 'error') return `${o.ename}: ${o.evalue}\n${o.traceback.join('\n')}`;
      const plain = o.data['text/plain'];
      return plain === undefined ? '' : [plain].flat().join('');
    })
    .join('');
}

/**
 * Executes a notebook on a fresh tslab kernel whose working folder is the notebook's own
 * folder (so `./lib` resolves through notebooks/lib). Stops at the first cell whose reply is
 * not 'ok' (tslab prints compile and runtime errors to the cell's stderr), or when the kernel
 * dies or a timeout passes; `ok` is then false and `error` holds the cell's index, source and
 * output. The executed copy goes to `outputDir/<name>.ipynb` either way.
 */
export async function executeNotebook(notebookPath: string, options: ExecuteOptions): Promise<ExecuteResult> {
  const path = resolve(notebookPath);
  let nb = JSON.parse(readFileSync(path, 'utf8')) as NotebookJson;
  if (options.injectParameters !== undefined) nb = injectParameters(nb, options.injectParameters, path);
  mkdirSync(options.outputDir, { recursive: true });
  const outputPath = join(options.outputDir, basename(path));
  const start = Date.now();
  const deadline = start + (options.totalTimeoutS ?? 1200) * 1000;
  const cellTimeoutMs = (options.cellTimeoutS ?? 600) * 1000;
  let error: string | undefined;
  const kernel = await startTslabKernel({ cwd: dirname(path), env: { ...process.env, ...options.env } }).catch((err: Error) => {
    error = `could not start the tslab kernel: ${err.message}`;
    return null;
  });
  try {
    for (let i = 0; kernel && i < nb.cells.length && error === undefined; i++) {
      const cell = nb.cells[i];
      if (cell.cell_type !== 'code') continue;
      const source = cellSource(cell);
      const left = deadline - Date.now();
      try {
        if (left <= 0) throw new Error(`the notebook did not finish within ${options.totalTimeoutS ?? 1200} s`);
        const reply = await kernel.execute(source, Math.min(cellTimeoutMs, left));
        cell.outputs = reply.outputs;
        cell.execution_count = reply.executionCount;
        if (reply.status !== 'ok') error = cellFailure(path, i, source, `reply status '${reply.status}'`, outputText(reply.outputs));
      } catch (err) {
        error = cellFailure(path, i, source, (err as Error).message, outputText((cell.outputs ?? []) as CellOutput[]));
      }
    }
  } finally {
    await kernel?.shutdown();
    writeFileAtomicSync(outputPath, JSON.stringify(nb, null, 1) + '\n');
  }
  return { ok: error === undefined, outputPath, seconds: (Date.now() - start) / 1000, error };
}

function cellFailure(path: string, index: number, source: string, why: string, output: string): string {
  const cut = (s: string) => (s.length > 4000 ? s.slice(0, 4000) + '\n…' : s);
  return `CELL FAILED: cell ${index} of ${path} (${why})\n------ source ------\n${source}\n------ output ------\n${cut(output)}\n--------------------`;
}

