/**
 * The warm-up pipeline (lib/train/pipeline): iterative-stratification folds, the noisy
 * selection rules on a hand-computed example, run.json consistency, and real runs on a tiny
 * synthetic data folder (wasm backend, else cpu): 2 folds × 4 stages, a rerun that trains nothing, an
 * interrupted job that resumes, and the `fat2019 train` command.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readSubmission } from '../../lib/data/submission';
import { runCommand } from '../../lib/cli/command';
import { trainCommand } from '../../lib/cli/train';
import { initBackend } from '../../lib/runtime/backend';
import type { Callback } from '../../lib/train/callbacks';
import { stopAfterEpochs } from '../../lib/train/callbacks';
import {
  ensureFolds, foldDir, foldsPath, geometricMeanScores, iterativeStratification, noisyScoresPath, openRun, oofPath, readFoldDone,
  readFoldsCsv, readScoresCsv, runPipeline, selectedNoisyPath, selectNoisyClips, trainStageFold, TrainingPausedError,
  pipelineConfig, QUICK_OVERRIDES, type ClipScore,
} from '../../lib/train/pipeline/index';
import { Rng } from '../../lib/util/rng';
import { TINY_CLASSES, tinyConfig, writeTinyData } from '../support/pipelineFixture';

let root = '';
let dataDir = '';
let cacheDir = '';

before(async () => {
  // wasm (one thread: the test machines are shared) trains these models ~30× faster than the
  // cpu backend, whose Conv2DBackpropFilter is naive; cpu still works where wasm is missing.
  const info = await initBackend({ prefer: 'wasm', threads: 1 });
  if (info.name !== 'wasm') await tf.setBackend('cpu');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fat2019-pipeline-test-'));
  dataDir = path.join(root, 'data');
  cacheDir = path.join(root, 'cache');
  writeTinyData(dataDir);
});

after(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

/** Counts fit hooks per (stage, fold): trainings begun and epochs begun. */
function counter() {
  const begun = new Map<string, number>();
  const epochs = new Map<string, number>();
  const inc = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  return {
    begun, epochs,
    callbacks: (stage: number, fold: number): Callback[] => [{
      onTrainBegin: () => void inc(begun, `${stage}/${fold}`),
      onEpochBegin: () => void inc(epochs, `${stage}/${fold}`),
    }],
    total: () => [...begun.values()].reduce((a, b) => a + b, 0),
  };
}

test('iterative stratification: disjoint folds covering every clip, per-label counts within ±1 of the ideal, seeded', () => {
  const rng = new Rng(11);
  const L = 10;
  const labels = Array.from({ length: 200 }, () => {
    const ls = [Math.floor(rng.uniform() ** 2 * L)];
    if (rng.chance(0.2)) ls.push(rng.int(L));
    return ls;
  });
  for (const k of [3, 5, 10]) {
    const folds = iterativeStratification(labels, k, 1);
    assert.equal(folds.length, labels.length);
    for (const f of folds) assert.ok(Number.isInteger(f) && f >= 0 && f < k, `fold ${f} out of range`);
    for (let l = 0; l < L; l++) {
      const total = labels.filter((x) => x.includes(l)).length;
      for (let j = 0; j < k; j++) {
        const n = labels.filter((x, i) => folds[i] === j && x.includes(l)).length;
        assert.ok(Math.abs(n - total / k) <= 1, `k=${k} label ${l} fold ${j}: ${n} clips, ideal ${total / k}`);
      }
    }
    assert.deepEqual(iterativeStratification(labels, k, 1), folds, 'same seed, same folds');
  }
  assert.notDeepEqual(iterativeStratification(labels, 5, 2), iterativeStratification(labels, 5, 1), 'other seed, other folds');
  // Single-label data: fold sizes within ±1 as well; clips without labels fill the folds.
  const single = Array.from({ length: 53 }, (_, i) => (i < 47 ? [i % 7] : []));
  const f4 = iterativeStratification(single, 4, 3);
  for (let j = 0; j < 4; j++) assert.ok(Math.abs(f4.filter((f) => f === j).length - 53 / 4) <= 1);
  assert.throws(() => iterativeStratification(single.slice(0, 3), 4, 0), /cannot split 3 clips into 4 folds/);
});

test('folds file: written on first use, reused, a changed label file is a clear error', () => {
  const dir = fs.mkdtempSync(path.join(root, 'folds-'));
  const file = path.join(dir, 'folds', 'curated.csv');
  const clips = Array.from({ length: 20 }, (_, i) => ({ fname: `x${i}.wav`, labels: [`L${i % 4}`] }));
  const first = ensureFolds({ path: file, clips, labelFile: 'train_curated.csv', k: 4, seed: 5 });
  const saved = readFoldsCsv(file, 4);
  assert.deepEqual(clips.map((c) => saved.get(c.fname)), [...first]);
  // Reused even with another seed: the file is the truth.
  assert.deepEqual(ensureFolds({ path: file, clips, labelFile: 'train_curated.csv', k: 4, seed: 99 }), first);
  assert.throws(() => ensureFolds({ path: file, clips: clips.slice(1), labelFile: 'train_curated.csv', k: 4, seed: 5 }),
    (e: Error) => e.message.includes(file) && /x0\.wav/.test(e.message) && /not in train_curated\.csv/.test(e.message));
  assert.throws(() => ensureFolds({ path: file, clips: [...clips, { fname: 'new.wav', labels: ['L0'] }], labelFile: 'train_curated.csv', k: 4, seed: 5 }),
    /1 clip\(s\) of train_curated\.csv are not in it \(new\.wav\)/);
  assert.throws(() => readFoldsCsv(file, 3), /fold must be -1 \(never held out\) or an integer in \[0, 3\)/);
});

test('selection rules pick exactly the hand-computed clips (threshold, per-fold-per-label cap, ties by fname)', () => {
  const s = (fname: string, fold: number, score: number): ClipScore => ({ fname, fold, score });
  const l1 = [s('a', 0, 1), s('b', 0, 0.8), s('c', 0, 0.8), s('d', 0, 0.9), s('e', 0, 0.25), s('f', 0, 0.49), s('g', 1, 0.6), s('h', 1, NaN)];
  const l2 = [s('a', 0, 1), s('b', 0, 0.8), s('c', 0, 0.8), s('d', 0, 0.9), s('e', 0, 1), s('f', 0, 0.49), s('g', 1, 0.6), s('h', 1, 1)];
  const labels = new Map<string, string[]>([
    ['a', ['A']], ['b', ['A']], ['c', ['A']], ['d', ['A', 'B']], ['e', ['B']], ['f', ['B']], ['g', ['A']], ['h', ['C']],
  ]);
  const combined = geometricMeanScores(l1, l2);
  assert.equal(combined.find((x) => x.fname === 'e')!.score, 0.5);
  // Ranked: a 1, d 0.9, b = c 0.8 (tie: b first), g 0.6, e 0.5 (≥ 0.5 kept), f 0.49 and h NaN out.
  // Cap 3 per (fold, label): fold 0 label A takes a, d, b; c finds A full. d also counts for B.
  const picked = selectNoisyClips(combined, { minScore: 0.5, maxPerFoldPerLabel: 3 }, labels);
  assert.deepEqual(picked.map((x) => x.fname), ['a', 'd', 'b', 'e', 'g']);
  assert.deepEqual(picked.map((x) => x.fold), [0, 0, 0, 0, 1]);
  // The tie goes the other way when the names sort the other way.
  const renamed = combined.map((x) => (x.fname === 'b' ? { ...x, fname: 'z' } : x));
  const labels2 = new Map(labels);
  labels2.set('z', ['A']);
  assert.deepEqual(selectNoisyClips(renamed, { minScore: 0.5, maxPerFoldPerLabel: 3 }, labels2).map((x) => x.fname), ['a', 'd', 'c', 'e', 'g']);
  // Cap 1: d needs room in A (taken by a) → out; e takes B.
  assert.deepEqual(selectNoisyClips(combined, { minScore: 0.5, maxPerFoldPerLabel: 1 }, labels).map((x) => x.fname), ['a', 'e', 'g']);
  // Stage 4: l3 = 1 only.
  const l3 = [s('a', 0, 1), s('b', 0, 0.999), s('g', 1, 1), s('h', 1, NaN)];
  assert.deepEqual(selectNoisyClips(l3, { minScore: 1 }).map((x) => x.fname), ['a', 'g']);
});

test('run.json: written by the first job; another arch is allowed, other settings are an error naming the fields', () => {
  const runDir = path.join(root, 'run-info');
  const config = tinyConfig();
  const info = openRun(runDir, dataDir, config);
  assert.deepEqual(info.vocabulary, TINY_CLASSES);
  assert.ok(fs.existsSync(path.join(runDir, 'run.json')));
  openRun(runDir, dataDir, tinyConfig({ model: { arch: 'vgg16bn' }, train: { microBatchSize: 4 } }));
  assert.throws(() => openRun(runDir, dataDir, tinyConfig({ pipeline: { stageEpochs: [2, 2, 2, 2] }, augment: { mixup: { alpha: 0.2 } } })),
    (e: Error) => /differs from the run's in 2 field\(s\)/.test(e.message) && e.message.includes('augment.mixup.alpha') && e.message.includes('pipeline.stageEpochs: run [1,1,1,1], this job [2,2,2,2]'));
  assert.throws(() => openRun(runDir, dataDir, tinyConfig({ model: { numClasses: 5 } })), /numClasses is 5 but .* has 4 classes/);
  // The quick preset is a valid override of the reference config.
  const quick = pipelineConfig(QUICK_OVERRIDES);
  assert.ok(quick.model.widthMultiplier > 0 && quick.model.widthMultiplier < 1, 'a narrower model than the reference');
  assert.equal(quick.pipeline.folds, 2);
  assert.deepEqual(quick.preprocess, pipelineConfig().preprocess, 'the same features as the reference');
  assert.equal(quick.pipeline.stageEpochs.length, 4);
});

test('a 2-fold run on tiny data: stages 1-2 complete, a rerun trains nothing, stages 3-4 select noisy clips', async () => {
  const runDir = path.join(root, 'run-a');
  const config = tinyConfig();
  const tensors = tf.memory().numTensors;
  const c1 = counter();
  const report = await runPipeline({ runDir, dataDir, cacheDir, config, stages: [1, 2], callbacks: c1.callbacks });
  assert.equal(tf.memory().numTensors, tensors, 'no tensors leaked');
  assert.equal(c1.total(), 4);
  assert.deepEqual(report.stages.map((s) => s.stage), [1, 2]);
  const curatedFolds = readFoldsCsv(foldsPath(runDir, 'curated'), 2);
  const noisyFolds = readFoldsCsv(foldsPath(runDir, 'noisy'), 2);
  assert.equal(curatedFolds.size, 12);
  assert.equal(noisyFolds.size, 16);
  for (const stage of [1, 2]) {
    const stageReport = report.stages[stage - 1];
    assert.ok(stageReport.cvCurated! > 0 && stageReport.cvCurated! <= 1 && stageReport.cvNoisy! > 0 && stageReport.cvNoisy! <= 1);
    for (const fold of [0, 1]) {
      const done = readFoldDone(runDir, 'cnnModel1', stage, fold)!;
      assert.ok(done, `stage ${stage} fold ${fold} done.json`);
      assert.equal(done.epochs, 1);
      assert.equal(done.oofModel, 'last');
      for (const [set, folds] of [['curated', curatedFolds], ['noisy', noisyFolds]] as const) {
        const sub = readSubmission(oofPath(runDir, 'cnnModel1', stage, fold, set), TINY_CLASSES);
        const expected = [...folds].filter(([, f]) => f === fold).map(([n]) => n).sort();
        assert.deepEqual([...sub.fnames].sort(), expected, `oof_${set} of stage ${stage} fold ${fold} = its held-out clips`);
        assert.ok(sub.scores.every((p) => p >= 0 && p <= 1));
      }
      // Training sets: stage 1 = noisy of the other fold, stage 2 = curated of the other fold.
      const other = [...(stage === 1 ? noisyFolds : curatedFolds).values()].filter((f) => f !== fold).length;
      assert.equal(done.trainClips, other);
    }
    const scores = readScoresCsv(noisyScoresPath(runDir, 'cnnModel1', stage));
    assert.equal(scores.length, 16);
    for (const sc of scores) {
      assert.equal(sc.fold, noisyFolds.get(sc.fname));
      assert.ok(sc.score > 0 && sc.score <= 1);
    }
  }

  // Rerun: every job finished → nothing trains, nothing is rewritten.
  const mtimes = () => [1, 2].flatMap((s) => [0, 1].map((f) => {
    const dir = foldDir(runDir, 'cnnModel1', s, f);
    return [fs.statSync(path.join(dir, 'done.json')).mtimeMs, fs.statSync(path.join(dir, 'last', 'checkpoint.json')).mtimeMs];
  }));
  const before = mtimes();
  const c2 = counter();
  const again = await runPipeline({ runDir, dataDir, cacheDir, config, stages: [1, 2], callbacks: c2.callbacks });
  assert.equal(c2.total(), 0, 'no fit on rerun');
  assert.deepEqual(mtimes(), before);
  assert.deepEqual(again.stages.map((s) => s.cvCurated), report.stages.map((s) => s.cvCurated));

  // Stages 3 and 4: selections written, training sets = curated of the other fold + its selected noisy clips.
  const c3 = counter();
  const report34 = await runPipeline({ runDir, dataDir, cacheDir, config, stages: [3, 4], callbacks: c3.callbacks });
  assert.equal(c3.total(), 4);
  const l1 = readScoresCsv(noisyScoresPath(runDir, 'cnnModel1', 1));
  const l2 = readScoresCsv(noisyScoresPath(runDir, 'cnnModel1', 2));
  const noisyLabels = new Map(fs.readFileSync(path.join(dataDir, 'train_noisy.csv'), 'utf8').trim().split('\n').slice(1)
    .map((line) => { const [f, l] = line.split(/,(.*)/); return [f, l.replace(/"/g, '').split(',')] as [string, string[]]; }));
  const expected3 = selectNoisyClips(geometricMeanScores(l1, l2), { minScore: config.pipeline.stage3MinScore, maxPerFoldPerLabel: config.pipeline.stage3MaxPerFoldPerLabel }, noisyLabels);
  const selected3 = readScoresCsv(selectedNoisyPath(runDir, 'cnnModel1', 3));
  assert.deepEqual(selected3.map((x) => x.fname), expected3.map((x) => x.fname));
  const l3 = readScoresCsv(noisyScoresPath(runDir, 'cnnModel1', 3));
  const selected4 = readScoresCsv(selectedNoisyPath(runDir, 'cnnModel1', 4));
  assert.deepEqual(selected4.map((x) => x.fname), selectNoisyClips(l3, { minScore: config.pipeline.stage4MinScore }).map((x) => x.fname));
  assert.equal(report34.stages[0].selectedNoisy, selected3.length);
  assert.equal(report34.stages[1].selectedNoisy, selected4.length);
  for (const [stage, selected] of [[3, selected3], [4, selected4]] as const) {
    for (const fold of [0, 1]) {
      const done = readFoldDone(runDir, 'cnnModel1', stage, fold)!;
      const curatedOther = [...curatedFolds.values()].filter((f) => f !== fold).length;
      assert.equal(done.trainClips, curatedOther + selected.filter((x) => x.fold !== fold).length, `stage ${stage} fold ${fold} training clips`);
    }
    assert.ok(fs.existsSync(noisyScoresPath(runDir, 'cnnModel1', stage)));
  }
  assert.equal(tf.memory().numTensors, tensors, 'no tensors leaked');
});

test('an interrupted job resumes from its checkpoint and completes; prerequisites are checked', async () => {
  const runDir = path.join(root, 'run-b');
  const config = tinyConfig({ pipeline: { stageEpochs: [2, 1, 1, 1] } });
  await assert.rejects(trainStageFold({ runDir, dataDir, cacheDir, stage: 2, fold: 0, config }), /starts from stage 1 fold 0, which has not finished/);
  // "Kill" fold 0 of stage 1 at the start of epoch 2 (after epoch 1's checkpoint).
  const killer: Callback = { onEpochBegin: (ctx) => { if (ctx.epoch === 2) throw new Error('killed'); } };
  await assert.rejects(runPipeline({ runDir, dataDir, cacheDir, config, stages: [1], folds: [0], callbacks: () => [killer] }), /killed/);
  const dir = foldDir(runDir, 'cnnModel1', 1, 0);
  assert.equal(readFoldDone(runDir, 'cnnModel1', 1, 0), null);
  assert.ok(fs.existsSync(path.join(dir, 'last', 'checkpoint.json')));
  assert.equal(fs.readFileSync(path.join(dir, 'history.jsonl'), 'utf8').trim().split('\n').length, 1);
  // A pause (callback stops training) is an error too, and leaves no done.json.
  await assert.rejects(trainStageFold({ runDir, dataDir, cacheDir, stage: 1, fold: 1, config, callbacks: [stopAfterEpochs(1)] }),
    (e: Error) => e instanceof TrainingPausedError && /paused after epoch 1\/2/.test(e.message));
  assert.equal(readFoldDone(runDir, 'cnnModel1', 1, 1), null);
  // Stage 3 needs every fold of stages 1 and 2.
  await assert.rejects(trainStageFold({ runDir, dataDir, cacheDir, stage: 3, fold: 0, config }), /stage 2 fold 0, which has not finished/);

  const c = counter();
  await runPipeline({ runDir, dataDir, cacheDir, config, stages: [1], callbacks: c.callbacks });
  assert.equal(c.epochs.get('1/0'), 1, 'fold 0 resumed at epoch 2');
  assert.equal(c.epochs.get('1/1'), 1, 'fold 1 resumed at epoch 2');
  for (const fold of [0, 1]) {
    assert.equal(readFoldDone(runDir, 'cnnModel1', 1, fold)!.epochs, 2);
    assert.equal(fs.readFileSync(path.join(foldDir(runDir, 'cnnModel1', 1, fold), 'history.jsonl'), 'utf8').trim().split('\n').length, 2);
  }
  assert.equal(readScoresCsv(noisyScoresPath(runDir, 'cnnModel1', 1)).length, 16);
  await assert.rejects(trainStageFold({ runDir, dataDir, cacheDir, stage: 3, fold: 0, config }), /stage 2 fold 0, which has not finished/);
});

test('fat2019 train: one (stage, fold) job per architecture, exit 0; contradicting flags exit 1; bad arguments exit 2', async () => {
  const runDir = path.join(root, 'run-cli');
  openRun(runDir, dataDir, tinyConfig());
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  let codes: number[];
  try {
    const base = ['--run', runDir, '--data', dataDir, '--cache', cacheDir, '--backend', 'cpu', '--workers', '0', '--quiet'];
    codes = [
      await runCommand(trainCommand, [...base, '--prepare']),
      await runCommand(trainCommand, [...base, '--stage', '1', '--fold', '1']),
      await runCommand(trainCommand, [...base, '--stage', '1', '--fold', '1', '--arch', 'vgg16bn']),
      await runCommand(trainCommand, [...base, '--stage', '1', '--fold', '1', '--epochs', '3']),
      await runCommand(trainCommand, [...base, '--stage', '5']),
      await runCommand(trainCommand, ['--data', dataDir]),
    ];
  } finally {
    process.stdout.write = write;
  }
  assert.deepEqual(codes, [0, 0, 0, 1, 2, 2]);
  assert.match(out[0], /4 classes; 2 fold\(s\) of 12 labelled and 16 noisy clips/);
  assert.ok(fs.existsSync(foldsPath(runDir, 'noisy')));
  assert.ok(readFoldDone(runDir, 'cnnModel1', 1, 1));
  assert.ok(readFoldDone(runDir, 'vgg16bn', 1, 1), 'both architectures train in one run folder');
  assert.equal(readFoldDone(runDir, 'cnnModel1', 1, 0), null);
  assert.match(out.join(''), /cnnModel1 stage 1 fold 1: 1 epochs/);
});
