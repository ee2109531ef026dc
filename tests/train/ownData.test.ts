/**
 * Your own data: tasks (lib/task), recipes (lib/train/pipeline/recipes), layouts
 * (lib/data/layout), folds (--folds 1, --holdout, a fold column), pseudo-labelling and the
 * low-rate preprocessing, on tiny generated data (8 kHz tones), plus each operator mistake's
 * error message.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { encodeWavPcm16 } from '../../lib/audio/index';
import { AUGMENT_DEFAULTS, checkPreprocessConfig, lowRatePreprocess, PREPROCESS_DEFAULTS, withDefaults } from '../../lib/config';
import { cropLengthRange, makeTrainingBatch } from '../../lib/augment/pipeline';
import { runCommand } from '../../lib/cli/command';
import { inferCommand } from '../../lib/cli/infer';
import { trainCommand, trainConfig } from '../../lib/cli/train';
import { detectLayout, foldsFromColumn, lowSampleRate, scanClips } from '../../lib/data/layout';
import { averagePrecision } from '../../lib/metrics/averagePrecision';
import { findRunMembers, readFoldDone, readRunInfo } from '../../lib/run/runFolder';
import { initBackend } from '../../lib/runtime/backend';
import { checkTaskLabels, detectTaskName, makeTask, softmaxCrossEntropy } from '../../lib/task/task';
import { loadRunData } from '../../lib/train/pipeline/data';
import { planFolds } from '../../lib/train/pipeline/folds';
import { pseudoLabelCandidates, pseudoLabelsPath, readPseudoLabels, selectPseudoLabels } from '../../lib/train/pipeline/pseudoLabels';
import { RECIPES } from '../../lib/train/pipeline/recipes';
import { runPipeline } from '../../lib/train/pipeline/runPipeline';
import { openRun } from '../../lib/train/pipeline/runInfo';
import { planStageFold } from '../../lib/train/pipeline/stages';
import { Rng } from '../../lib/util/rng';
import { tinyConfig, writeTinyData } from '../support/pipelineFixture';

const SR = 8000;
const TONES: Record<string, number> = { cat: 300, dog: 900, bird: 2400 };
let root = '';
let cacheDir = '';

function tone(label: string, seconds: number, rng: Rng): Float32Array {
  const out = new Float32Array(Math.round(seconds * SR));
  const f = TONES[label] ?? 1200;
  const phase = rng.uniform() * 2 * Math.PI;
  for (let i = 0; i < out.length; i++) out[i] = 0.3 * Math.sin(2 * Math.PI * f * (i / SR) + phase) + 0.01 * (rng.uniform() - 0.5);
  return out;
}

function writeClip(file: string, label: string, rng: Rng, seconds = 0.6): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, encodeWavPcm16(tone(label, seconds, rng), SR));
}

/** `<dir>/train/<label>/*.wav` (`perClass` each), optional `test/<label>/` (2 each), optional `unlabeled/`. */
function writeFolderPerClass(dir: string, opts: { perClass?: number; test?: boolean; unlabeled?: number; classes?: string[] } = {}): void {
  const rng = new Rng(5);
  for (const label of opts.classes ?? Object.keys(TONES)) {
    for (let i = 0; i < (opts.perClass ?? 4); i++) writeClip(path.join(dir, 'train', label, `${label}${i}.wav`), label, rng, 0.4 + 0.1 * i);
    if (opts.test) for (let i = 0; i < 2; i++) writeClip(path.join(dir, 'test', label, `t${i}.wav`), label, rng);
  }
  for (let i = 0; i < (opts.unlabeled ?? 0); i++) writeClip(path.join(dir, 'unlabeled', `u${i}.wav`), Object.keys(TONES)[i % 3], rng);
}

/** Tiny-model config for the 3 tone classes. */
function toneConfig(over: Parameters<typeof tinyConfig>[0] = {}) {
  return tinyConfig({ model: { numClasses: 3 }, ...over });
}

before(async () => {
  const info = await initBackend({ prefer: 'wasm', threads: 1 });
  if (info.name !== 'wasm') await tf.setBackend('cpu');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fat2019-owndata-test-'));
  cacheDir = path.join(root, 'cache');
});

after(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

test('tasks: losses equal their formulas, metrics and decoding per task, auto picks singleLabel for one label per clip', () => {
  const logits = tf.tensor2d([[2, 0, -1], [0.5, 0.5, 3]]);
  const y = tf.tensor2d([[1, 0, 0], [0, 0, 1]]);
  // Oracle: −Σ ỹ log softmax(x), ỹ = (1 − ε) y + ε / C, mean over rows.
  const oracle = (eps: number) => {
    const rows = [[2, 0, -1], [0.5, 0.5, 3]];
    const t = [[1, 0, 0], [0, 0, 1]];
    let sum = 0;
    rows.forEach((r, i) => {
      const lse = Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
      r.forEach((v, c) => (sum -= ((1 - eps) * t[i][c] + eps / 3) * (v - lse)));
    });
    return sum / 2;
  };
  assert.ok(Math.abs(softmaxCrossEntropy(logits, y).dataSync()[0] - oracle(0)) < 1e-5);
  assert.ok(Math.abs(makeTask({ name: 'singleLabel', labelSmoothing: 0.1 }).loss(logits, y).dataSync()[0] - oracle(0.1)) < 1e-5);
  const bce = makeTask().loss(logits, y).dataSync()[0];
  const bceOracle = [[2, 0, -1], [0.5, 0.5, 3]].flat().reduce((s, x, i) => {
    const t = [1, 0, 0, 0, 0, 1][i];
    const p = 1 / (1 + Math.exp(-x));
    return s - (t * Math.log(p) + (1 - t) * Math.log(1 - p));
  }, 0) / 6;
  assert.ok(Math.abs(bce - bceOracle) < 1e-5);
  tf.dispose([logits, y]);

  const single = makeTask({ name: 'singleLabel', labelSmoothing: 0 });
  assert.equal(single.activation, 'softmax');
  assert.equal(single.selectionMetric, 'accuracy');
  // Clip 0 right (class 0), clip 1 wrong (true 2, predicted 1, true class second), clip 2 right.
  const truth = new Uint8Array([1, 0, 0, 0, 0, 1, 0, 1, 0]);
  const probs = new Float32Array([0.7, 0.2, 0.1, 0.1, 0.6, 0.3, 0.2, 0.5, 0.3]);
  const m = single.metrics(truth, probs, 3);
  assert.ok(Math.abs(m.accuracy - 2 / 3) < 1e-12);
  assert.ok(Math.abs(m.map3 - (1 + 0.5 + 1) / 3) < 1e-12);
  const perClass = single.perClass(truth, probs, ['a', 'b', 'c']);
  assert.deepEqual(perClass.map((c) => c.score), [1, 1, 0]);
  assert.deepEqual(single.decode([0.1, 0.7, 0.2], ['a', 'b', 'c']), ['b']);
  const multi = makeTask();
  assert.equal(multi.activation, 'sigmoid');
  assert.equal(multi.selectionMetric, 'lwlrap');
  assert.deepEqual(multi.decode([0.6, 0.1, 0.9], ['a', 'b', 'c']), ['a', 'c']);
  assert.deepEqual(multi.decode([0.2, 0.1, 0.3], ['a', 'b', 'c']), ['c'], 'at least the best class');
  assert.deepEqual(Object.keys(multi.metrics(truth, probs, 3)), ['lwlrap', 'mAP', 'auc']);

  assert.equal(detectTaskName([{ labels: ['a'] }, { labels: ['b'] }]), 'singleLabel');
  assert.equal(detectTaskName([{ labels: ['a'] }, { labels: ['a', 'b'] }]), 'multiLabel');
  assert.throws(() => checkTaskLabels('singleLabel', [{ fname: 'x.wav', labels: ['a'] }, { fname: 'y.wav', labels: ['a', 'b'] }], 'labels.csv'),
    /labels\.csv: --task singleLabel needs exactly one label per clip; 1 clip\(s\) have several: y\.wav \(labels a,b\)/);
  assert.throws(() => makeTask({ name: 'multiLabel', labelSmoothing: 0.1 }), /labelSmoothing applies to singleLabel only/);
});

test('average precision: sklearn semantics on a hand-computed example (ties form one threshold)', () => {
  // Class 0 scores 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.1 (neg): AP = 1·1/2 + 2/3·1/2 = 0.8333.
  // Class 1 scores tie 0.5 (pos), 0.5 (neg), then 0.2 (pos), 0.1 (neg): AP = 1/2·1/2 + 2/3·1/2 = 0.5833.
  const truth = new Uint8Array([1, 1, 0, 0, 1, 1, 0, 0]);
  const scores = new Float64Array([0.9, 0.5, 0.8, 0.5, 0.7, 0.2, 0.1, 0.1]);
  const ap = averagePrecision(truth, scores, 2);
  assert.ok(Math.abs(ap.perClass[0] - (0.5 + (2 / 3) * 0.5)) < 1e-12);
  assert.ok(Math.abs(ap.perClass[1] - (0.5 * 0.5 + (2 / 3) * 0.5)) < 1e-12);
  assert.ok(Number.isNaN(averagePrecision(new Uint8Array([0, 0]), new Float64Array([0.1, 0.2]), 1).macro));
});

test('layouts: Kaggle with/without noisy and test, folder per class with test/<class>/, one CSV with a fold column', () => {
  const kaggle = path.join(root, 'kaggle');
  writeTinyData(kaggle, 8, 8);
  let l = detectLayout(kaggle);
  assert.equal(l.kind, 'kaggle');
  assert.equal(l.curated.clips.length, 8);
  assert.equal(l.noisy?.clips.length, 8);
  assert.equal(l.test, undefined);
  const kaggleNoNoisy = path.join(root, 'kaggle-no-noisy');
  writeTinyData(kaggleNoNoisy, 8, 0);
  fs.rmSync(path.join(kaggleNoNoisy, 'train_noisy.csv'));
  fs.mkdirSync(path.join(kaggleNoNoisy, 'test'));
  fs.copyFileSync(path.join(kaggleNoNoisy, 'train_curated', 'c000.wav'), path.join(kaggleNoNoisy, 'test', 'x.wav'));
  l = detectLayout(kaggleNoNoisy);
  assert.equal(l.noisy, undefined);
  assert.deepEqual(l.test?.fnames, ['x.wav']);

  const folders = path.join(root, 'folders');
  writeFolderPerClass(folders, { test: true, unlabeled: 2 });
  l = detectLayout(folders);
  assert.equal(l.kind, 'folderPerClass');
  assert.deepEqual(l.vocabulary, ['bird', 'cat', 'dog']);
  assert.equal(l.curated.clips.length, 12);
  assert.equal(l.curated.clips[0].fname, 'bird/bird0.wav');
  assert.deepEqual(l.curated.clips[0].labels, ['bird']);
  assert.equal(l.test?.fnames.length, 6);
  assert.deepEqual(l.test?.truth?.[0], { fname: 'bird/t0.wav', labels: ['bird'], extra: {} });
  assert.equal(l.unlabeled?.fnames.length, 2);
  const infos = scanClips(l.curated);
  assert.equal(lowSampleRate(infos, 16000), 8000);
  assert.ok(Math.abs(infos[0].durationSec! - 0.4) < 1e-3);

  const csvDir = path.join(root, 'csv');
  const rng = new Rng(1);
  const rows = ['fname,labels,fold'];
  ['cat', 'dog', 'bird', 'cat', 'dog', 'bird'].forEach((label, i) => {
    writeClip(path.join(csvDir, 'audio', `${i}.wav`), label, rng);
    rows.push(`audio/${i}.wav,${label},${1 + (i % 2)}`);
  });
  fs.writeFileSync(path.join(csvDir, 'meta.csv'), rows.join('\n') + '\n');
  l = detectLayout(path.join(csvDir, 'meta.csv'));
  assert.equal(l.kind, 'csv');
  assert.equal(l.curated.dataset, 'csv');
  assert.deepEqual([...l.curated.givenFolds!], [0, 1, 0, 1, 0, 1]);
  assert.equal(detectLayout(csvDir).kind, 'csv', 'a folder with one CSV is the csv layout');
});

test('bad input is named: empty class folder, unknown test class, fold column with gaps, multi-label clip under singleLabel, recipe without its noisy set, fMax above Nyquist', () => {
  const empty = path.join(root, 'bad-empty');
  writeFolderPerClass(empty);
  fs.mkdirSync(path.join(empty, 'train', 'zebra'));
  assert.throws(() => detectLayout(empty), (e: Error) => e.message.includes(path.join(empty, 'train', 'zebra')) && /empty class folder/.test(e.message));

  const unknown = path.join(root, 'bad-test-class');
  writeFolderPerClass(unknown, { test: true });
  writeClip(path.join(unknown, 'test', 'cow', 'a.wav'), 'cat', new Rng(2));
  assert.throws(() => detectLayout(unknown), /test[/\\]cow: class "cow" is not a class of .*train \(classes: bird, cat, dog\)/);

  const gaps = [1, 2, 4, 1].map((f, i) => ({ fname: `${i}.wav`, labels: ['a'], extra: { fold: String(f) } }));
  assert.throws(() => foldsFromColumn(gaps, 'meta.csv'), /meta\.csv: the fold column has gaps: it holds folds 1, 2, 4 but no clip in fold 3/);

  // The tiny Kaggle data has multi-label clips (every 4th).
  const kaggle = path.join(root, 'kaggle');
  const layout = detectLayout(kaggle);
  assert.throws(() => trainConfig(path.join(root, 'run-bad-task'), kaggle, { task: 'singleLabel' }, layout),
    (e: Error) => e.message.includes(path.join(kaggle, 'train_curated.csv')) && /singleLabel needs exactly one label per clip; 2 clip\(s\) have several: c003\.wav \(labels Noise,Chirp\)/.test(e.message));
  const noNoisy = path.join(root, 'kaggle-no-noisy');
  assert.throws(() => trainConfig(path.join(root, 'run-bad-recipe'), noNoisy, { recipe: 'warmup' }, detectLayout(noNoisy)),
    /recipe "warmup" trains on a noisy set, and this data has none \(no train_noisy\.csv\); use --recipe single/);
  assert.equal(trainConfig(path.join(root, 'run-default'), noNoisy, {}, detectLayout(noNoisy)).pipeline.recipe, 'single', 'no noisy set: single by default');

  assert.throws(() => checkPreprocessConfig({ ...PREPROCESS_DEFAULTS, sampleRate: 8000 }),
    /config\.preprocess\.fMax is 22050 Hz, above the Nyquist frequency 4000 Hz of config\.preprocess\.sampleRate 8000 Hz/);
  const low = lowRatePreprocess(8000);
  assert.deepEqual([low.sampleRate, low.fMax, low.nFft, low.hopLength, low.minSamples, low.nMels], [8000, 4000, 512, 125, 16000, 128]);
  assert.deepEqual([lowRatePreprocess(16000).nFft, lowRatePreprocess(16000).hopLength], [1024, 250]);
  checkPreprocessConfig(low);
});

test('folds: --folds 1 holds out nothing, --holdout a stratified fraction, k folds cover every clip; plans never train on fold f', () => {
  const labels = Array.from({ length: 40 }, (_, i) => [i % 4]);
  assert.deepEqual([...new Set(planFolds(labels, 1, 3))], [-1]);
  const held = planFolds(labels, 1, 3, 0.25);
  assert.equal(held.filter((f) => f === 0).length, 10);
  assert.deepEqual([...new Set(held)].sort(), [-1, 0]);
  for (let c = 0; c < 4; c++) {
    const n = labels.filter((l, i) => l[0] === c && held[i] === 0).length;
    assert.ok(n === 2 || n === 3, `class ${c}: ${n} of its 10 clips held out (stratified: 2.5 expected)`);
  }
  const given = Int32Array.from([1, 0, 1, 0]);
  assert.deepEqual([...planFolds([[0], [0], [1], [1]], 2, 1, 0, given)], [1, 0, 1, 0]);

  const dir = path.join(root, 'folders-plan');
  writeFolderPerClass(dir, { perClass: 6, unlabeled: 3 });
  for (const recipe of ['single', 'pseudoLabel'] as const) {
    const config = toneConfig({ pipeline: { recipe, folds: 3, ensembleStages: RECIPES[recipe].ensembleStages } });
    const runDir = path.join(root, `run-plan-${recipe}`);
    const info = openRun(runDir, dir, config);
    const data = loadRunData(runDir, dir, info.vocabulary, config);
    for (const spec of RECIPES[recipe].stages) {
      for (let f = 0; f < 3; f++) {
        const plan = planStageFold(spec.stage, f, data, undefined, RECIPES[recipe]);
        const train = new Set(plan.train.curated);
        assert.ok(plan.valid.fnames.length > 0);
        for (const v of plan.valid.fnames) assert.ok(!train.has(v), `fold ${f}: held-out ${v} is not trained on`);
        assert.equal(train.size + plan.valid.fnames.length, 18);
      }
    }
  }
});

test('pseudo-labels: the threshold and the per-class cap hold, and no labelled clip is a candidate', () => {
  const vocab = ['a', 'b', 'c'];
  const fnames = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
  const probs = [
    0.95, 0.03, 0.02, // a, kept
    0.97, 0.02, 0.01, // a, best of a
    0.92, 0.05, 0.03, // a: third a, over the cap of 2
    0.10, 0.89, 0.01, // b below 0.9: dropped
    0.01, 0.01, 0.98, // c
    0.50, 0.30, 0.20, // dropped
  ];
  const single = selectPseudoLabels(fnames, probs, vocab, { name: 'singleLabel' }, { minScore: 0.9, maxPerClass: 2 });
  assert.deepEqual(single.map((p) => [p.fname, p.labels.join('+')]), [['u5', 'c'], ['u2', 'a'], ['u1', 'a']]);
  for (const p of single) assert.ok(p.score >= 0.9);
  const multi = selectPseudoLabels(['m1', 'm2'], [0.95, 0.93, 0.1, 0.99, 0.2, 0.1], vocab, { name: 'multiLabel' }, { minScore: 0.9, maxPerClass: 1 });
  assert.deepEqual(multi.map((p) => [p.fname, p.labels.join('+')]), [['m2', 'a']], 'm1 (a+b) would exceed the cap of class a');

  // A clip that is both labelled and in unlabeled/ (the same file) is never a candidate.
  const dir = path.join(root, 'folders-leak');
  writeFolderPerClass(dir, { unlabeled: 2 });
  fs.mkdirSync(path.join(dir, 'unlabeled', 'cat'), { recursive: true });
  fs.copyFileSync(path.join(dir, 'train', 'cat', 'cat0.wav'), path.join(dir, 'unlabeled', 'cat', 'cat0.wav'));
  const config = toneConfig({ pipeline: { recipe: 'pseudoLabel', folds: 2, ensembleStages: [2] } });
  assert.throws(() => openRun(path.join(root, 'run-bad-ensemble'), dir, toneConfig({ pipeline: { recipe: 'pseudoLabel', folds: 2 } })),
    /ensembleStages \[2, 3, 4\] names stage\(s\) 3, 4, which recipe pseudoLabel lacks \(its stages: 1, 2\); use \[2\]/);
  const runDir = path.join(root, 'run-leak');
  const data = loadRunData(runDir, dir, openRun(runDir, dir, config).vocabulary, config);
  data.unlabeled = { ...data.unlabeled!, dataDir: path.join(dir, 'train'), dataset: 'cat', fnames: ['cat0.wav', 'cat1.wav'] };
  assert.deepEqual(pseudoLabelCandidates(data), [], 'the labelled files train/cat/cat0.wav, cat1.wav are excluded');
});

test('recipe single, singleLabel, folder per class, --folds 1: one model on all clips; infer --score scores test/<class>/ with accuracy', async () => {
  const dir = path.join(root, 'folders-train');
  writeFolderPerClass(dir, { perClass: 5, test: true });
  const runDir = path.join(root, 'run-single');
  const config = toneConfig({ task: { name: 'singleLabel' }, pipeline: { recipe: 'single', folds: 1, stageEpochs: [2, 1, 1, 1], ensembleStages: [1] } });
  const report = await runPipeline({ runDir, dataDir: dir, cacheDir, config });
  assert.equal(report.stages.length, 1);
  const done = readFoldDone(runDir, 'cnnModel1', 1, 0)!;
  assert.equal(done.trainClips, 15);
  assert.equal(done.validClips, 0);
  assert.equal(done.validMetric, 'accuracy');
  assert.equal(readRunInfo(runDir).config.pipeline.recipe, 'single');
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(runDir, 'recipe.json'), 'utf8')).stages.map((st: { stage: number }) => st.stage), [1], 'the run folder stores the recipe');
  assert.ok(findRunMembers(runDir)[0].modelDir.endsWith(path.join('fold0', 'last')), 'one model rule: the ensemble uses last/');
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  let code: number;
  try {
    code = await runCommand(inferCommand, ['--run', runDir, '--cache', cacheDir, '--backend', 'cpu', '--workers', '0', '--quiet', '--score']);
  } finally {
    process.stdout.write = write;
  }
  assert.equal(code, 0);
  const text = out.join('');
  assert.match(text, /6 clips × 3 classes/);
  assert.match(text, /top-1 accuracy \d\.\d+, MAP@3/);
  const sub = fs.readFileSync(path.join(runDir, 'submission.csv'), 'utf8').split('\n');
  assert.equal(sub[0], 'fname,bird,cat,dog');
  assert.match(sub[1], /^bird\/t0\.wav,/, 'fname = path relative to test/');
  // softmax: each row sums to 1
  const row = sub[1].split(',').slice(1).map(Number);
  assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-4);
});

test('recipe pseudoLabel on a CSV layout with a fold column and unlabeled/: stage 2 adds the selected clips, from stage 1', async () => {
  const dir = path.join(root, 'csv-pseudo');
  const rng = new Rng(9);
  const rows = ['fname,labels,fold'];
  for (let i = 0; i < 12; i++) {
    const label = Object.keys(TONES)[i % 3];
    writeClip(path.join(dir, 'clips', `${i}.wav`), label, rng);
    rows.push(`clips/${i}.wav,${label},${i < 6 ? 1 : 2}`);
  }
  for (let i = 0; i < 6; i++) writeClip(path.join(dir, 'unlabeled', `u${i}.wav`), Object.keys(TONES)[i % 3], rng);
  fs.writeFileSync(path.join(dir, 'labels.csv'), rows.join('\n') + '\n');
  const runDir = path.join(root, 'run-pseudo');
  const config = toneConfig({
    task: { name: 'singleLabel' },
    pipeline: { recipe: 'pseudoLabel', folds: 2, stageEpochs: [2, 1, 1, 1], ensembleStages: [2], pseudoLabelMinScore: 0, pseudoLabelMaxPerClass: 1 },
  });
  await runPipeline({ runDir, dataDir: path.join(dir, 'labels.csv'), cacheDir, config, folds: [0] });
  const pseudo = readPseudoLabels(pseudoLabelsPath(runDir, 'cnnModel1', 2, 0));
  assert.ok(pseudo.length >= 1 && pseudo.length <= 3, `at most 1 per class, got ${pseudo.length}`);
  assert.equal(new Set(pseudo.map((p) => p.labels[0])).size, pseudo.length);
  for (const p of pseudo) assert.match(p.fname, /^u\d\.wav$/);
  const stage1 = readFoldDone(runDir, 'cnnModel1', 1, 0)!;
  const stage2 = readFoldDone(runDir, 'cnnModel1', 2, 0)!;
  assert.equal(stage1.trainClips, 6, 'fold 0 = the column\'s fold 1, held out');
  assert.equal(stage1.validClips, 6);
  assert.equal(stage2.trainClips, 6 + pseudo.length);
});

test('recipes noisyThenCurated (multiLabel) on the Kaggle layout, and `fat2019 train --recipe single --folds 2` without a noisy set', async () => {
  const kaggle = path.join(root, 'kaggle');
  const runDir = path.join(root, 'run-ntc');
  const config = tinyConfig({ pipeline: { recipe: 'noisyThenCurated', ensembleStages: [2] } });
  const report = await runPipeline({ runDir, dataDir: kaggle, cacheDir, config, folds: [0] });
  assert.deepEqual(report.stages.map((s) => s.stage), [1, 2]);
  assert.equal(report.stages[1].metric, 'lwlrap');
  assert.equal(readFoldDone(runDir, 'cnnModel1', 2, 0)!.trainClips, 4, 'stage 2: the curated clips of the other fold');
  assert.equal(readFoldDone(runDir, 'cnnModel1', 3, 0), null);

  const noNoisy = path.join(root, 'kaggle-no-noisy');
  const cliRun = path.join(root, 'run-cli-single');
  openRun(cliRun, noNoisy, tinyConfig({ pipeline: { recipe: 'single', folds: 2, ensembleStages: [1] } }));
  const code = await runCommand(trainCommand, ['--run', cliRun, '--data', noNoisy, '--cache', cacheDir, '--recipe', 'single', '--folds', '2', '--backend', 'cpu', '--workers', '0', '--quiet']);
  assert.equal(code, 0);
  assert.ok(readFoldDone(cliRun, 'cnnModel1', 1, 0) && readFoldDone(cliRun, 'cnnModel1', 1, 1));
});

test('variable-length crops: one length per batch between the 25th and 75th percentile of clip lengths, padded to the input width', () => {
  const clips = [10, 20, 30, 40].map((frames, i) => ({
    fname: `c${i}`, image: { nMels: 2, frames, data: new Uint8Array(2 * frames).fill(255) }, target: new Float32Array([1]),
  }));
  assert.deepEqual(cropLengthRange(clips, 25, 75), [10, 30]);
  const cfg = withDefaults(AUGMENT_DEFAULTS, {
    mixup: { enabled: false }, specMix: { enabled: false }, zoom: { enabled: false }, lighting: { enabled: false },
    variableCrop: { enabled: true, p: 1, lowPercentile: 25, highPercentile: 75 },
  });
  const rng = new Rng(4);
  const lengths = new Set<number>();
  for (let n = 0; n < 30; n++) {
    const batch = makeTrainingBatch(clips, [0, 1, 2, 3], 64, 1, cfg, rng);
    const filled = [0, 1, 2, 3].map((b) => batch.x.subarray(b * 128, b * 128 + 64).filter((v) => v > 0).length);
    const length = filled[3]; // the 40-frame clip shows exactly the batch's crop length
    assert.ok(length >= 10 && length <= 30, `crop length ${length} outside [10, 30]`);
    filled.forEach((f, b) => assert.equal(f, Math.min(length, clips[b].image.frames), `clip ${b}: a crop of the batch's length, padded`));
    lengths.add(length);
  }
  assert.ok(lengths.size > 5, 'lengths vary between batches');
  const off = makeTrainingBatch(clips, [3], 32, 1, withDefaults(cfg, { variableCrop: { enabled: false } }), new Rng(1));
  assert.equal(off.x.filter((v) => v > 0).length, 64, 'off: the full input width (2 bands × 32 frames)');
});
