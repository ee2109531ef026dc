/**
 * lib/infer and `fat2019 infer` on a fake run folder built here (tiny CNN-model-1 members saved
 * as a training run would, a few generated WAVs): window placement, ensemble means against a
 * direct per-window computation, tensor hygiene, submission + scoring, ensemble loading errors.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CONFIG_DEFAULTS, withDefaults, type Fat2019Config } from '../../lib/config';
import { encodeWavPcm16 } from '../../lib/audio/wav';
import type { ClipImage } from '../../lib/features/types';
import { buildModel } from '../../lib/models/index';
import { saveModel } from '../../lib/runtime/modelFile';
import { writeFoldDone, writeRunInfo } from '../../lib/run/runFolder';
import { writeSubmission, readSubmission } from '../../lib/data/submission';
import { scoreSubmission } from '../../lib/task/score';
import { spawnSync } from 'node:child_process';
import { UsageError } from '../../lib/cli/command';
import { COMMANDS } from '../../lib/cli/commands';
import { inferCommand } from '../../lib/cli/infer';
import {
  datasetFnames, ensembleFromModels, frequencyBaseline, loadEnsemble, planWindows, predictDataset, predictImages, windowStarts,
} from '../../lib/infer/index';
import { Rng } from '../../lib/util/rng';

const ROOT = join(__dirname, '..', '..');
const VOCAB = ['Bark', 'Meow', 'Purr'];
const CONFIG: Fat2019Config = withDefaults(CONFIG_DEFAULTS, {
  model: { numClasses: VOCAB.length, widthMultiplier: 0.0625 },
  pipeline: { ensembleStages: [2, 3] },
  infer: { batchSize: 5 },
});

let root = '';
let runDir = '';
let dataDir = '';
let cacheDir = '';
/** Test clips in sample_submission order (deliberately not sorted) and their lengths in seconds. */
const CLIPS: Array<[string, number]> = [['c.wav', 3.5], ['a.wav', 0.6], ['b.wav', 2.4]];

function tone(seconds: number, freq: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const n = Math.round(seconds * 44100);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 0.3 * Math.sin((2 * Math.PI * freq * i) / 44100) + 0.05 * (rng.uniform() - 0.5);
  return out;
}

async function saveMember(stage: number, fold: number, seed: number, done = true): Promise<void> {
  const model = buildModel(CONFIG.model, { seed });
  await saveModel(model, join(runDir, 'cnnModel1', `stage${stage}`, `fold${fold}`, 'last'));
  model.dispose();
  if (done) {
    writeFoldDone(runDir, {
      arch: 'cnnModel1', stage, fold, epochs: 1, bestValidLwlrap: 0.5, trainClips: 1, validClips: 1, seconds: 1, finishedAt: new Date(0).toISOString(),
    });
  }
}

before(async () => {
  await tf.setBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'fat2019-infer-'));
  runDir = join(root, 'weights', 'run1');
  dataDir = join(root, 'data');
  cacheDir = join(root, 'cache');
  mkdirSync(join(dataDir, 'test'), { recursive: true });
  CLIPS.forEach(([fname, sec], i) => writeFileSync(join(dataDir, 'test', fname), encodeWavPcm16(tone(sec, 300 + 500 * i, i), 44100)));
  writeFileSync(join(dataDir, 'sample_submission.csv'), `fname,${VOCAB.join(',')}\n${CLIPS.map(([f]) => `${f},0,0,0`).join('\n')}\n`);
  writeFileSync(join(dataDir, 'test_post_competition.csv'), 'fname,labels,usage\nc.wav,Purr,Public\na.wav,"Bark,Meow",Private\nb.wav,Meow,Public\n');
  writeRunInfo(runDir, { version: 1, config: CONFIG, vocabulary: VOCAB, dataDir, createdAt: new Date(0).toISOString() });
  await saveMember(1, 0, 10); // stage 1: not in the ensemble by default
  await saveMember(2, 0, 20);
  await saveMember(2, 1, 21);
  await saveMember(3, 0, 30);
  await saveMember(3, 1, 31, false); // unfinished: no done.json
});

after(() => rmSync(root, { recursive: true, force: true }));

test('window starts follow SPEC: s = ceil((T-128)/48)+1, start_i = round_half_even((T-128)i/(s-1))', () => {
  // Hand-computed: T=129: span 1, s=2 → 0, 1. T=176: span 48, s=2. T=177: span 49, s=3, 24.5 → 24 (even).
  // T=300: span 172, s=ceil(3.58)+1=5, 172/4=43 → 0,43,86,129,172.
  assert.deepEqual(windowStarts(128, 128, 48), [0]);
  assert.deepEqual(windowStarts(129, 128, 48), [0, 1]);
  assert.deepEqual(windowStarts(176, 128, 48), [0, 48]);
  assert.deepEqual(windowStarts(177, 128, 48), [0, 24, 49]);
  assert.deepEqual(windowStarts(300, 128, 48), [0, 43, 86, 129, 172]);
  assert.deepEqual(windowStarts(90, 128, 48), [0], 'a clip narrower than the window: one (padded) window');
  // A 30 s clip (1907 frames at hop 694): 39 windows, last one flush with the end.
  const long = windowStarts(1907, 128, 48);
  assert.equal(long.length, Math.ceil((1907 - 128) / 48) + 1);
  assert.equal(long[long.length - 1], 1907 - 128);
  assert.throws(() => windowStarts(300, 128, 0), /windowShift must be an integer >= 1, got 0/);
  const plan = planWindows([image(128, 1), image(300, 2)], 128, 48);
  assert.deepEqual(plan.map((w) => `${w.clip}:${w.start}`), ['0:0', '1:0', '1:43', '1:86', '1:129', '1:172']);
});

function image(frames: number, seed: number, nMels = 128): ClipImage {
  const rng = new Rng(seed);
  const data = new Uint8Array(nMels * frames);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { nMels, frames, data };
}

/** Sigmoid probabilities `[windows][C]` of each window of `img`, one forward pass per window (the reference computation). */
function windowProbs(model: tf.LayersModel, img: ClipImage): Float32Array[] {
  return windowStarts(img.frames, 128, 48).map((start) => {
    const x = new Float32Array(img.nMels * 128);
    const pad = img.frames < 128 ? Math.floor((128 - img.frames) / 2) : 0;
    for (let m = 0; m < img.nMels; m++) {
      for (let t = 0; t < Math.min(128, img.frames); t++) x[m * 128 + pad + t] = img.data[m * img.frames + start + t] / 255;
    }
    return tf.tidy(() => tf.sigmoid(model.predict(tf.tensor4d(x, [1, img.nMels, 128, 1]).tile([1, 1, 1, 3])) as tf.Tensor).dataSync() as Float32Array);
  });
}

/** Mean over every window of every model: arithmetic of p, or exp of the mean of log p. */
function directScores(perModel: Float32Array[][][], mean: 'arithmetic' | 'geometric'): Float32Array {
  const C = VOCAB.length;
  const nClips = perModel[0].length;
  const out = new Float32Array(nClips * C);
  for (let i = 0; i < nClips; i++) {
    const windows = perModel.flatMap((clips) => clips[i]);
    for (let c = 0; c < C; c++) {
      const s = windows.reduce((acc, p) => acc + (mean === 'geometric' ? Math.log(p[c]) : p[c]), 0) / windows.length;
      out[i * C + c] = mean === 'geometric' ? Math.exp(s) : s;
    }
  }
  return out;
}

test('predictImages = per-window sigmoid averaged over windows and models (arithmetic, geometric), padded short clips, no leaks', async () => {
  const models = [buildModel(CONFIG.model, { seed: 1 }), buildModel(CONFIG.model, { seed: 2 })];
  const ensemble = ensembleFromModels(models, VOCAB, CONFIG);
  try {
    // T = 90 (< 128, zero-padded as in training), 128, 129, 300: 1+1+2+5 = 9 windows, batches of 5 span clips.
    const images = [image(90, 3), image(128, 4), image(129, 5), image(300, 6)];
    const before = tf.memory().numTensors;
    const progress: number[] = [];
    const arith = await predictImages(ensemble, images, { onProgress: (p) => progress.push(p.done) });
    const geo = await predictImages(ensemble, images, { infer: { ensembleMean: 'geometric', batchSize: 3 } });
    assert.equal(tf.memory().numTensors, before, 'predictImages must leave no tensors');
    assert.equal(arith.length, images.length * VOCAB.length);
    const perModel = models.map((m) => images.map((img) => windowProbs(m, img)));
    assert.deepEqual(perModel[0].map((w) => w.length), [1, 1, 2, 5]);
    const refA = directScores(perModel, 'arithmetic');
    const refG = directScores(perModel, 'geometric');
    for (let i = 0; i < arith.length; i++) {
      assert.ok(Math.abs(arith[i] - refA[i]) < 1e-5, `arithmetic [${i}]: ${arith[i]} vs ${refA[i]}`);
      assert.ok(Math.abs(geo[i] - refG[i]) < 1e-5, `geometric [${i}]: ${geo[i]} vs ${refG[i]}`);
    }
    assert.ok(arith.some((v, i) => Math.abs(v - geo[i]) > 1e-7), 'the two means differ');
    assert.equal(progress[progress.length - 1], images.length * models.length);
    assert.ok(progress.every((d, i) => i === 0 || d >= progress[i - 1]), 'progress is monotone');
    // One model = that model's own window average.
    const single = ensembleFromModels([models[0]], VOCAB, CONFIG);
    assert.deepEqual([...await predictImages(single, images)].map((v) => v.toFixed(5)), [...directScores([perModel[0]], 'arithmetic')].map((v) => v.toFixed(5)));
    await assert.rejects(predictImages(ensemble, [image(128, 7, 64)]), /clip 0: image has 64 mel bands, cnnModel1\/stage0\/fold0 expects 128/);
    await assert.rejects(predictImages(ensemble, images, { infer: { windowFrames: 100 } }), /input is 128 frames wide but infer.windowFrames is 100/);
    assert.equal((await predictImages(ensemble, [])).length, 0);
  } finally {
    ensemble.dispose();
  }
});

test('loadEnsemble: finished members of the run\'s ensemble stages; filters; clear errors', async () => {
  const ens = await loadEnsemble(runDir);
  try {
    assert.deepEqual(ens.members.map((m) => `${m.arch}/${m.stage}/${m.fold}`), ['cnnModel1/2/0', 'cnnModel1/2/1', 'cnnModel1/3/0']);
    assert.ok(ens.members.every((m) => m.net !== null));
    assert.deepEqual(ens.vocabulary, VOCAB);
    assert.equal(ens.config.model.widthMultiplier, 0.0625);
  } finally {
    ens.dispose();
  }
  const s1 = await loadEnsemble(runDir, { stages: [1], lazy: true });
  assert.deepEqual(s1.members.map((m) => [m.stage, m.fold, m.net]), [[1, 0, null]]);
  s1.dispose();
  await assert.rejects(loadEnsemble(runDir, { stages: [4] }), (err: Error) => {
    assert.match(err.message, new RegExp(`^${runDir.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}: no finished ensemble member`));
    assert.match(err.message, /stage 4/);
    assert.match(err.message, /cnnModel1\/stage2 \(2 folds\)/);
    return true;
  });
  await assert.rejects(loadEnsemble(runDir, { archs: ['vgg16bn'] }), /arch vgg16bn/);
  const empty = join(root, 'weights', 'empty');
  mkdirSync(empty, { recursive: true });
  await assert.rejects(loadEnsemble(empty), /run\.json.*not a run folder/);
  const noModels = join(root, 'weights', 'fresh');
  writeRunInfo(noModels, { version: 1, config: CONFIG, vocabulary: VOCAB, dataDir, createdAt: '' });
  await assert.rejects(loadEnsemble(noModels), /fresh: no finished ensemble member .*stage 2,3.*no fold of this run has finished/);
});

test('predictDataset: sample_submission order, eager = lazy = chunked, valid submission that scoreSubmission accepts', async () => {
  assert.deepEqual(datasetFnames(dataDir), ['c.wav', 'a.wav', 'b.wav']);
  const before = tf.memory().numTensors;
  const eager = await predictDataset({ runDir, dataDir, cacheDir });
  assert.equal(tf.memory().numTensors, before, 'models and windows freed');
  assert.deepEqual(eager.fnames, ['c.wav', 'a.wav', 'b.wav']);
  assert.deepEqual(eager.vocabulary, VOCAB);
  assert.equal(eager.scores.length, 3 * VOCAB.length);
  assert.ok(eager.scores.every((v) => v > 0 && v < 1));
  const passes: number[] = [];
  const lazy = await predictDataset({ runDir, dataDir, cacheDir, lazy: true, chunkClips: 2, infer: { batchSize: 2 }, onProgress: (p) => passes.push(p.done) });
  assert.equal(tf.memory().numTensors, before);
  for (let i = 0; i < eager.scores.length; i++) assert.ok(Math.abs(eager.scores[i] - lazy.scores[i]) < 1e-6, `[${i}] ${eager.scores[i]} vs ${lazy.scores[i]}`);
  assert.equal(passes[passes.length - 1], 3 * 3, '3 clips x 3 members');
  // Same as predictImages on the cached images through the same ensemble.
  const ens = await loadEnsemble(runDir, { stages: [2] });
  try {
    const viaEnsemble = await predictDataset({ ensemble: ens, dataDir, cacheDir });
    assert.equal(ens.members[0].net !== null, true, 'a passed-in ensemble is not disposed');
    assert.notDeepEqual([...viaEnsemble.scores], [...eager.scores], 'stage 2 only differs from stages 2+3');
  } finally {
    ens.dispose();
  }
  const out = join(root, 'submission.csv');
  writeSubmission(out, eager.fnames, eager.scores, eager.vocabulary);
  const sub = readSubmission(out, VOCAB);
  assert.deepEqual(sub.fnames, eager.fnames);
  const report = scoreSubmission({ submissionPath: out, truthPath: join(dataDir, 'test_post_competition.csv'), vocabulary: VOCAB });
  assert.equal(report.clips, 3);
  assert.deepEqual(Object.keys(report.perSplit), ['Public', 'Private']);
  assert.ok(report.overall > 0 && report.overall <= 1);
  await assert.rejects(predictDataset({ runDir, dataDir: join(root, 'nowhere'), dataset: 'test', cacheDir }), /dataset folder not found: .*nowhere/);
});

test('predictDataset: a clip that cannot be decoded, or foreign classes, fail naming the file', async () => {
  const bad = join(root, 'baddata');
  mkdirSync(join(bad, 'test'), { recursive: true });
  writeFileSync(join(bad, 'test', 'ok.wav'), encodeWavPcm16(tone(1, 440, 9), 44100));
  writeFileSync(join(bad, 'test', 'junk.wav'), 'not audio at all');
  await assert.rejects(predictDataset({ runDir, dataDir: bad, cacheDir }), /junk\.wav/);
  writeFileSync(join(bad, 'sample_submission.csv'), 'fname,Bark,Moo,Purr\nok.wav,0,0,0\n');
  await assert.rejects(predictDataset({ runDir, dataDir: bad, cacheDir }), /sample_submission\.csv: its classes differ .*not in the run: Moo.*missing here: Meow/);
});

test('fat2019 infer: writes <run>/submission.csv, --score prints Public/Private lwlrap; bad options are named', async () => {
  // The one end-to-end run goes through the binary (a child process), so nothing here touches
  // this process's stdout, which the test runner uses.
  const res = spawnSync(process.execPath, [
    join(ROOT, 'bin', 'fat2019.cjs'), 'infer', '--run', runDir, '--cache', cacheDir, '--workers', '0', '--score', '--mean', 'geometric', '--stages', '2,3',
  ], { encoding: 'utf8', env: { ...process.env, FAT2019_BACKEND: 'cpu' } });
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /wrote .*submission\.csv: 3 clips × 3 classes, 3 model\(s\)/);
  assert.match(res.stdout, /Public\s+2\s+[01]\.\d{6}/);
  assert.match(res.stdout, /Private\s+1\s+[01]\.\d{6}/);
  assert.match(res.stderr, /3 model\(s\): cnnModel1\/stage2\/fold0, cnnModel1\/stage2\/fold1, cnnModel1\/stage3\/fold0/);
  assert.deepEqual(readSubmission(join(runDir, 'submission.csv'), VOCAB).fnames, ['c.wav', 'a.wav', 'b.wav'], 'data folder taken from run.json');
  assert.match(inferCommand.help, /^Usage: fat2019 infer --run/);
  assert.ok(COMMANDS.includes(inferCommand), 'registered');
  const run = (args: Record<string, string | boolean | string[]>) => inferCommand.run(args, []);
  await assert.rejects(run({ data: dataDir }), (e: Error) => e instanceof UsageError && /--run <dir> is required/.test(e.message));
  await assert.rejects(run({ run: runDir, mean: 'median' }), (e: Error) => e instanceof UsageError && /--mean must be arithmetic or geometric, got "median"/.test(e.message));
  await assert.rejects(run({ run: runDir, stages: '2,x' }), /--stages must be a comma-separated list of integers >= 0, got "2,x"/);
  await assert.rejects(run({ run: runDir, arch: ['resnet'] }), /--arch must be one of cnnModel1, vgg16bn, resnet18, .*got "resnet"/);
  await assert.rejects(run({ run: runDir, score: true, truth: join(root, 'none.csv') }), /--score: truth file not found: .*none\.csv/);
  await assert.rejects(run({ run: runDir, data: join(root, 'nope') }), /data folder not found: .*nope/);
});

test('frequencyBaseline: every clip gets the training frequency of each class', () => {
  const scores = frequencyBaseline([['Bark'], ['Bark', 'Meow'], ['Purr'], ['Bark']], VOCAB, 2);
  assert.deepEqual([...scores], [0.75, 0.25, 0.25, 0.75, 0.25, 0.25]);
  assert.throws(() => frequencyBaseline([['Moo']], VOCAB, 1), /"Moo", not in the vocabulary/);
});
