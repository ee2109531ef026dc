import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executeNotebook, NotebookJson } from '../../lib/notebook/jupyter';
import { signFrames } from '../../lib/notebook/kernelClient';

/**
 * The Node-side notebook runner (lib/notebook/kernelClient.ts + jupyter.ts) against a real
 * tslab kernel, on tiny notebooks written here: outputs are collected, parameters injected
 * after the `parameters` cell, and a failing cell (runtime or compile error) fails the run.
 */

function notebook(cells: { source: string; tags?: string[]; markdown?: boolean }[]): NotebookJson {
  return {
    cells: cells.map((c) =>
      c.markdown
        ? { cell_type: 'markdown', source: c.source, metadata: {} }
        : { cell_type: 'code', source: c.source, outputs: [], execution_count: null, metadata: c.tags ? { tags: c.tags } : {} },
    ),
    metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

function withNotebook(nb: NotebookJson, run: (path: string, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-nbkernel-'));
  const path = join(dir, 'small.ipynb');
  writeFileSync(path, JSON.stringify(nb));
  return run(path, dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('message signature is HMAC-SHA256 over the four JSON frames (Jupyter wire protocol)', () => {
  // Reference: Python's hmac.new(b'key', b'{"a":1}{}{}{}', 'sha256').hexdigest()
  assert.equal(signFrames('key', ['{"a":1}', '{}', '{}', '{}']), 'f1128388193e4dd1aa760827bd756a1b40b627676b5efe22c0e8297919bfa218');
});

test('a notebook runs on the tslab kernel: streams, results, injected parameters, env and cwd', { timeout: 180_000 }, async () => {
  const nb = notebook([
    { source: '# Small', markdown: true },
    { source: 'let FACTOR = 2;', tags: ['parameters'] },
    { source: "console.log('factor=' + FACTOR + ' env=' + process.env.FAT2019_PROBE + ' cwd=' + process.cwd());" },
    { source: 'FACTOR * 21' },
  ]);
  await withNotebook(nb, async (path, dir) => {
    const r = await executeNotebook(path, { outputDir: join(dir, 'out'), env: { FAT2019_PROBE: 'yes' }, injectParameters: 'FACTOR = 3;' });
    assert.ok(r.ok, r.error);
    const executed = JSON.parse(readFileSync(r.outputPath, 'utf8')) as NotebookJson;
    assert.equal(executed.cells.length, 5, 'the injected cell is in the executed copy');
    assert.deepEqual(executed.cells[2].metadata?.tags, ['injected-parameters']);
    const printed = executed.cells[3].outputs as { output_type: string; text?: string }[];
    assert.equal(printed[0].output_type, 'stream');
    assert.match(printed[0].text ?? '', new RegExp(`^factor=3 env=yes cwd=${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n$`));
    // tslab prints a cell's last expression value to stdout.
    const result = executed.cells[4].outputs as { output_type: string; name?: string; text?: string }[];
    assert.deepEqual(result.map((o) => [o.output_type, o.name, o.text]), [['stream', 'stdout', '63\n']]);
    assert.equal(executed.cells[4].execution_count, 4);
  });
});

test('a failing cell fails the run, names the cell and its error, and stops there', { timeout: 180_000 }, async () => {
  const nb = notebook([
    { source: "console.log('first');" },
    { source: "throw new Error('boom from cell 1');" },
    { source: "console.log('never');" },
  ]);
  await withNotebook(nb, async (path, dir) => {
    const r = await executeNotebook(path, { outputDir: join(dir, 'out') });
    assert.equal(r.ok, false);
    assert.match(r.error ?? '', /CELL FAILED: cell 1 of .*small\.ipynb/);
    assert.match(r.error ?? '', /boom from cell 1/);
    const executed = JSON.parse(readFileSync(r.outputPath, 'utf8')) as NotebookJson;
    assert.deepEqual(executed.cells[2].outputs, [], 'cells after the failure do not run');
  });
});

test('a cell that does not compile fails the run with the compiler message', { timeout: 180_000 }, async () => {
  const nb = notebook([{ source: "const n: number = 'not a number';" }]);
  await withNotebook(nb, async (path, dir) => {
    const r = await executeNotebook(path, { outputDir: join(dir, 'out') });
    assert.equal(r.ok, false);
    assert.match(r.error ?? '', /not assignable to type 'number'/);
  });
});

test('a kernel that dies during a cell fails the run, naming the exit', { timeout: 180_000 }, async () => {
  const nb = notebook([{ source: 'process.exit(3);' }, { source: "console.log('never');" }]);
  await withNotebook(nb, async (path, dir) => {
    const r = await executeNotebook(path, { outputDir: join(dir, 'out') });
    assert.equal(r.ok, false);
    assert.match(r.error ?? '', /CELL FAILED: cell 0 .*tslab kernel died during the cell \(exit code 3\)/);
  });
});
