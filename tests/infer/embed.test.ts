/**
 * Embeddings (lib/infer/embed, `fat2019 embed`): the penultimate layer of a run's network,
 * averaged over the clip's windows, written as CSV or .npy. Oracle: PyTorch's fc1 output of the
 * PANNs Cnn14 fixture (scripts/make-panns-fixtures.py) on the fixture clip.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { audioFilesOf, embedClipImages, embeddingModel, npyFloat32 } from '../../lib/infer/embed';
import { importWeights } from '../../lib/run/importWeights';
import { embedCommand } from '../../lib/cli/embed';
import { runCommand } from '../../lib/cli/command';
import { buildModel } from '../../lib/models/index';
import { MODEL_DEFAULTS } from '../../lib/config';

const DIR = path.join(__dirname, '..', 'fixtures', 'panns');
const EXPECTED = JSON.parse(fs.readFileSync(path.join(DIR, 'expected.json'), 'utf8')) as {
  models: Array<{ arch: string; file: string; embeddingClip: number[] }>;
};
let root = '';
before(async () => {
  await tf.setBackend('cpu');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fat2019-embed-'));
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

test('embeddingModel: the input of the last Dense layer (fastai head: the 512 hidden units; PANNs: fc1)', async () => {
  const cnn = buildModel({ ...MODEL_DEFAULTS, numClasses: 5, widthMultiplier: 1 / 16, inputMels: 32, inputFrames: 32 });
  assert.deepEqual(embeddingModel(cnn).outputs[0].shape, [null, 512]);
  const panns = buildModel({ ...MODEL_DEFAULTS, arch: 'pannsCnn10', numClasses: 5, widthMultiplier: 1 / 16, inputMels: 64, inputFrames: 100 });
  assert.deepEqual(embeddingModel(panns).outputs[0].shape, [null, 32]);
  // the mean over windows: two windows of a clip = the mean of the two
  const img = { nMels: 32, frames: 48, data: Uint8Array.from({ length: 32 * 48 }, (_, i) => (i * 37) % 256) };
  const whole = embedClipImages(cnn, [img], { windowFrames: 32, windowShift: 16, batchSize: 4 });
  const one = (start: number) => embedClipImages(cnn, [{ nMels: 32, frames: 32, data: Uint8Array.from({ length: 32 * 32 }, (_, k) => img.data[Math.floor(k / 32) * 48 + start + (k % 32)]) }], { windowFrames: 32, windowShift: 16, batchSize: 4 }).values;
  const [a, b] = [one(0), one(16)];
  assert.equal(whole.dims, 512);
  for (let d = 0; d < 512; d++) assert.ok(Math.abs(whole.values[d] - (a[d] + b[d]) / 2) < 1e-5);
  cnn.dispose();
  panns.dispose();
});

test('fat2019 embed on an imported PANNs run: fc1 of PyTorch within 1e-4; CSV and .npy', async () => {
  const runDir = path.join(root, 'cnn14');
  const m = EXPECTED.models.find((x) => x.arch === 'pannsCnn14')!;
  await importWeights(runDir, [{ file: path.join(DIR, m.file), stage: 1, fold: 0 }], { arch: 'pannsCnn14' });
  const clips = path.join(root, 'clips', 'sub');
  fs.mkdirSync(clips, { recursive: true });
  fs.copyFileSync(path.join(DIR, 'clip.wav'), path.join(clips, 'a.wav'));
  fs.copyFileSync(path.join(DIR, 'clip.wav'), path.join(root, 'clips', 'b.wav'));
  fs.writeFileSync(path.join(clips, 'notes.txt'), 'not audio');
  assert.deepEqual(audioFilesOf([path.join(root, 'clips')]).map((f) => path.relative(root, f)), ['clips/b.wav', 'clips/sub/a.wav']);
  const csv = path.join(root, 'emb.csv');
  const quietArgs = ['--run', runDir, '--backend', 'cpu', '--quiet'];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  let codes: number[];
  try {
    codes = [
      await runCommand(embedCommand, [...quietArgs, '--out', csv, path.join(root, 'clips')]),
      await runCommand(embedCommand, [...quietArgs, '--out', path.join(root, 'emb.npy'), path.join(clips, 'a.wav')]),
    ];
  } finally {
    process.stdout.write = write;
  }
  assert.deepEqual(codes, [0, 0]);
  const rows = fs.readFileSync(csv, 'utf8').trim().split('\n');
  assert.equal(rows.length, 3);
  assert.equal(rows[0].split(',').length, 1 + m.embeddingClip.length);
  const values = rows[2].split(',').slice(1).map(Number);
  const diff = Math.max(...values.map((v, i) => Math.abs(v - m.embeddingClip[i])));
  assert.ok(diff < 1e-4, `embedding vs PyTorch fc1: ${diff}`);
  assert.ok(m.embeddingClip.some((v) => v > 0), 'a live embedding');
  // .npy: numpy's header, float32 values, names beside it
  const npy = fs.readFileSync(path.join(root, 'emb.npy'));
  assert.equal(npy.subarray(1, 6).toString('latin1'), 'NUMPY');
  const headerLen = npy.readUInt16LE(8);
  assert.equal((10 + headerLen) % 64, 0);
  assert.match(npy.subarray(10, 10 + headerLen).toString('latin1'), new RegExp(`'shape': \\(1, ${m.embeddingClip.length}\\)`));
  const first = npy.readFloatLE(10 + headerLen);
  assert.ok(Math.abs(first - values[0]) < 1e-6);
  assert.equal(fs.readFileSync(path.join(root, 'emb.files.txt'), 'utf8'), `${path.join(clips, 'a.wav')}\n`);
  assert.equal((npyFloat32(new Float32Array(6), 2, 3).length - 24) % 64, 0, "header padded to 64 bytes");
  // usage errors exit 2
  const err = process.stderr.write.bind(process.stderr);
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    assert.equal(await runCommand(embedCommand, [...quietArgs, '--out', path.join(root, 'x.txt'), clips]), 2);
    // the output rule: never inside the run folder, never over a file it did not write
    assert.equal(await runCommand(embedCommand, [...quietArgs, '--out', path.join(runDir, 'emb.csv'), clips]), 2);
    fs.writeFileSync(path.join(root, 'mine.csv'), 'a,b\n1,2\n');
    assert.equal(await runCommand(embedCommand, [...quietArgs, '--out', path.join(root, 'mine.csv'), clips]), 2);
    assert.equal(fs.readFileSync(path.join(root, 'mine.csv'), 'utf8'), 'a,b\n1,2\n');
    // a .npy's file list obeys the rule too: the user's notes.files.txt is never replaced
    fs.writeFileSync(path.join(root, 'notes.files.txt'), 'my notes\n');
    assert.equal(await runCommand(embedCommand, [...quietArgs, '--out', path.join(root, 'notes.npy'), clips]), 2);
    assert.equal(fs.readFileSync(path.join(root, 'notes.files.txt'), 'utf8'), 'my notes\n');
    assert.ok(!fs.existsSync(path.join(root, 'notes.npy')));
    // rewriting the earlier emb.npy (and its list) is allowed
    assert.equal(await runCommand(embedCommand, [...quietArgs, '--out', path.join(root, 'emb.npy'), path.join(clips, 'a.wav')]), 0);
  } finally {
    process.stderr.write = err;
  }
});

test('pca: exactly 2-D data gives its two directions and variance shares; the notebook figure has a trace per label', async () => {
  const { pca, embeddingPcaFigure } = await import('../../lib/notebook/embeddings');
  const u = [0.6, 0.8, 0, 0];
  const w = [0, 0, 0.28, 0.96];
  const rows = 40;
  const x = new Float32Array(rows * 4);
  const centred = (v: number[]) => { const m = v.reduce((s, y) => s + y, 0) / v.length; return v.map((y) => y - m); };
  const dot = (p: number[], q: number[]) => p.reduce((s, y, i) => s + y * q[i], 0);
  const sq = (v: number[]) => dot(v, v);
  // uncorrelated coordinates (b orthogonalised against a), a with the larger variance
  const ca = centred(Array.from({ length: rows }, (_, r) => 3 * Math.sin(r * 1.3)));
  const b0 = centred(Array.from({ length: rows }, (_, r) => Math.cos(r * 0.7)));
  const cb = b0.map((y, i) => y - (dot(b0, ca) / sq(ca)) * ca[i]);
  for (let r = 0; r < rows; r++) for (let d = 0; d < 4; d++) x[r * 4 + d] = 5 + ca[r] * u[d] + cb[r] * w[d];
  const { scores, explained } = pca(x, rows, 4, 2);
  for (let r = 0; r < rows; r++) {
    assert.ok(Math.abs(Math.abs(scores[2 * r]) - Math.abs(ca[r])) < 1e-3, `PC1 row ${r}`);
    assert.ok(Math.abs(Math.abs(scores[2 * r + 1]) - Math.abs(cb[r])) < 1e-3, `PC2 row ${r}`);
  }
  assert.ok(Math.abs(explained[0] - sq(ca) / (sq(ca) + sq(cb))) < 1e-6);
  assert.ok(Math.abs(explained[0] + explained[1] - 1) < 1e-6);

  const data = path.join(root, 'pca-data');
  for (const label of ['tone', 'other']) {
    fs.mkdirSync(path.join(data, 'train', label), { recursive: true });
    for (let i = 0; i < 2; i++) fs.copyFileSync(path.join(DIR, 'clip.wav'), path.join(data, 'train', label, `${i}.wav`));
  }
  const { detectLayout } = await import('../../lib/data/layout');
  const fig = await embeddingPcaFigure(path.join(root, 'cnn14'), detectLayout(data));
  assert.deepEqual(fig.data.map((t) => t.name).sort(), ['other', 'tone']);
  assert.equal((fig.data[0].x as number[]).length, 2);
});
