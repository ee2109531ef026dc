/**
 * Tagging audio files (lib/infer tagFiles, `fat2019 tag`) with a one-model fake run built here.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CONFIG_DEFAULTS, withDefaults } from '../../lib/config';
import { encodeWavPcm16 } from '../../lib/audio/wav';
import { buildModel } from '../../lib/models/index';
import { saveModel } from '../../lib/runtime/modelFile';
import { writeFoldDone, writeRunInfo } from '../../lib/run/runFolder';
import { decodeForTagging, loadEnsemble, predictImages, rankLabels, tagFiles } from '../../lib/infer/index';
import { COMMANDS } from '../../lib/cli/commands';
import { tagCommand } from '../../lib/cli/tag';
import { Rng } from '../../lib/util/rng';

const ROOT = join(__dirname, '..', '..');
const VOCAB = ['Bark', 'Bell', 'Meow', 'Purr'];
const CONFIG = withDefaults(CONFIG_DEFAULTS, { model: { numClasses: VOCAB.length, widthMultiplier: 0.0625 } });
let root = '';
let runDir = '';
let mono = '';
let stereo = '';

function noise(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => 0.2 * (rng.uniform() - 0.5));
}

before(async () => {
  await tf.setBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'fat2019-tag-'));
  runDir = join(root, 'run');
  writeRunInfo(runDir, { version: 1, config: CONFIG, vocabulary: VOCAB, dataDir: join(root, 'data'), createdAt: new Date(0).toISOString() });
  const model = buildModel(CONFIG.model, { seed: 3 });
  await saveModel(model, join(runDir, 'cnnModel1', 'stage2', 'fold0', 'last'));
  model.dispose();
  writeFoldDone(runDir, { arch: 'cnnModel1', stage: 2, fold: 0, epochs: 1, bestValidLwlrap: null, trainClips: 1, validClips: 1, seconds: 1, finishedAt: '' });
  mono = join(root, 'dog.wav');
  stereo = join(root, 'cat stereo 22k.wav');
  writeFileSync(mono, encodeWavPcm16(noise(44100 * 2.5, 1), 44100));
  writeFileSync(stereo, encodeWavPcm16([noise(22050, 2), noise(22050, 3)], 22050));
});

after(() => rmSync(root, { recursive: true, force: true }));

test('rankLabels: top k by probability, ties in vocabulary order', () => {
  const scores = Float32Array.from([9, 0.2, 0.7, 0.2, 0.9]);
  // Row = Bark .2, Bell .7, Meow .2, Purr .9 (the 9 before it belongs to another row).
  assert.deepEqual(rankLabels(scores, 1, VOCAB, 3).map((l) => l.label), ['Purr', 'Bell', 'Bark']);
  assert.deepEqual(rankLabels(scores, 1, VOCAB, 10).map((l) => l.label), ['Purr', 'Bell', 'Bark', 'Meow'], 'k capped at the vocabulary size; tie Bark/Meow in vocabulary order');
  assert.ok(Math.abs(rankLabels(scores, 1, VOCAB, 1)[0].probability - 0.9) < 1e-6);
});

test('tagFiles: ranked labels = the ensemble\'s probabilities of each decoded file; bad files named', async () => {
  const ensemble = await loadEnsemble(runDir);
  try {
    const before = tf.memory().numTensors;
    const results = await tagFiles([mono, stereo], ensemble, { topK: 3 });
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(results.map((r) => r.file), [mono, stereo]);
    assert.ok(Math.abs(results[0].seconds - 2.5) < 1e-6);
    assert.ok(Math.abs(results[1].seconds - 1) < 1e-3, 'stereo 22.05 kHz: 1 s after resampling to 44.1 kHz');
    const images = await Promise.all([mono, stereo].map(async (f) => (await decodeForTagging(f, CONFIG.preprocess)).image));
    const probs = await predictImages(ensemble, images);
    results.forEach((r, i) => {
      assert.equal(r.labels.length, 3);
      for (let k = 1; k < r.labels.length; k++) assert.ok(r.labels[k - 1].probability >= r.labels[k].probability, 'descending');
      for (const l of r.labels) assert.equal(l.probability, probs[i * VOCAB.length + VOCAB.indexOf(l.label)]);
    });
    const missing = join(root, 'missing.wav');
    await assert.rejects(tagFiles([mono, missing], ensemble), (err: Error) => err.message.includes(missing));
    const junk = join(root, 'junk.wav');
    writeFileSync(junk, 'RIFF nonsense');
    const failed: string[] = [];
    const rest = await tagFiles([junk, mono], ensemble, { onError: (file) => failed.push(file) });
    assert.deepEqual(failed, [junk]);
    assert.deepEqual(rest.map((r) => r.file), [mono]);
    await assert.rejects(tagFiles([mono], ensemble, { topK: 0 }), /topK must be an integer >= 1, got 0/);
  } finally {
    ensemble.dispose();
  }
});

test('fat2019 tag: ranked table, --json parses, an unreadable file is reported and exits 1', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'fat2019.cjs'), 'tag', '--run', runDir, ...args], {
    encoding: 'utf8', env: { ...process.env, FAT2019_BACKEND: 'cpu' },
  });
  const json = cli(['--json', '--quiet', mono, stereo]);
  assert.equal(json.status, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as Array<{ file: string; seconds: number; labels: Array<{ label: string; probability: number }> }>;
  assert.deepEqual(parsed.map((r) => r.file), [mono, stereo]);
  assert.equal(parsed[0].labels.length, 4, 'default top 5, capped at 4 classes');
  assert.ok(parsed[0].labels.every((l) => VOCAB.includes(l.label) && l.probability > 0 && l.probability < 1));
  const missing = join(root, 'nope.flac');
  const table = cli(['--top', '2', mono, missing]);
  assert.equal(table.status, 1);
  assert.match(table.stderr, /nope\.flac/);
  assert.match(table.stderr, /1 of 2 file\(s\) could not be tagged/);
  const lines = table.stdout.trim().split('\n');
  assert.match(lines[0], /dog\.wav\s+\(2\.5 s\)/);
  assert.match(lines[1], /^\s+1\s+0\.\d{4}\s+(Bark|Bell|Meow|Purr)$/);
  assert.match(lines[2], /^\s+2\s+0\.\d{4}\s+(Bark|Bell|Meow|Purr)$/);
  assert.equal(lines.length, 3);
  assert.equal(Number(lines[1].trim().split(/\s+/)[1]).toFixed(4), parsed[0].labels[0].probability.toFixed(4), 'table = JSON');
  assert.ok(COMMANDS.includes(tagCommand));
  assert.match(tagCommand.help, /^Usage: fat2019 tag --run/);
});

test('fat2019 tag: usage errors', async () => {
  await assert.rejects(tagCommand.run({}, [mono]), /--run <dir> is required/);
  await assert.rejects(tagCommand.run({ run: runDir }, []), /no audio file given/);
  await assert.rejects(tagCommand.run({ run: runDir, top: '0' }, [mono]), /--top must be an integer >= 1, got 0/);
});
