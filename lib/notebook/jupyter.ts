import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * Runs notebooks headlessly: registers the tslab kernel into a project-local Jupyter prefix
 * (`<root>/.jupyter-local`, gitignored) and executes a notebook with nbconvert. Used by
 * tests/notebooks.test.ts and scripts/jupyter-kernel.sh; Jupyter itself comes from Debian
 * (jupyter-notebook, jupyter-nbconvert, python3-nbclient, python3-ipykernel).
 */

/** The Debian packages that provide what this module needs. */
export const JUPYTER_APT_PACKAGES = ['jupyter-notebook', 'jupyter-nbconvert', 'python3-nbclient', 'python3-ipykernel'];

const INSTALL_HINT =
  `install Jupyter from Debian: sudo apt-get install -y --no-install-recommends ${JUPYTER_APT_PACKAGES.join(' ')} ` +
  '(the default python3 of pyenv/conda does not see them: this project uses /usr/bin/python3)';

/** Where the Jupyter tools are. */
export interface JupyterTools {
  /** A Python with jupyter_client, IPython and nbclient (the kernel installer needs them). */
  python: string;
  /** Command (argv prefix) that runs nbconvert. */
  nbconvert: string[];
}

function runs(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: 'pipe', timeout: 60_000 });
  return r.status === 0;
}

/**
 * Finds Python with Jupyter (FAT2019_PYTHON, then /usr/bin/python3, then python3 on PATH) and
 * nbconvert. Throws an Error saying which Debian packages to install when they are missing.
 */
export function findJupyter(env: NodeJS.ProcessEnv = process.env): JupyterTools {
  const candidates = [env.FAT2019_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => Boolean(c));
  const probe = 'import jupyter_client, IPython, nbclient, nbconvert';
  const python = candidates.find((c) => runs(c, ['-c', probe]));
  if (!python) {
    throw new Error(`Jupyter not found (tried ${candidates.join(', ')} with "${probe}"): ${INSTALL_HINT}`);
  }
  return { python, nbconvert: [python, '-m', 'nbconvert'] };
}

/** The Jupyter data folder of the project-local prefix: put it in JUPYTER_PATH. */
export function kernelDataPath(root: string): string {
  return join(root, '.jupyter-local', 'share', 'jupyter');
}

/**
 * Registers the tslab kernel spec (kernel name `tslab`, "TypeScript") into
 * `<root>/.jupyter-local`, pointing at this checkout's node_modules/.bin/tslab. Idempotent:
 * does nothing when the spec already points there. Returns the path for JUPYTER_PATH.
 */
export function registerKernel(root: string, tools: JupyterTools = findJupyter()): string {
  const tslabBin = join(root, 'node_modules', '.bin', 'tslab');
  if (!existsSync(tslabBin)) throw new Error(`${tslabBin} not found: run npm install (tslab is a devDependency)`);
  const dataPath = kernelDataPath(root);
  const spec = join(dataPath, 'kernels', 'tslab', 'kernel.json');
  if (existsSync(spec)) {
    try {
      const argv = JSON.parse(readFileSync(spec, 'utf8')).argv as string[];
      if (argv[0] === tslabBin) return dataPath;
    } catch {
      // A broken spec is reinstalled below.
    }
  }
  const prefix = join(root, '.jupyter-local');
  mkdirSync(prefix, { recursive: true });
  const r = spawnSync(tslabBin, ['install', '--python', tools.python, '--binary', tslabBin, '--prefix', prefix], {
    encoding: 'utf8',
    stdio: 'pipe',
    timeout: 120_000,
  });
  if (r.status !== 0 || !existsSync(spec)) {
    throw new Error(`tslab kernel registration into ${prefix} failed (exit ${r.status}): ${(r.stderr || r.stdout || '').trim()}`);
  }
  return dataPath;
}

/** Options of {@link executeNotebook}. */
export interface ExecuteOptions {
  /** Folder for the executed copy (the source notebook is not modified). */
  outputDir: string;
  /** Project root (for the kernel registration); default: two levels above the notebook. */
  root?: string;
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
  tools?: JupyterTools;
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
  stderr: string;
}

/** The part of the runner's stderr that describes the failed cell, or its tail. */
export function extractCellError(stderr: string, maxChars = 4000): string {
  const i = stderr.indexOf('CELL FAILED');
  const text = i >= 0 ? stderr.slice(i) : stderr.slice(-maxChars);
  return text.length > maxChars ? text.slice(0, maxChars) + '\n…' : text;
}

/**
 * Executes a notebook with nbclient (./execute_notebook.py) and the tslab kernel. The kernel
 * runs with cwd = the notebook's own folder (so `./lib` resolves through notebooks/lib); the
 * executed copy goes to `outputDir`. A failing cell makes `ok` false with the cell's source and
 * error output in `error`.
 */
export function executeNotebook(notebookPath: string, options: ExecuteOptions): ExecuteResult {
  const nb = resolve(notebookPath);
  const root = options.root ?? resolve(dirname(nb), '..');
  const tools = options.tools ?? findJupyter();
  const dataPath = registerKernel(root, tools);
  mkdirSync(options.outputDir, { recursive: true });
  const runtimeDir = join(options.outputDir, '.jupyter-runtime');
  mkdirSync(runtimeDir, { recursive: true });
  const outputPath = join(options.outputDir, basename(nb));
  const runner = join(__dirname, 'execute_notebook.py');
  const args = [runner, nb, outputPath, '--kernel', 'tslab', '--timeout', String(options.cellTimeoutS ?? 600)];
  if (options.injectParameters) args.push('--inject', options.injectParameters);
  const start = Date.now();
  const r = spawnSync(tools.python, args, {
    cwd: dirname(nb),
    encoding: 'utf8',
    stdio: 'pipe',
    timeout: (options.totalTimeoutS ?? 1200) * 1000,
    maxBuffer: 64 * 1024 * 1024,
    env: {
      ...process.env,
      ...options.env,
      JUPYTER_PATH: dataPath + (process.env.JUPYTER_PATH ? ':' + process.env.JUPYTER_PATH : ''),
      JUPYTER_RUNTIME_DIR: runtimeDir,
      PYTHONWARNINGS: 'ignore',
    },
  });
  const seconds = (Date.now() - start) / 1000;
  const stderr = r.stderr ?? '';
  if (r.error || r.status !== 0 || !existsSync(outputPath)) {
    const why = r.error ? `${r.error.message}\n` : `notebook runner exited with ${r.status}${r.signal ? ` (${r.signal})` : ''}\n`;
    return { ok: false, outputPath, seconds, stderr, error: why + extractCellError(stderr) };
  }
  return { ok: true, outputPath, seconds, stderr };
}

/**
 * Converts an (executed) notebook to standalone HTML with nbconvert, e.g. to look at the plots
 * in a browser. Returns the HTML path (`outputDir/<name>.html`).
 */
export function notebookToHtml(notebookPath: string, outputDir: string, tools: JupyterTools = findJupyter()): string {
  mkdirSync(outputDir, { recursive: true });
  const r = spawnSync(tools.nbconvert[0], [...tools.nbconvert.slice(1), '--to', 'html', '--output-dir', outputDir, resolve(notebookPath)], {
    encoding: 'utf8',
    stdio: 'pipe',
    timeout: 300_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, PYTHONWARNINGS: 'ignore' },
  });
  const out = join(outputDir, basename(notebookPath, '.ipynb') + '.html');
  if (r.status !== 0 || !existsSync(out)) throw new Error(`nbconvert --to html ${notebookPath} failed (exit ${r.status}): ${(r.stderr ?? '').slice(-2000)}`);
  return out;
}

/** A notebook as JSON (nbformat 4), the parts used here. */
export interface NotebookJson {
  cells: { cell_type: string; source: string | string[]; outputs?: unknown[]; execution_count?: number | null; id?: string }[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

/** Source of a cell as one string. */
export function cellSource(cell: { source: string | string[] }): string {
  return Array.isArray(cell.source) ? cell.source.join('') : cell.source;
}

/** Error outputs of an executed notebook: `[cell index, "ename: evalue"]`. */
export function notebookErrors(nb: NotebookJson): [number, string][] {
  const out: [number, string][] = [];
  nb.cells.forEach((c, i) => {
    for (const o of (c.outputs ?? []) as { output_type?: string; ename?: string; evalue?: string }[]) {
      if (o.output_type === 'error') out.push([i, `${o.ename}: ${o.evalue}`]);
    }
  });
  return out;
}
