/**
 * Inference on ONNX Runtime: `fat2019 export`, `infer --engine ort` = `--engine tfjs` within
 * 1e-4 on a run folder built here (two CNN-model-1 members with trained-like BatchNorm
 * statistics), export on first use and after retraining, the tfjs fallback, and the errors for
 * a missing engine and corrupt or mismatched model.onnx files.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CONFIG_DEFAULTS, withDefaults, type Fat2019Config } from '../../lib/config';
import { encodeWavPcm16 } from '../../lib/audio/wav';
import { buildModel } from '../../lib/models/index';
import { saveModel } from '../../lib/runtime/modelFile';
import { writeFoldDone, writeRunInfo } from '../../lib/run/runFolder';
import { readSubmission } from '../../lib/data/submission';
import { runCommand } from '../../lib/cli/command';
import { exportCommand } from '../../lib/cli/export';
import { inferCommand } from '../../lib/cli/infer';
import { exportRun } from '../../lib/export/exportRun';
import { exportModelBytes, onnxPath, readOnnxFile } from '../../lib/export/onnxFile';
import { chooseEngine, loadEnsemble, ortNetwork, predictDataset, tagFiles } from '../../lib/infer/index';
import { loadOnnxRuntime } from '../../lib/runtime/onnxRuntime';
import { Rng } from '../../lib/util/rng';

const { ort, reason } = loadOnnxRuntime();
const needsOrt = ort ? {} : { skip: reason };
const VOCAB = ['Bark', 'Meow', 'Purr'];
const CONFIG: Fat2019Config = withDefaults(CONFIG_DEFAULTS, {
  model: { numClasses: VOCAB.length, widthMultiplier: 0.0625, inputMels: 64 },
  preprocess: { nMels: 64 },
  pipeline: { ensembleStages: [2] },
  infer: { batchSize: 4 },
});

let root = '';
let runDir = '';
let dataDir = '';
const memberDir = (fold: number) => join(runDir, 'cnnModel1', 'stage2', `fold${fold}`, 'best');

/** A member with non-trivial BatchNorm statistics, as after training. */
async function saveMember(fold: number, seed: number, cfg = CONFIG.model): Promise<tf.LayersModel> {
  const model = buildModel(cfg, { seed });
  const rng = new Rng(seed + 100);
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const ws = layer.getWeights().map((w, i) => tf.tensor(Float32Array.from({ length: w.size }, () => (i === 3 ? 0.5 + rng.uniform() : rng.normal() * 0.3)), w.shape));
    layer.setWeights(ws);
    tf.dispose(ws);
  }
  await saveModel(model, memberDir(fold));
  return model;
}

/**
 * Runs a command in-process; returns its exit code and what it wrote to stderr. (stdout is the
 * test runner's channel and is left alone: commands run with --quiet or --json, or results are
 * read from the files they write.)
 */
async function run(command: typeof inferCommand, argv: string[]): Promise<{ code: number; stderr: string }> {
  const errWrite = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((s: string) => { stderr += s; return true; }) as typeof process.stderr.write;
  try {
    return { code: await runCommand(command, argv), stderr };
  } finally {
    process.stderr.write = errWrite;
  }
}

before(async () => {
  await tf.setBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'fat2019-onnx-'));
  runDir = join(root, 'run');
  dataDir = join(root, 'data');
  mkdirSync(join(dataDir, 'test'), { recursive: true });
  const clips: Array<[string, number]> = [['b.wav', 3.2], ['a.wav', 0.8], ['c.wav', 1.9]];
  clips.forEach(([f, sec], i) => {
    const rng = new Rng(i);
    const n = Math.round(sec * 44100);
    writeFileSync(join(dataDir, 'test', f), encodeWavPcm16(Float32Array.from({ length: n }, (_, k) => 0.3 * Math.sin(k * (0.02 + 0.03 * i)) + 0.05 * (rng.uniform() - 0.5)), 44100));
  });
  writeFileSync(join(dataDir, 'sample_submission.csv'), `fname,${VOCAB.join(',')}\n${clips.map(([f]) => `${f},0,0,0`).join('\n')}\n`);
  writeRunInfo(runDir, { version: 1, config: CONFIG, vocabulary: VOCAB, dataDir, createdAt: new Date(0).toISOString() });
  for (const fold of [0, 1]) {
    (await saveMember(fold, 40 + fold)).dispose();
    writeFoldDone(runDir, { arch: 'cnnModel1', stage: 2, fold, epochs: 1, bestValidLwlrap: 0.5, trainClips: 1, validClips: 1, seconds: 1, finishedAt: '' });
  }
});

after(() => rmSync(root, { recursive: true, force: true }));

const common = () => ['--run', runDir, '--backend', 'cpu', '--workers', '0', '--cache', join(root, 'cache')];

test('export writes model.onnx beside each member (logits, classes in metadata); a second export keeps them', needsOrt, async () => {
  const first = await run(exportCommand, ['--run', runDir, '--quiet']);
  assert.equal(first.code, 0, first.stderr);
  for (const fold of [0, 1]) {
    const info = readOnnxFile(onnxPath(memberDir(fold)));
    assert.deepEqual(info.inputDims, ['batch', 3, 64, 128]);
    assert.equal(info.numClasses, 3);
    assert.equal(info.output, 'logits');
  }
  const again = await exportRun(runDir);
  assert.deepEqual(again.map((f) => f.status), ['up to date', 'up to date']);
  const forced = await exportRun(runDir, { folds: [1], force: true });
  assert.deepEqual(forced.map((f) => [f.file, f.status]), [[onnxPath(memberDir(1)), 'exported']]);
  const bad = await run(exportCommand, ['--run', runDir, '--activation', 'relu']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--activation must be none, sigmoid or softmax, got "relu"/);
});

test('infer --engine ort and --engine tfjs: submissions within 1e-4; the engine and its reason are printed', needsOrt, async () => {
  const outOrt = join(root, 'ort.csv');
  const outTfjs = join(root, 'tfjs.csv');
  const a = await run(inferCommand, [...common(), '--engine', 'ort', '--out', outOrt]);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stderr, /engine: ONNX Runtime, \d+ threads? \(asked for \(--engine ort\); onnxruntime-node 1\.30\.0 loaded\)/);
  const b = await run(inferCommand, [...common(), '--engine', 'tfjs', '--out', outTfjs]);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, /engine: tfjs \(asked for \(--engine tfjs\)\)/);
  const sa = readSubmission(outOrt, VOCAB);
  const sb = readSubmission(outTfjs, VOCAB);
  assert.deepEqual(sa.fnames, ['b.wav', 'a.wav', 'c.wav']);
  let diff = 0;
  for (let i = 0; i < sa.scores.length; i++) diff = Math.max(diff, Math.abs(sa.scores[i] - sb.scores[i]));
  assert.ok(diff < 1e-4, `max |ort − tfjs| = ${diff}`);
  assert.ok(sa.scores.some((v) => Math.abs(v - 0.5) > 1e-3), 'scores are not trivial');
  const ens = await loadEnsemble(runDir, { engine: 'ort' });
  try {
    const [tagged] = await tagFiles([join(dataDir, 'test', 'b.wav')], ens, { topK: 1 });
    assert.ok(Math.abs(tagged.labels[0].probability - Math.max(sa.scores[0], sa.scores[1], sa.scores[2])) < 1e-4);
  } finally {
    ens.dispose();
  }
});

test('first use exports missing files; a retrained member is exported again', needsOrt, async () => {
  rmSync(onnxPath(memberDir(0)));
  const lines: string[] = [];
  const ens = await loadEnsemble(runDir, { engine: 'ort', log: (l) => lines.push(l) });
  ens.dispose();
  assert.deepEqual(lines, [`exported ${onnxPath(memberDir(0))} (first use)`]);
  const lines2: string[] = [];
  assert.ok(existsSync(onnxPath(memberDir(0))));
  const before = readFileSync(onnxPath(memberDir(1)));
  (await saveMember(1, 77)).dispose(); // "retrained"
  const ens2 = await loadEnsemble(runDir, { engine: 'ort', log: (l) => lines2.push(l) });
  ens2.dispose();
  assert.deepEqual(lines2, [`exported ${onnxPath(memberDir(1))} (the tfjs model changed since it was exported)`]);
  assert.notDeepEqual(readFileSync(onnxPath(memberDir(1))), before);
});

test('bad model.onnx files: corrupt, probabilities instead of logits, other class count, other input shape → errors naming the file', needsOrt, async () => {
  const file = onnxPath(memberDir(0));
  const good = readFileSync(file);
  const expectError = async (pattern: RegExp) => {
    const r = await run(inferCommand, [...common(), '--engine', 'ort', '--out', join(root, 'x.csv')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, pattern);
    assert.ok(!existsSync(join(root, 'x.csv')));
  };
  try {
    writeFileSync(file, good.subarray(0, 1000));
    await expectError(/model\.onnx: not an ONNX model .*fat2019 export --run .* --force/);
    writeFileSync(file, Buffer.alloc(0));
    await expectError(/model\.onnx: empty file, not an ONNX model/);
    // Foreign files (no source checksum): checked, never overwritten.
    const other = (cfg: Partial<Fat2019Config['model']>, activation: 'none' | 'sigmoid' = 'none') => {
      const m = buildModel(withDefaults(CONFIG.model, cfg), { seed: 1 });
      const bytes = exportModelBytes(m, { activation });
      m.dispose();
      return bytes;
    };
    writeFileSync(file, other({ numClasses: 5 }));
    await expectError(/model\.onnx: outputs 5 classes, the run has 3/);
    writeFileSync(file, other({ inputMels: 32 }));
    await expectError(/model\.onnx: input is \[batch, 3, 32, 128\], the run needs \[batch, 3, 64, 128\]/);
    writeFileSync(file, other({}, 'sigmoid'));
    await expectError(/model\.onnx: outputs sigmoid probabilities, inference needs logits/);
  } finally {
    writeFileSync(file, good);
  }
  assert.ok(statSync(file).size > 1000);
});

test('without onnxruntime-node: auto falls back to tfjs with the reason, --engine ort is a usage error', async () => {
  process.env.FAT2019_NO_ORT = '1';
  try {
    assert.deepEqual(chooseEngine('auto'), { engine: 'tfjs', reason: 'FAT2019_NO_ORT=1 is set' });
    const r = await run(inferCommand, [...common(), '--engine', 'ort', '--out', join(root, 'y.csv')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--engine ort: FAT2019_NO_ORT=1 is set/);
    const auto = await run(inferCommand, [...common(), '--out', join(root, 'y.csv')]);
    assert.equal(auto.code, 0, auto.stderr);
    assert.match(auto.stderr, /engine: tfjs \(FAT2019_NO_ORT=1 is set\)/);
    const bad = await run(inferCommand, [...common(), '--engine', 'onnx']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--engine must be one of auto, ort, tfjs, got 'onnx'/);
  } finally {
    delete process.env.FAT2019_NO_ORT;
  }
});

test('the ONNX Runtime session on a worker thread gives the main thread\'s logits exactly, with input normalisation; a dead worker is an error', needsOrt, async () => {
  const model = buildModel(CONFIG.model, { seed: 2 });
  const bytes = exportModelBytes(model);
  model.dispose();
  const dims = { channels: 3, height: 64, width: 128, numClasses: 3 };
  const normalization = { mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3] };
  const main = await ortNetwork(bytes, 'm', dims, { threads: 1, normalization });
  const worker = await ortNetwork(bytes, 'm', dims, { threads: 1, normalization, thread: 'worker' });
  const plain = await ortNetwork(bytes, 'm', dims, { threads: 1 });
  const rng = new Rng(9);
  const x = Float32Array.from({ length: 5 * 64 * 128 }, () => rng.uniform());
  const a = await main.logits(x, 5, 64, 128);
  const b = await worker.logits(x, 5, 64, 128);
  const c = await plain.logits(x, 5, 64, 128);
  assert.deepEqual([...b], [...a]);
  assert.notDeepEqual([...c], [...a], 'normalisation changes the input');
  worker.dispose();
  await assert.rejects(worker.logits(x, 5, 64, 128), /ONNX Runtime worker thread|exited/);
  main.dispose();
  plain.dispose();
  await assert.rejects(ortNetwork(new Uint8Array([1, 2, 3]), 'junk.onnx', dims, { thread: 'worker' }), /junk\.onnx: ONNX Runtime cannot load it/);
});

test('predictDataset with preprocessing workers running alongside the network = computed in this thread', needsOrt, async () => {
  const ens = await loadEnsemble(runDir, { engine: 'ort' });
  try {
    const inline = await predictDataset({ ensemble: ens, dataDir, cacheDir: join(root, 'cache-inline'), preprocessWorkers: 0, chunkClips: 1 });
    const progress: number[] = [];
    const parallel = await predictDataset({
      ensemble: ens, dataDir, cacheDir: join(root, 'cache-workers'), preprocessWorkers: 2, chunkClips: 1, onPreprocessProgress: (p) => progress.push(p.done),
    });
    assert.deepEqual(parallel.fnames, inline.fnames);
    assert.deepEqual([...parallel.scores], [...inline.scores]);
    assert.equal(progress[progress.length - 1], 3, 'the workers computed every clip');
  } finally {
    ens.dispose();
  }
});
