/**
 * Backend selection (lib/runtime/backend). initBackend is once per process, so each scenario runs
 * in a child process that prints its BackendInfo as JSON; the child must also exit by itself
 * (wasm pthread workers must not keep a process alive).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeBackend, parseBackendPreference, parseThreads, BackendInfo } from '../../lib/runtime/backend';
import { backendOptions } from '../../lib/cli/options';
import { UsageError } from '../../lib/cli/command';

const BACKEND_TS = path.join(__dirname, '..', '..', 'lib', 'runtime', 'backend.ts');

function isInstalled(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/** Runs initBackend(options) in a child with `env`; returns its info, or the error message. */
function childInit(env: Record<string, string>, options: object = {}, work = false): { info?: BackendInfo; error?: string; status: number | null } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fat2019-backend-test-'));
  try {
    const script = path.join(dir, 'child.cjs');
    fs.writeFileSync(script, `
      const { initBackend } = require(${JSON.stringify(BACKEND_TS)});
      const tf = require('@tensorflow/tfjs');
      initBackend(${JSON.stringify(options)}).then((info) => {
        ${work ? `tf.tidy(() => tf.conv2d(tf.ones([2, 16, 16, 8]), tf.ones([3, 3, 8, 8]), 1, 'same').dataSync());` : ''}
        process.stdout.write('RESULT ' + JSON.stringify(info) + '\\n');
      }, (err) => { process.stdout.write('ERROR ' + JSON.stringify(err.message) + '\\n'); });
    `);
    const childEnv: NodeJS.ProcessEnv = { ...process.env, NODE_PATH: path.join(__dirname, '..', '..', 'node_modules') };
    delete childEnv.FAT2019_BACKEND;
    delete childEnv.FAT2019_THREADS;
    const res = spawnSync(process.execPath, ['--import', 'tsx', script], {
      env: { ...childEnv, ...env }, encoding: 'utf8', timeout: 60_000, cwd: path.join(__dirname, '..', '..'),
    });
    const line = res.stdout.split('\n').find((l) => l.startsWith('RESULT ') || l.startsWith('ERROR '));
    assert.ok(line, `child printed no result (status ${res.status}, signal ${res.signal}): ${res.stderr.slice(-2000)}`);
    if (line.startsWith('ERROR ')) return { error: JSON.parse(line.slice(6)) as string, status: res.status };
    return { info: JSON.parse(line.slice(7)) as BackendInfo, status: res.status };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('FAT2019_BACKEND=cpu is honoured and the skipped backends are explained', () => {
  const { info, status } = childInit({ FAT2019_BACKEND: 'cpu' }, { prefer: 'wasm' });
  assert.equal(status, 0);
  assert.ok(info);
  assert.equal(info.name, 'cpu');
  assert.equal(info.flavour, 'cpu');
  assert.deepEqual(info.reasons, [
    'tfjs-node-gpu: skipped (FAT2019_BACKEND=cpu)',
    'tfjs-node: skipped (FAT2019_BACKEND=cpu)',
    'wasm: skipped (FAT2019_BACKEND=cpu)',
  ]);
  assert.ok(!info.customKernels.some((k) => k.startsWith('wasm:')), `${info.customKernels}`);
});

test('auto selection explains why native backends were skipped and picks the first that works', () => {
  const { info, status } = childInit({}, {}, true);
  assert.equal(status, 0, 'the child exits by itself after wasm work (threads do not hold it)');
  assert.ok(info);
  for (const [flavour, pkg] of [['tfjs-node-gpu', '@tensorflow/tfjs-node-gpu'], ['tfjs-node', '@tensorflow/tfjs-node']]) {
    if (!isInstalled(pkg)) assert.ok(info.reasons.includes(`${flavour}: not installed`), `${info.reasons}`);
  }
  if (!isInstalled('@tensorflow/tfjs-node-gpu') && !isInstalled('@tensorflow/tfjs-node')) {
    assert.equal(info.name, 'wasm');
    assert.equal(info.simd, true);
    assert.ok(info.threads >= 1);
    assert.ok(info.customKernels.includes('wasm:Conv2DBackpropFilter'));
  }
});

test('FAT2019_THREADS sets the wasm thread count (1 and 2), and threaded runs exit cleanly', () => {
  const one = childInit({ FAT2019_BACKEND: 'wasm', FAT2019_THREADS: '1' }, { threads: 2 }, true);
  assert.equal(one.status, 0);
  assert.equal(one.info?.name, 'wasm');
  assert.equal(one.info?.threads, 1);
  const two = childInit({ FAT2019_BACKEND: 'wasm', FAT2019_THREADS: '2' }, {}, true);
  assert.equal(two.status, 0);
  assert.equal(two.info?.name, 'wasm');
  // Where threads cannot start, a reason says why and 1 thread is used.
  if (two.info?.threads !== 2) assert.ok(two.info?.reasons.some((r) => r.startsWith('wasm threads:')), `${two.info?.reasons}`);
});

test('a bad FAT2019_BACKEND value is an error naming the variable', () => {
  const { error } = childInit({ FAT2019_BACKEND: 'tpu' });
  assert.match(error ?? '', /FAT2019_BACKEND must be one of gpu, node, wasm, cpu, auto; got 'tpu'/);
});

test('preference and thread parsing validate their input', () => {
  assert.equal(parseBackendPreference('GPU', 'x'), 'tfjs-node-gpu');
  assert.equal(parseBackendPreference('tensorflow', 'x'), 'tfjs-node-gpu');
  assert.equal(parseBackendPreference('node', 'x'), 'tfjs-node');
  assert.equal(parseBackendPreference(' wasm ', 'x'), 'wasm');
  assert.throws(() => parseBackendPreference('webgl', 'prefer'), /prefer must be one of .* got 'webgl'/);
  assert.equal(parseThreads('2', 'FAT2019_THREADS'), 2);
  assert.equal(parseThreads(64, 'threads'), 8);
  assert.throws(() => parseThreads('0', 'FAT2019_THREADS'), /FAT2019_THREADS must be an integer >= 1, got '0'/);
  assert.throws(() => parseThreads('two', 'FAT2019_THREADS'), /got 'two'/);
});

test('describeBackend gives one line with flavour, threads, kernels and reasons', () => {
  const line = describeBackend({
    name: 'wasm', flavour: 'wasm', threads: 2, simd: true, reasons: ['tfjs-node: not installed'],
    customKernels: ['wasm:Conv2DBackpropFilter'],
  });
  assert.equal(line, 'backend wasm (SIMD, 2 threads; custom: wasm:Conv2DBackpropFilter; skipped: tfjs-node: not installed)');
  assert.ok(!line.includes('\n'));
});

test('CLI --backend/--threads follow the backend rules; a bad value is a usage error naming the option', () => {
  assert.deepEqual(backendOptions({}), {});
  assert.deepEqual(backendOptions({ backend: 'wasm', threads: '2' }), { prefer: 'wasm', threads: 2 });
  assert.deepEqual(backendOptions({ backend: 'tfjs-node' }), { prefer: 'tfjs-node' }, 'the FAT2019_BACKEND spellings work too');
  assert.throws(() => backendOptions({ backend: 'gpuu' }), (e: Error) => e instanceof UsageError && /--backend must be one of .*got 'gpuu'/.test(e.message));
  assert.throws(() => backendOptions({ threads: '0' }), (e: Error) => e instanceof UsageError && /--threads must be an integer >= 1, got '0'/.test(e.message));
});
