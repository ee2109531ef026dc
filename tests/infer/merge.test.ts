/**
 * Split inference (lib/infer/mergeSubmissions, `fat2019 merge`): the parts of a run's ensemble,
 * each inferred alone by `fat2019 infer --folds`, merge into the whole ensemble's submission
 * within 1e-6 (arithmetic and geometric); the weights against the formula; every refusal.
 * The run is a fake one built here (untrained tiny CNN-model-1 members, as tests/infer/infer.test.ts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CONFIG_DEFAULTS, withDefaults, type Fat2019Config } from '../../lib/config';
import { encodeWavPcm16 } from '../../lib/audio/wav';
import { buildModel } from '../../lib/models/index';
import { saveModel } from '../../lib/runtime/modelFile';
import { writeFoldDone, writeRunInfo } from '../../lib/run/runFolder';
import { readSubmission, writeSubmission } from '../../lib/data/submission';
import { UsageError } from '../../lib/cli/command';
import { COMMANDS } from '../../lib/cli/commands';
import { mergeCommand } from '../../lib/cli/merge';
import { membersPath, mergeSubmissions, readSubmissionMembers, runIdentity, writeMergedSubmission, writeSubmissionMembers, type SubmissionMembers } from '../../lib/infer/mergeSubmissions';
import { Rng } from '../../lib/util/rng';

const ROOT = join(__dirname, '..', '..');
const VOCAB = ['Bark', 'Meow', 'Purr'];
const CONFIG: Fat2019Config = withDefaults(CONFIG_DEFAULTS, {
  model: { numClasses: VOCAB.length, widthMultiplier: 0.0625 },
  pipeline: { ensembleStages: [2] },
  infer: { batchSize: 8 },
});
const CLIPS: Array<[string, number]> = [['c.wav', 3.5], ['a.wav', 0.6], ['b.wav', 2.4]];

let root = '';
let runDir = '';

before(async () => {
  await tf.setBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'fat2019-merge-'));
  runDir = join(root, 'run');
  const dataDir = join(root, 'data');
  mkdirSync(join(dataDir, 'test'), { recursive: true });
  CLIPS.forEach(([fname, sec], i) => {
    const rng = new Rng(i);
    const x = Float32Array.from({ length: Math.round(sec * 44100) }, (_, k) => 0.3 * Math.sin((2 * Math.PI * (300 + 500 * i) * k) / 44100) + 0.05 * (rng.uniform() - 0.5));
    writeFileSync(join(dataDir, 'test', fname), encodeWavPcm16(x, 44100));
  });
  writeFileSync(join(dataDir, 'sample_submission.csv'), `fname,${VOCAB.join(',')}\n${CLIPS.map(([f]) => `${f},0,0,0`).join('\n')}\n`);
  writeRunInfo(runDir, { version: 1, config: CONFIG, vocabulary: VOCAB, dataDir, createdAt: new Date(0).toISOString() });
  for (const fold of [0, 1, 2]) {
    const model = buildModel(CONFIG.model, { seed: 40 + fold });
    await saveModel(model, join(runDir, 'cnnModel1', 'stage2', `fold${fold}`, 'last'));
    model.dispose();
    writeFoldDone(runDir, { arch: 'cnnModel1', stage: 2, fold, epochs: 1, bestValidLwlrap: 0.5, trainClips: 1, validClips: 1, seconds: 1, finishedAt: new Date(0).toISOString() });
  }
});

after(() => rmSync(root, { recursive: true, force: true }));

function fat2019(args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'fat2019.cjs'), ...args], { encoding: 'utf8', env: { ...process.env, FAT2019_BACKEND: 'cpu' } });
  assert.equal(r.status, 0, `fat2019 ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (const mean of ['arithmetic', 'geometric'] as const) {
  test(`fat2019 infer --folds parts + fat2019 merge = one fat2019 infer within 1e-6 (${mean})`, () => {
    const out = (name: string) => join(root, `${mean}-${name}.csv`);
    const infer = (name: string, extra: string[]) => fat2019(['infer', '--run', runDir, '--workers', '0', '--cache', join(root, 'cache'), '--mean', mean, '--out', out(name), '--quiet', ...extra]);
    infer('all', []);
    infer('a', ['--folds', '0']);
    infer('b', ['--folds', '1,2']);
    const a = readSubmissionMembers(out('a'));
    assert.deepEqual(a.members, ['cnnModel1/stage2/fold0']);
    assert.deepEqual(readSubmissionMembers(out('b')).members, ['cnnModel1/stage2/fold1', 'cnnModel1/stage2/fold2']);
    assert.equal(a.ensembleMean, mean);
    assert.deepEqual(a.vocabulary, VOCAB);
    const stdout = fat2019(['merge', out('a'), out('b'), '--out', out('merged')]);
    assert.match(stdout, new RegExp(`3 clips × 3 classes, 3 model\\(s\\) from 2 parts \\(${mean} mean\\)`));
    const whole = readSubmission(out('all'), VOCAB);
    const merged = readSubmission(out('merged'), VOCAB);
    assert.deepEqual(merged.fnames, ['c.wav', 'a.wav', 'b.wav']);
    const diff = maxAbsDiff(merged.scores, whole.scores);
    assert.ok(diff <= 1e-6, `max |merged − single infer| = ${diff}`);
    // The parts differ from the whole: the test would notice a merge that returned one part.
    assert.ok(maxAbsDiff(readSubmission(out('a'), VOCAB).scores, whole.scores) > 1e-4);
    assert.deepEqual(readSubmissionMembers(out('merged')).members, readSubmissionMembers(out('all')).members);
    if (mean === 'arithmetic') {
      // The parts' own run folder takes submission*.csv, as from infer.
      fat2019(['merge', out('a'), out('b'), '--out', join(runDir, 'submission_merged.csv')]);
      assert.ok(readSubmission(join(runDir, 'submission_merged.csv'), VOCAB).scores.every((v, i) => v === merged.scores[i]));
    }
  });
}

/** A part written as infer writes it: CSV + sidecar, scores `rows[clip][class]`. */
function part(name: string, members: string[], rows: number[][], over: Partial<SubmissionMembers> = {}, fnames = ['x.wav', 'y.wav']): string {
  const path = join(root, `${name}.csv`);
  const vocabulary = over.vocabulary ?? VOCAB;
  writeSubmission(path, fnames, Float64Array.from(rows.flat()), vocabulary);
  writeSubmissionMembers(path, {
    runId: 'run-1', runDir: 'weights/r', members, vocabulary, ensembleMean: 'arithmetic', windowFrames: 128, windowShift: 48, task: 'multiLabel', ...over,
  });
  return path;
}

test('mergeSubmissions: weights by member count (arithmetic, geometric); merged files merge again', () => {
  const p = [[0.2, 0.5, 0.9], [0.01, 0.3, 0.6]];
  const q = [[0.8, 0.1, 0.3], [0.4, 0.7, 0.05]];
  const r = [[0.5, 0.5, 0.5], [0.9, 0.2, 0.1]];
  const a = part('w-a', ['m/stage1/fold0'], p);
  const b = part('w-b', ['m/stage1/fold1', 'm/stage1/fold2'], q);
  const m = mergeSubmissions([a, b]);
  m.scores.forEach((v, i) => assert.ok(Math.abs(v - (p.flat()[i] + 2 * q.flat()[i]) / 3) < 1e-7, `arithmetic ${i}`));
  const ga = part('g-a', ['m/stage1/fold0'], p, { ensembleMean: 'geometric' });
  const gb = part('g-b', ['m/stage1/fold1', 'm/stage1/fold2'], q, { ensembleMean: 'geometric' });
  const g = mergeSubmissions([ga, gb]);
  g.scores.forEach((v, i) => assert.ok(Math.abs(v - Math.exp((Math.log(p.flat()[i]) + 2 * Math.log(q.flat()[i])) / 3)) < 1e-7, `geometric ${i}`));
  // (a + b) + c = a + b + c
  const c = part('w-c', ['m/stage2/fold0'], r);
  const ab = join(root, 'w-ab.csv');
  writeMergedSubmission(ab, m);
  const chained = mergeSubmissions([ab, c]);
  const direct = mergeSubmissions([a, b, c]);
  assert.ok(maxAbsDiff(chained.scores, direct.scores) < 1e-7);
  assert.deepEqual(chained.members.members, ['m/stage1/fold0', 'm/stage1/fold1', 'm/stage1/fold2', 'm/stage2/fold0']);
});

test('mergeSubmissions refuses other runs, vocabularies, settings, clips, overlapping members, edited or bare files', () => {
  const rows = [[0.2, 0.5, 0.9], [0.1, 0.3, 0.6]];
  const a = part('r-a', ['m/stage2/fold0'], rows);
  const refuse = (other: string, message: RegExp) => assert.throws(() => mergeSubmissions([a, other]), message);
  refuse(part('r-run', ['m/stage2/fold1'], rows, { runId: 'run-2', runDir: 'weights/other' }), /r-run\.csv comes from another run \(weights\/other, id run-2\) than .*r-a\.csv \(weights\/r, id run-1\)/);
  refuse(part('r-vocab', ['m/stage2/fold1'], rows, { vocabulary: ['Bark', 'Meow', 'Growl'] }), /r-vocab\.csv: its classes \(3\) differ from .*another vocabulary/);
  refuse(part('r-order', ['m/stage2/fold1'], rows, { vocabulary: ['Meow', 'Bark', 'Purr'] }), /another vocabulary/);
  refuse(part('r-mean', ['m/stage2/fold1'], rows, { ensembleMean: 'geometric' }), /ensembleMean geometric, .*arithmetic; parts must be inferred with the same settings/);
  refuse(part('r-window', ['m/stage2/fold1'], rows, { windowShift: 24 }), /windowShift 24/);
  refuse(part('r-overlap', ['m/stage2/fold1', 'm/stage2/fold0'], rows), /r-overlap\.csv and .*r-a\.csv both hold m\/stage2\/fold0: parts must not overlap/);
  refuse(part('r-clips', ['m/stage2/fold1'], rows, {}, ['x.wav', 'z.wav']), /r-clips\.csv: its clips differ .*row 2: z\.wav vs y\.wav/);
  const edited = part('r-edited', ['m/stage2/fold1'], rows);
  writeFileSync(edited, `fname,${VOCAB.join(',')}\nx.wav,1,1,1\ny.wav,0,0,0\n`);
  refuse(edited, /r-edited\.csv: its content changed after fat2019 infer wrote it/);
  const bare = join(root, 'r-bare.csv');
  writeSubmission(bare, ['x.wav', 'y.wav'], Float64Array.from(rows.flat()), VOCAB);
  refuse(bare, /r-bare\.csv: no .*r-bare\.csv\.members\.json.*only submissions written by fat2019 infer can be merged/);
  assert.throws(() => mergeSubmissions([a]), /at least two submissions, got 1/);
  assert.equal(runIdentity({ config: CONFIG, vocabulary: VOCAB, createdAt: 'x' }), runIdentity({ config: CONFIG, vocabulary: [...VOCAB], createdAt: 'x' }));
  assert.notEqual(runIdentity({ config: CONFIG, vocabulary: VOCAB, createdAt: 'x' }), runIdentity({ config: CONFIG, vocabulary: VOCAB, createdAt: 'y' }));
});

test('fat2019 merge: registered, --help; usage errors; the output may not replace a part', async () => {
  assert.ok(COMMANDS.includes(mergeCommand));
  assert.match(mergeCommand.help, /^Usage: fat2019 merge <a\.csv> <b\.csv>/);
  const rows = [[0.2, 0.5, 0.9], [0.1, 0.3, 0.6]];
  const a = part('c-a', ['m/stage2/fold0'], rows);
  const b = part('c-b', ['m/stage2/fold1'], rows);
  await assert.rejects(mergeCommand.run({}, [a, b]), (e: Error) => e instanceof UsageError && /--out <csv> is required/.test(e.message));
  await assert.rejects(mergeCommand.run({ out: join(root, 'c-m.csv') }, [a]), (e: Error) => e instanceof UsageError && /at least two submissions to merge, got 1/.test(e.message));
  await assert.rejects(mergeCommand.run({ out: a }, [a, b]), /--out .*c-a\.csv: that is an input of this run/);
  await assert.rejects(mergeCommand.run({ out: membersPath(b) }, [a, b]), /that is an input/);
  // Another run's folder is not the merge's to write in.
  await assert.rejects(mergeCommand.run({ out: join(runDir, 'submission.csv') }, [a, b]), (e: Error) => e instanceof UsageError && /inside the run folder/.test(e.message));
  assert.equal(existsSync(join(root, 'c-m.csv')), false);
});
