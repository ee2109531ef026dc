/**
 * Early stopping with --holdout f (lib/train/pipeline/holdoutRefit): the winning epoch is the
 * held-out run's best validation epoch (checked against its history here), is printed, and
 * --refit trains <run> on every clip for that many epochs; --refit without --holdout exits 2
 * with nothing written.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeWavPcm16 } from '../../lib/audio/index';
import { trainCommand } from '../../lib/cli/train';
import { readRunInfo } from '../../lib/run/runFolder';
import { initBackend } from '../../lib/runtime/backend';
import { chooseEpochs, readHistory, refitConfig } from '../../lib/train/pipeline/holdoutRefit';
import { tinyConfig } from '../support/pipelineFixture';
import { runCli } from '../support/runCli';

let root = '';
let data = '';

const train = (argv: string[]) => runCli(trainCommand, argv);

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fat2019-refit-'));
  data = path.join(root, 'data');
  for (const [label, f] of [['low', 300], ['high', 1800]] as const) {
    for (let i = 0; i < 8; i++) {
      const x = new Float32Array(6000);
      for (let j = 0; j < x.length; j++) x[j] = 0.3 * Math.sin((2 * Math.PI * f * j) / 8000 + i) + 0.02 * Math.sin(j * (i + 1));
      fs.mkdirSync(path.join(data, 'train', label), { recursive: true });
      fs.writeFileSync(path.join(data, 'train', label, `${label}${i}.wav`), encodeWavPcm16(x, 8000));
    }
  }
  await initBackend({ prefer: 'wasm' });
});

after(() => fs.rmSync(root, { recursive: true, force: true }));

test('refitConfig: every clip, each stage for its chosen epochs', () => {
  const c = refitConfig(tinyConfig({ pipeline: { folds: 1, holdout: 0.2, stageEpochs: [9, 9, 9, 9] } }), [{ stage: 2, epoch: 4, of: 9, metric: 'accuracy', score: 1 }]);
  assert.equal(c.pipeline.folds, 1);
  assert.equal(c.pipeline.holdout, 0);
  assert.deepEqual(c.pipeline.stageEpochs, [9, 4, 9, 9]);
});

test('--refit without --holdout exits 2 and writes nothing', async () => {
  const run = path.join(root, 'run-bad');
  const r = await train(['--run', run, '--data', data, '--refit', '--folds', '1', '--quiet']);
  assert.equal(r.code, 2);
  assert.match(r.err, /--refit needs --holdout f/);
  assert.equal(fs.existsSync(run), false);
});

test('train --holdout 0.25 --refit: the best held-out epoch wins and <run> trains that many on every clip', async () => {
  const run = path.join(root, 'run');
  const r = await train(['--run', run, '--data', data, '--cache', path.join(root, 'cache'), '--width', '0.125', '--epochs', '3', '--holdout', '0.25', '--refit',
    '--batch-size', '4', '--threads', '1', '--quiet']);
  assert.equal(r.code, 0, r.err);
  const held = readRunInfo(path.join(run, 'holdout')).config;
  assert.equal(held.pipeline.holdout, 0.25);
  // Oracle: the first epoch with the highest validation score in the held-out run's history.
  const history = readHistory(path.join(run, 'holdout', held.model.arch, 'stage1', 'fold0'));
  assert.equal(history.length, 3);
  const scores = history.map((h) => h.validScore!);
  const expected = scores.indexOf(Math.max(...scores)) + 1;
  assert.deepEqual(chooseEpochs(path.join(run, 'holdout'), held).map((c) => c.epoch), [expected]);
  assert.match(r.out, new RegExp(`stage 1: epoch ${expected} of 3 won \\(valid accuracy `));
  const refit = readRunInfo(run).config;
  assert.equal(refit.pipeline.holdout, 0);
  assert.equal(refit.pipeline.stageEpochs[0], expected);
  assert.equal(readHistory(path.join(run, refit.model.arch, 'stage1', 'fold0')).length, expected);
  assert.equal(refit.train.batchSize, 4);
});
