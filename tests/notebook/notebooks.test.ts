import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { cellSource, executeNotebook, NotebookJson } from '../../lib/notebook/jupyter';
import { projectRoot } from '../../lib/notebook/params';
import { listTsFiles, shorthandCrossCellRefs, tslabDiagnostics } from '../../lib/notebook/tslabCheck';

/**
 * The notebooks, executed headlessly on the tslab kernel (started as its kernelspec would and
 * driven from Node over the Jupyter protocol, lib/notebook/kernelClient.ts: no Python), in order, on a tiny demo dataset generated into a temp folder by the EDA notebook itself,
 * with the quick setting. The training notebooks write their weights into a shared temp run
 * folder that the inference notebook then loads.
 */

const root = projectRoot(__dirname);
const notebooksDir = join(root, 'notebooks');
/** Execution order matters: inference loads the weights of the training runs. */
const ORDERED = ['eda', 'training-cnn-model1', 'training-vgg16', 'inference-kernel'];
/** Every notebook of notebooks/: the ordered ones, then any other (a new notebook is never left out). */
const NOTEBOOKS = [
  ...ORDERED,
  ...readdirSync(notebooksDir).filter((f) => f.endsWith('.ipynb')).map((f) => f.slice(0, -'.ipynb'.length)).filter((n) => !ORDERED.includes(n)).sort(),
];
/** Most lines of logic (not blank, not comment) in one code cell. */
const MAX_LOGIC_LINES = 30;

function readNotebook(path: string): NotebookJson {
  return JSON.parse(readFileSync(path, 'utf8')) as NotebookJson;
}

function logicLines(source: string): number {
  return source.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('//')).length;
}

/** Relative import specifiers of a TS source (static imports, re-exports, require calls). */
function relativeImports(source: string): string[] {
  const out: string[] = [];
  const re = /(?:\bfrom\s+|\bimport\s+|\brequire\(\s*)['"](\.{1,2}\/[^'"]*)['"]/g;
  for (let m = re.exec(source); m; m = re.exec(source)) out.push(m[1]);
  return out;
}

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/** Keys nbformat 4.5's schema allows on each kind of cell (nbformat/v4/nbformat.v4.5.schema.json). */
const CELL_KEYS: Record<string, { required: string[]; allowed: string[] }> = {
  code: { required: ['id', 'cell_type', 'metadata', 'source', 'outputs', 'execution_count'], allowed: [] },
  markdown: { required: ['id', 'cell_type', 'metadata', 'source'], allowed: ['attachments'] },
  raw: { required: ['id', 'cell_type', 'metadata', 'source'], allowed: ['attachments'] },
};

test('committed notebooks are nbformat 4.5: a unique id on every cell, no outputs', () => {
  for (const name of NOTEBOOKS) {
    const nb = JSON.parse(readFileSync(join(notebooksDir, `${name}.ipynb`), 'utf8')) as Record<string, unknown> & NotebookJson;
    assert.deepEqual(Object.keys(nb).sort(), ['cells', 'metadata', 'nbformat', 'nbformat_minor'], `${name}: top-level keys`);
    assert.equal(nb.nbformat, 4, `${name}: nbformat`);
    assert.equal(nb.nbformat_minor, 5, `${name}: nbformat_minor (cell ids need 4.5)`);
    const ids = new Set<string>();
    nb.cells.forEach((cell, i) => {
      const c = cell as unknown as Record<string, unknown>;
      const keys = CELL_KEYS[cell.cell_type];
      assert.ok(keys, `${name} cell ${i}: unknown cell_type ${cell.cell_type}`);
      for (const k of keys.required) assert.ok(k in c, `${name} cell ${i}: missing ${k}`);
      for (const k of Object.keys(c)) assert.ok(keys.required.includes(k) || keys.allowed.includes(k), `${name} cell ${i}: ${k} is not allowed on a ${cell.cell_type} cell`);
      // The schema's pattern for a cell id.
      assert.match(String(c.id), /^[a-zA-Z0-9-_]{1,64}$/, `${name} cell ${i}: id`);
      assert.ok(!ids.has(String(c.id)), `${name} cell ${i}: id ${String(c.id)} is used twice`);
      ids.add(String(c.id));
      assert.ok(typeof c.source === 'string' || (Array.isArray(c.source) && c.source.every((l) => typeof l === 'string')), `${name} cell ${i}: source`);
      if (cell.cell_type === 'code') {
        assert.deepEqual(c.outputs, [], `${name} cell ${i}: commit notebooks with outputs cleared`);
        assert.equal(c.execution_count, null, `${name} cell ${i}: execution_count must be null`);
      }
    });
  }
});

test('committed notebooks: tslab kernel, outputs cleared, thin cells, explicit lib imports', () => {
  const link = join(notebooksDir, 'lib');
  assert.ok(isDir(link) && resolve(notebooksDir, readlinkSafe(link)) === join(root, 'lib'), 'notebooks/lib must be a symlink to ../lib');
  for (const name of NOTEBOOKS) {
    const path = join(notebooksDir, `${name}.ipynb`);
    assert.ok(existsSync(path), `${relative(root, path)} is missing`);
    const nb = readNotebook(path);
    assert.equal((nb.metadata.kernelspec as { name?: string } | undefined)?.name, 'tslab', `${name}: kernelspec must be tslab`);
    nb.cells.forEach((cell, i) => {
      if (cell.cell_type !== 'code') return;
      const src = cellSource(cell);
      assert.equal((cell.outputs ?? []).length, 0, `${name} cell ${i}: commit notebooks with outputs cleared (jupyter nbconvert --clear-output --inplace)`);
      assert.ok(cell.execution_count == null, `${name} cell ${i}: execution_count must be cleared`);
      assert.ok(logicLines(src) <= MAX_LOGIC_LINES, `${name} cell ${i}: ${logicLines(src)} lines of logic (> ${MAX_LOGIC_LINES}): move logic into lib/`);
      for (const spec of relativeImports(src)) {
        // tslab resolves './lib/x' to './lib/x.js' only: a folder needs its '/index'.
        assert.ok(!isDir(join(notebooksDir, spec)), `${name} cell ${i}: import '${spec}' names a folder: write '${spec}/index' (tslab cannot load a folder)`);
      }
    });
    const codeSources = nb.cells.filter((c) => c.cell_type === 'code').map(cellSource);
    assert.deepEqual(shorthandCrossCellRefs(codeSources), [], `${name}: tslab cannot run these cells`);
    // Each code cell is introduced by a markdown cell (its heading).
    nb.cells.forEach((cell, i) => {
      if (cell.cell_type === 'code') {
        assert.equal(nb.cells[i - 1]?.cell_type, 'markdown', `${name} cell ${i}: a code cell needs a markdown heading before it`);
      }
    });
  }
});

test('the shorthand-property check finds names of earlier cells only', () => {
  const cells = ['const A = 1;\nimport { x } from "y";', 'const o = { A, x };', 'const A = 2;\nconst p = { A };', 'function f(q: number) { return { q }; }'];
  assert.deepEqual(shorthandCrossCellRefs(cells).map((p) => p.slice(0, 14)), ['cell 1: `{ A }', 'cell 1: `{ x }']);
});

function readlinkSafe(p: string): string {
  try {
    return readlinkSync(p);
  } catch {
    return '';
  }
}

test('lib/ imports files, not folders (tslab, which runs the notebooks, cannot load a folder index)', () => {
  const offenders: string[] = [];
  for (const file of listTsFiles(join(root, 'lib'))) {
    for (const spec of relativeImports(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), spec);
      if (isDir(target) && !existsSync(target + '.ts')) offenders.push(`${relative(root, file)}: '${spec}' → write '${spec}/index'`);
    }
  }
  assert.deepEqual(offenders, [], `folder imports break notebooks ("Cannot find module"):\n${offenders.join('\n')}`);
});

test("lib/ compiles under tslab's TypeScript 5.0 settings (no DOM lib, non-strict): tslab refuses cells otherwise", () => {
  const { typescript, errors } = tslabDiagnostics(root, listTsFiles(join(root, 'lib')));
  assert.deepEqual(errors, [], `tslab (TypeScript ${typescript}) would refuse to run a notebook importing these:\n${errors.join('\n')}\n` +
    'Fix: `/// <reference lib="dom" />` in files that use DOM types (WebAssembly, Blob...); no TS > 5.0 syntax; ' +
    'narrow unions by string discriminants (strictNullChecks is off there)');
});

/** Shrinks the training notebooks' QUICK setting to one epoch per stage of a 1/16-wide model. */
const SMOKE_PARAMETERS = 'QUICK.stageEpochs = [1, 1, 1, 1];\nQUICK.widthMultiplier = 1 / 16;\nQUICK.batchSize = 16;';

test('notebooks execute headlessly on tiny demo data with the quick setting', { timeout: 15 * 60_000 }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'fat2019-notebooks-'));
  const dataDir = join(tmp, 'demo');
  const runRoot = join(tmp, 'runs');
  const env = {
    FAT2019_DATA_DIR: dataDir,
    FAT2019_RUN_DIR: runRoot,
    FAT2019_CACHE_DIR: join(tmp, 'features'),
    FAT2019_NOTEBOOK_QUICK: '1',
  };
  try {
    for (const name of NOTEBOOKS) {
      await t.test(name, async () => {
        const r = await executeNotebook(join(notebooksDir, `${name}.ipynb`), {
          outputDir: join(tmp, 'executed'),
          // train-own-data makes a run of its own (another recipe and config than the shared one).
          env: name === 'train-own-data' ? { ...env, FAT2019_RUN_DIR: join(tmp, 'runs-own-data') } : env,
          cellTimeoutS: 300,
          totalTimeoutS: 600,
          // The notebooks' QUICK setting trains for minutes; here every step runs once, tiny.
          injectParameters: usesQuickSetting(join(notebooksDir, `${name}.ipynb`)) ? SMOKE_PARAMETERS + (name === 'train-own-data' ? '\nLR_FIND_STEPS = 12;' : '') : undefined,
        });
        assert.ok(r.ok, `${name}.ipynb failed after ${r.seconds.toFixed(1)} s:\n${r.error}`);
        const executed = readNotebook(r.outputPath);
        const html = executed.cells
          .flatMap((c) => (c.outputs ?? []) as { data?: Record<string, string | string[]> }[])
          .map((o) => [o.data?.['text/html'] ?? ''].flat().join(''))
          .join('\n');
        checkOutputs(name, html, dataDir, runRoot);
        t.diagnostic(`${name}: ${r.seconds.toFixed(1)} s`);
      });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

/** True when the notebook's `parameters` cell defines the QUICK setting (the training notebooks). */
function usesQuickSetting(path: string): boolean {
  const cell = readNotebook(path).cells.find((c) => (c.metadata?.tags ?? []).includes('parameters'));
  return cell !== undefined && /\bQUICK\b/.test(cellSource(cell));
}

/** What each notebook must have produced, beyond running without error. */
function checkOutputs(name: string, html: string, dataDir: string, runRoot: string): void {
  if (name === 'train-own-data') {
    const plots = (html.match(/class="fat2019-plot"/g) ?? []).length;
    assert.ok(plots >= 5, `train-own-data: expected the data charts, the lr-find curve, the training curves and the per-class chart, got ${plots} plots`);
    assert.ok(findFiles(join(dirname(runRoot), 'runs-own-data'), 'done.json').length > 0, 'train-own-data: no finished (stage, fold) job');
    assert.ok(html.includes('data:audio/wav;base64,'), 'train-own-data: the tagged file has no audio player');
    return;
  }
  if (!ORDERED.includes(name)) return; // a newer notebook: running without error is checked
  const plots = (html.match(/class="fat2019-plot"/g) ?? []).length;
  assert.ok(html.includes('window.Plotly'), `${name}: plotly.js bundle not displayed`);
  if (name === 'eda') {
    assert.ok(existsSync(join(dataDir, 'train_curated')), 'eda: demo data was not generated');
    assert.ok(plots >= 4, `eda: expected at least 4 plots, got ${plots}`);
    assert.ok(html.includes('data:image/png;base64,'), 'eda: no spectrogram image');
    assert.ok(html.includes('data:audio/wav;base64,'), 'eda: no audio player');
  } else if (name.startsWith('training')) {
    assert.ok(plots >= 2, `${name}: expected curves and a per-class chart, got ${plots} plots`);
    const arch = name === 'training-vgg16' ? 'vgg16bn' : 'cnnModel1';
    const done = findFiles(join(runRoot, arch), 'done.json').map((p) => relative(runRoot, p)).sort();
    // The quick setting: 2 folds × stages 1-4, all finished.
    assert.equal(done.length, 8, `${name}: expected 8 finished (stage, fold) jobs under ${runRoot}/${arch}, got ${done.join(', ') || 'none'}`);
  } else if (name === 'inference-kernel') {
    const subs = findFiles(runRoot, 'submission.csv');
    assert.ok(subs.length > 0, 'inference-kernel: no submission.csv written');
    const header = readFileSync(subs[0], 'utf8').split('\n')[0].split(',');
    assert.equal(header[0], 'fname');
    assert.ok(header.length > 1, 'inference-kernel: submission has no class columns');
    assert.ok(plots >= 2, `inference-kernel: expected the per-class score chart and the tag chart, got ${plots} plots`);
    assert.ok(html.includes('>Public<') && html.includes('>Private<'), 'inference-kernel: no Public/Private score table');
    assert.ok(html.includes('data:audio/wav;base64,'), 'inference-kernel: the tagged file has no audio player');
  }
}

function findFiles(dir: string, name: string): string[] {
  if (!isDir(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...findFiles(p, name));
    else if (e.name === name) out.push(p);
  }
  return out;
}
