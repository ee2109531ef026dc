/**
 * The learning-rate finder (lib/train/lrFind, lib/train/pipeline/lrFindJob, `fat2019 lr-find`,
 * `train --lr auto`): the schedule, the smoothing and the suggestion rules against hand-worked
 * curves (fastai's formulas), a sweep on tiny data that diverges and stops, the files it
 * writes, and that --lr auto trains with the suggestion while bad flags exit 2 with nothing written.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeWavPcm16 } from '../../lib/audio/index';
import { lrFindCommand } from '../../lib/cli/lrFind';
import { trainCommand } from '../../lib/cli/train';
import { detectLayout } from '../../lib/data/layout';
import { readRunInfo } from '../../lib/run/runFolder';
import { initBackend } from '../../lib/runtime/backend';
import { lrAt, smoothLosses, suggestLr } from '../../lib/train/lrFind';
import { lrFindOnData } from '../../lib/train/pipeline/lrFindJob';
import { resolveTrainConfig } from '../../lib/train/pipeline/trainConfig';
import { runCli } from '../support/runCli';

let root = '';
let data = '';


before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fat2019-lrfind-'));
  data = path.join(root, 'data');
  for (const [label, f] of [['low', 300], ['high', 1800]] as const) {
    for (let i = 0; i < 8; i++) {
      const x = new Float32Array(6000);
      for (let j = 0; j < x.length; j++) x[j] = 0.3 * Math.sin((2 * Math.PI * f * j) / 8000 + i) + 0.01 * Math.sin(j * (i + 1));
      fs.mkdirSync(path.join(data, 'train', label), { recursive: true });
      fs.writeFileSync(path.join(data, 'train', label, `${label}${i}.wav`), encodeWavPcm16(x, 8000));
    }
  }
  await initBackend({ prefer: 'wasm' });
});

after(() => fs.rmSync(root, { recursive: true, force: true }));

test('schedule and smoothing: geometric lrs, debiased EMA (a constant loss stays constant)', () => {
  assert.equal(lrAt(0, 5, 1e-6, 1), 1e-6);
  assert.ok(Math.abs(lrAt(4, 5, 1e-6, 1) - 1) < 1e-12);
  assert.ok(Math.abs(lrAt(2, 5, 1e-6, 1) - 1e-3) < 1e-15, 'midpoint of a geometric sweep is the geometric mean');
  for (const v of smoothLosses([2, 2, 2, 2])) assert.ok(Math.abs(v - 2) < 1e-12);
  const s = smoothLosses([1, 3], 0.5);
  assert.equal(s[0], 1);
  // avg = 0.5·(0.5·1) + 0.5·3 = 1.75, debiased by 1 − 0.25: 7/3.
  assert.ok(Math.abs(s[1] - 7 / 3) < 1e-12);
});

test('suggestions: valley (fastai2), steepest (fastai v1), minimum / 10 on hand-worked curves', () => {
  const lrs = Array.from({ length: 10 }, (_, i) => 10 ** (i - 7));
  const losses = [5, 4, 3, 2, 1, 0.5, 0.8, 2, 4, 8];
  // Longest decreasing run: indices 0..5 (6 points); fastai2: max_start = 5 − 6 = −1,
  // sections = 2, idx = −1 + 2 + 1 = 2.
  assert.deepEqual(suggestLr(lrs, losses, 'valley'), { lr: lrs[2], index: 2 });
  assert.deepEqual(suggestLr(lrs, losses, 'minimum'), { lr: lrs[5] / 10, index: 5 });
  // numpy.gradient: forward difference at 0 (4 − 5 = −1), central inside ((3 − 5)/2 = −1 at 1,
  // ..., (0.5 − 2)/2 = −0.75 at 4): slopes −1 at 0..3, the first of them wins.
  assert.deepEqual(suggestLr(lrs, losses, 'steepest'), { lr: lrs[0], index: 0 });
  // A smooth curve: loss = −tanh(x − 40) over 100 points falls fastest at x = 40.
  const n = 100;
  const l2 = Array.from({ length: n }, (_, i) => -Math.tanh((i - 40) / 5));
  const x2 = Array.from({ length: n }, (_, i) => lrAt(i, n, 1e-7, 10));
  assert.equal(suggestLr(x2, l2, 'steepest').index, 40);
  assert.throws(() => suggestLr([1, 2], [1, 2]), /at least 3/);
});

test('lrFindOnData: a sweep to lr 1e3 diverges and stops early; suggestions lie inside the sweep', async () => {
  const layout = detectLayout(data);
  const { config } = resolveTrainConfig(path.join(root, 'none'), data, { width: '0.125', epochs: '10', 'batch-size': '8' }, layout);
  const r = await lrFindOnData({ layout, config, cacheDir: path.join(root, 'cache'), startLr: 1e-5, endLr: 1e3, numIt: 40 });
  assert.equal(r.stop, 'diverged');
  assert.ok(r.lrs.length < 40 && r.lrs.length >= 3, `${r.lrs.length} steps`);
  assert.equal(r.lrs.length, r.losses.length);
  for (const v of Object.values(r.suggestions)) assert.ok(v >= 1e-6 && v <= r.lrs[r.lrs.length - 1], String(v));
  assert.equal(r.lr, r.suggestions.valley);
  assert.equal(r.batchSize, 8);
});

test('fat2019 lr-find writes CSV, HTML and JSON; bad flags exit 2 and write nothing', async () => {
  const out = path.join(root, 'lrf');
  const r = await runCli(lrFindCommand, ['--data', data, '--width', '0.125', '--epochs', '5', '--out', out, '--cache', path.join(root, 'cache'), '--num-it', '12', '--end-lr', '1', '--quiet']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /suggested max lr [\d.e-]+ \(valley; steepest [\d.e-]+, minimum [\d.e-]+\)/);
  const rows = fs.readFileSync(path.join(out, 'lr-find.csv'), 'utf8').trim().split('\n');
  assert.equal(rows[0], 'step,lr,loss,smoothed');
  assert.ok(rows.length >= 4);
  assert.match(fs.readFileSync(path.join(out, 'lr-find.html'), 'utf8'), /Plotly\.newPlot/);
  const json = JSON.parse(fs.readFileSync(path.join(out, 'lr-find.json'), 'utf8'));
  assert.equal(json.suggestion, 'valley');
  for (const [argv, re] of [
    [['--suggest', 'best'], /--suggest must be one of valley, steepest, minimum/],
    [['--lr', '0.01'], /Unknown option '--lr'/],
    [['--start-lr', '1', '--end-lr', '0.1'], /0 < start < end/],
    [['--set', 'train.batchsize=4'], /did you mean train\.batchSize/],
  ] as [string[], RegExp][]) {
    const dir = path.join(root, `lrf-bad-${argv[0].replace(/\W/g, '')}`);
    const bad = await runCli(lrFindCommand, ['--data', data, '--out', dir, '--quiet', ...argv]);
    assert.equal(bad.code, 2, argv.join(' '));
    assert.match(bad.err, re);
    assert.equal(fs.existsSync(dir), false);
  }
});

test('train --lr auto trains with the suggestion; --show-config names it; an existing run refuses it', async () => {
  const run = path.join(root, 'run-auto');
  const cache = path.join(root, 'cache');
  const shown = await runCli(trainCommand, ['--run', run, '--data', data, '--lr', 'auto', '--show-config', '--quiet']);
  assert.equal(shown.code, 0);
  assert.match(shown.out, /pipeline\.stageMaxLr = .* flag: --lr auto \(lr-find before training\)/);
  const r = await runCli(trainCommand, ['--run', run, '--data', data, '--cache', cache, '--width', '0.125', '--epochs', '1', '--folds', '1', '--recipe', 'single',
    '--lr', 'auto', '--num-it', '12', '--end-lr', '1', '--threads', '1']);
  assert.equal(r.code, 0, r.err);
  const m = /--lr auto: max lr ([\d.e-]+) \(lr-find valley/.exec(r.err);
  assert.ok(m, r.err);
  assert.equal(readRunInfo(run).config.pipeline.stageMaxLr[0], Number(m[1]));
  const again = await runCli(trainCommand, ['--run', run, '--data', data, '--cache', cache, '--lr', 'auto', '--quiet']);
  assert.equal(again.code, 2);
  assert.match(again.err, /--lr auto picks a new run's learning rate/);
});
