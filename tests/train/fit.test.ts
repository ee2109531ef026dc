/**
 * The fit loop (lib/train/fit, batch, callbacks) on the cpu backend with tiny models:
 * overfitting a fixed batch, gradient accumulation, leak-free steps, resume determinism,
 * callbacks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { MODEL_DEFAULTS, ModelConfig, OPTIMIZER_DEFAULTS, TRAIN_DEFAULTS } from '../../lib/config';
import type { TrainingClip } from '../../lib/data/types';
import { buildModel } from '../../lib/models';
import {
  AdamW, Callback, EpochLog, FitContext, earlyStopping, fit, jsonlLogger, randomCropBatch,
  trainableVariables, trainStep,
} from '../../lib/train';
import { slidingWindowStarts } from '../../lib/runtime';
import { Rng } from '../../lib/util/rng';

const tinyCfg = (over: Partial<ModelConfig> = {}): ModelConfig =>
  ({ ...MODEL_DEFAULTS, numClasses: 4, inputMels: 16, inputFrames: 16, widthMultiplier: 1 / 16, ...over });

/** Synthetic clips: 16 mel rows, 16–40 frames, class k brightens mel band k·4..k·4+3. */
function makeClips(n: number, seed: number, numClasses = 4): TrainingClip[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const frames = 16 + rng.int(25);
    const target = new Float32Array(numClasses);
    target[i % numClasses] = 1;
    if (rng.chance(0.3)) target[rng.int(numClasses)] = 1;
    const data = new Uint8Array(16 * frames);
    for (let m = 0; m < 16; m++) {
      for (let t = 0; t < frames; t++) {
        const on = target[Math.floor(m / 4) % numClasses] > 0;
        data[m * frames + t] = Math.min(255, Math.floor(rng.uniform() * 80 + (on ? 150 : 0)));
      }
    }
    return { fname: `clip${i}.wav`, image: { nMels: 16, frames, data }, target };
  });
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'fat2019-fit-test-'));
}

test('a tiny model overfits a fixed batch on cpu: loss < 0.05 within 50 steps, no tensor leaks', async () => {
  await tf.setBackend('cpu');
  const model = buildModel(tinyCfg({ headDropout1: 0, headDropout2: 0 }), { seed: 1 });
  const rng = new Rng(5);
  const B = 8;
  const x = new Float32Array(B * 16 * 16).map(() => rng.uniform());
  const y = new Float32Array(B * 4).map(() => (rng.uniform() < 0.4 ? 1 : 0));
  const opt = new AdamW(trainableVariables(model), { ...OPTIMIZER_DEFAULTS, weightDecay: 0 });
  const before = tf.memory().numTensors;
  const losses: number[] = [];
  for (let i = 0; i < 50 && !(losses[losses.length - 1] < 0.05); i++) {
    losses.push(trainStep(model, opt, { x, y }, B, 4, { lr: 1e-2, beta1: 0.9 }, rng));
    assert.equal(tf.memory().numTensors, before, `tensors after step ${i}`);
  }
  assert.ok(losses[0] > 0.3, `initial loss ${losses[0]}`);
  assert.ok(losses[losses.length - 1] < 0.05, `loss after ${losses.length} steps: ${losses[losses.length - 1]}`);
  opt.dispose();
  model.dispose();
});

test('gradient accumulation: micro-batches of 1 give the same step as one batch of 4 (model without BN)', async () => {
  await tf.setBackend('cpu');
  const build = () => {
    const input = tf.input({ shape: [4, 4, 3] });
    const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.randomNormal({ seed: 3 }) }).apply(flat) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: out });
  };
  const rng = new Rng(9);
  const x = new Float32Array(4 * 16).map(() => rng.uniform());
  const y = new Float32Array(4 * 3).map(() => (rng.uniform() < 0.5 ? 1 : 0));
  const results: Float32Array[] = [];
  const lossesOut: number[] = [];
  for (const micro of [4, 1, 3]) {
    const model = build();
    const opt = new AdamW(trainableVariables(model), OPTIMIZER_DEFAULTS);
    lossesOut.push(trainStep(model, opt, { x, y }, 4, micro, { lr: 1e-2, beta1: 0.9 }, new Rng(1)));
    // The Adam step normalises the update; compare after a second step so m/v ratios matter.
    trainStep(model, opt, { x, y }, 4, micro, { lr: 1e-2, beta1: 0.9 }, new Rng(1));
    results.push(model.getWeights()[0].dataSync() as Float32Array);
    opt.dispose();
    model.dispose();
  }
  for (const r of results.slice(1)) r.forEach((v, i) => assert.ok(Math.abs(v - results[0][i]) < 1e-5, `w[${i}] ${v} vs ${results[0][i]}`));
  for (const l of lossesOut.slice(1)) assert.ok(Math.abs(l - lossesOut[0]) < 1e-6);
});

test('randomCropBatch: each sample is a contiguous 16-frame window of its clip, /255, targets copied', () => {
  const clips = makeClips(6, 3);
  const batch = randomCropBatch(16)(clips, [5, 0, 2], new Rng(2));
  assert.equal(batch.x.length, 3 * 16 * 16);
  [5, 0, 2].forEach((ci, b) => {
    const { frames, data } = clips[ci].image;
    let start = -1;
    for (let s = 0; s + 16 <= frames && start < 0; s++) {
      let ok = true;
      for (let m = 0; m < 16 && ok; m++) for (let t = 0; t < 16 && ok; t++) ok = batch.x[b * 256 + m * 16 + t] === Math.fround(data[m * frames + s + t] / 255);
      if (ok) start = s;
    }
    assert.ok(start >= 0, `sample ${b} is not a window of clip ${ci}`);
    assert.deepEqual(Array.from(batch.y.subarray(b * 4, b * 4 + 4)), Array.from(clips[ci].target));
  });
});

test('sliding windows follow SPEC: s = ceil((T-128)/48)+1, starts rounded half to even', () => {
  assert.deepEqual(slidingWindowStarts(128, 128, 48), [0]);
  assert.deepEqual(slidingWindowStarts(100, 128, 48), [0]);
  assert.deepEqual(slidingWindowStarts(129, 128, 48), [0, 1]);
  // T = 226: span 98, s = 4: 0, 32.67→33, 65.33→65, 98.
  assert.deepEqual(slidingWindowStarts(226, 128, 48), [0, 33, 65, 98]);
  // T = 225: span 97, s = 4: 0, 32.33→32, 64.67→65, 97.
  assert.deepEqual(slidingWindowStarts(225, 128, 48), [0, 32, 65, 97]);
  // Half to even: span 5, shift 3 → s = 3: 0, 2.5→2, 5; span 3, shift 2 → s = 3: 0, 1.5→2, 3.
  assert.deepEqual(slidingWindowStarts(133, 128, 3), [0, 2, 5]);
  assert.deepEqual(slidingWindowStarts(131, 128, 2), [0, 2, 3]);
});

test('resume after a crash in epoch 3 gives the same weights and history as an uninterrupted run', async () => {
  await tf.setBackend('cpu');
  const trainClips = makeClips(16, 11);
  const validClips = makeClips(6, 12);
  const train = { ...TRAIN_DEFAULTS, epochs: 4, batchSize: 8, microBatchSize: 4, seed: 42 };
  const optimizer = { ...OPTIMIZER_DEFAULTS, maxLr: 1e-2 };
  const dir = tmpDir();
  try {
    const a = buildModel(tinyCfg(), { seed: 1 });
    const ra = await fit({ model: a, trainClips, validClips, train, optimizer });
    assert.equal(ra.epochs, 4);
    assert.equal(ra.steps, 8);

    const b = buildModel(tinyCfg(), { seed: 1 });
    const crash: Callback = { onEpochBegin: (ctx) => { if (ctx.epoch === 3) throw new Error('simulated crash'); } };
    await assert.rejects(fit({ model: b, trainClips, validClips, train, optimizer, checkpointDir: dir, callbacks: [crash] }), /simulated crash/);
    b.dispose();
    // A different initialisation: everything must come from the checkpoint.
    const c = buildModel(tinyCfg(), { seed: 99 });
    const log = path.join(dir, 'history.jsonl');
    const rc = await fit({ model: c, trainClips, validClips, train, optimizer, checkpointDir: dir, resume: true, callbacks: [jsonlLogger(log)] });
    assert.equal(rc.resumed, true);
    assert.equal(rc.steps, 8);
    const wa = a.getWeights();
    const wc = c.getWeights();
    assert.equal(wa.length, wc.length);
    let maxDiff = 0;
    wa.forEach((t, i) => {
      const x = t.dataSync();
      const z = wc[i].dataSync();
      for (let k = 0; k < x.length; k++) maxDiff = Math.max(maxDiff, Math.abs(x[k] - z[k]));
    });
    assert.ok(maxDiff <= 1e-5, `max weight difference ${maxDiff}`);
    const strip = (h: EpochLog[]) => h.map(({ epoch, step, trainLoss, validLoss, validLwlrap, lr }) => ({ epoch, step, trainLoss, validLoss, validLwlrap, lr }));
    assert.deepEqual(strip(rc.history), strip(ra.history));
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as EpochLog);
    assert.deepEqual(lines.map((l) => l.epoch), [1, 2, 3, 4]);
    assert.ok(fs.existsSync(path.join(dir, 'best', 'model.json')));
    a.dispose();
    c.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('fit keeps the tensor count constant across steps and frees everything it made', async () => {
  await tf.setBackend('cpu');
  const model = buildModel(tinyCfg(), { seed: 2 });
  const before = tf.memory().numTensors;
  const counts: number[] = [];
  const probe: Callback = { onBatchEnd: () => { counts.push(tf.memory().numTensors); } };
  const res = await fit({
    model, trainClips: makeClips(12, 4), validClips: makeClips(4, 5),
    train: { ...TRAIN_DEFAULTS, epochs: 2, batchSize: 4, microBatchSize: 2, seed: 1 },
    optimizer: OPTIMIZER_DEFAULTS, callbacks: [probe], validation: { mode: 'sliding', windowShift: 8 },
  });
  assert.equal(counts.length, 6);
  assert.ok(counts.every((c) => c === counts[0]), `tensor counts ${counts}`);
  assert.equal(tf.memory().numTensors, before);
  assert.ok(res.history.every((h) => h.validLwlrap! > 0 && h.validLwlrap! <= 1 && Number.isFinite(h.trainLoss)));
  model.dispose();
});

test('earlyStopping stops once lwlrap has not improved for `patience` epochs (state from history)', () => {
  const cb = earlyStopping(2);
  const ctx = { history: [] as EpochLog[], stopTraining: false } as unknown as FitContext;
  const scores = [0.5, 0.6, 0.55, 0.58, 0.7];
  const stoppedAt: number[] = [];
  scores.forEach((s, i) => {
    const log = { epoch: i + 1, step: i, trainLoss: 1, validLwlrap: s, lr: 0, seconds: 0, samplesPerSecond: 0 };
    ctx.history.push(log);
    void cb.onEpochEnd!(ctx, log);
    if (ctx.stopTraining) stoppedAt.push(i + 1);
  });
  assert.equal(stoppedAt[0], 4);
  assert.match(ctx.stopReason!, /not improved for 2 epochs \(best 0.6000 at epoch 2\)/);
  assert.throws(() => earlyStopping(0), /patience must be an integer >= 1, got 0/);
});

test('bad fit options and a missing checkpoint fail with clear errors', async () => {
  await tf.setBackend('cpu');
  const model = buildModel(tinyCfg(), { seed: 2 });
  const base = { model, trainClips: makeClips(4, 1), train: { ...TRAIN_DEFAULTS, epochs: 1, batchSize: 4 }, optimizer: OPTIMIZER_DEFAULTS };
  await assert.rejects(fit({ ...base, train: { ...base.train, epochs: 0 } }), /train.epochs must be an integer >= 1, got 0/);
  await assert.rejects(fit({ ...base, trainClips: [] }), /trainClips must not be empty/);
  await assert.rejects(fit({ ...base, resume: true }), /resume needs checkpointDir/);
  const dir = tmpDir();
  try {
    await assert.rejects(fit({ ...base, resume: true, checkpointDir: dir }), /checkpoint manifest .*last.checkpoint\.json not found/);
    // 'ifExists' starts fresh when there is no checkpoint at all.
    const r = await fit({ ...base, resume: 'ifExists', checkpointDir: dir });
    assert.equal(r.resumed, false);
    // Resuming with another schedule length is refused.
    await assert.rejects(fit({ ...base, train: { ...base.train, epochs: 3 }, resume: true, checkpointDir: dir }), /same data, batch size and epochs/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    model.dispose();
  }
});

test('progressBar prints one summary line per epoch (non-TTY); liveUpdates hands snapshots to the display', async () => {
  const { progressBar, liveUpdates } = await import('../../lib/train');
  let out = '';
  const stream = { isTTY: false, write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WritableStream;
  const bar = progressBar({ stream });
  const snaps: Array<{ trigger: string; losses: number }> = [];
  const live = liveUpdates((s) => { snaps.push({ trigger: s.trigger, losses: s.batchLosses.length }); }, 2);
  const ctx = { epoch: 1, epochs: 2, step: 0, stepsPerEpoch: 3, totalSteps: 6, history: [] as EpochLog[], stopTraining: false } as unknown as FitContext;
  await bar.onEpochBegin!(ctx);
  for (let b = 0; b < 3; b++) {
    ctx.step++;
    const log = { epoch: 1, batch: b, step: ctx.step, loss: 0.5, lr: 1e-3, beta1: 0.9, samples: 4 };
    await bar.onBatchEnd!(ctx, log);
    await live.onBatchEnd!(ctx, log);
  }
  const epochLog: EpochLog = { epoch: 1, step: 3, trainLoss: 0.5, validLoss: 0.4, validLwlrap: 0.75, lr: 1e-3, seconds: 65, samplesPerSecond: 0.2 };
  ctx.history.push(epochLog);
  await bar.onEpochEnd!(ctx, epochLog);
  await live.onEpochEnd!(ctx, epochLog);
  assert.equal(out, 'epoch 1/2  train 0.5000  valid 0.4000  lwlrap 0.7500  lr 1.0e-3  1:05 (0.2 samples/s)  ETA 1:05\n');
  assert.deepEqual(snaps, [{ trigger: 'batch', losses: 2 }, { trigger: 'epoch', losses: 3 }]);
});

test('stopAfterEpochs ends a run early with a checkpoint; resume "ifExists" finishes it', async () => {
  await tf.setBackend('cpu');
  const { stopAfterEpochs } = await import('../../lib/train');
  const dir = tmpDir();
  const model = buildModel(tinyCfg(), { seed: 2 });
  try {
    const base = { model, trainClips: makeClips(4, 1), train: { ...TRAIN_DEFAULTS, epochs: 2, batchSize: 4, seed: 3 }, optimizer: OPTIMIZER_DEFAULTS, checkpointDir: dir };
    const first = await fit({ ...base, callbacks: [stopAfterEpochs(1)] });
    assert.equal(first.epochs, 1);
    assert.equal(first.stoppedEarly, true);
    assert.equal(first.stopReason, 'stopAfterEpochs(1)');
    const second = await fit({ ...base, resume: 'ifExists' });
    assert.equal(second.resumed, true);
    assert.equal(second.epochs, 2);
    assert.equal(second.stoppedEarly, false);
    assert.deepEqual(second.history.map((h) => h.epoch), [1, 2]);
    // A run that ended for good (ctx.completed, as early stopping sets it) is not trained further on resume.
    const dir2 = path.join(dir, 'run2');
    const done: Callback = { onEpochEnd: (ctx) => { ctx.stopTraining = true; ctx.completed = true; ctx.stopReason = 'finished'; } };
    const r1 = await fit({ ...base, checkpointDir: dir2, callbacks: [done] });
    const r2 = await fit({ ...base, checkpointDir: dir2, resume: true });
    assert.deepEqual([r1.epochs, r2.epochs, r2.steps, r2.stoppedEarly, r2.stopReason], [1, 1, 1, true, 'finished']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    model.dispose();
  }
});

test('BatchNorm running statistics follow PyTorch: momentum 0.1, unbiased batch variance for the running variance', async () => {
  await tf.setBackend('cpu');
  // Tiny model: its head_bn2 sees a [B, hidden] batch; check its running mean/var after one step.
  const model = buildModel(tinyCfg({ headDropout1: 0, headDropout2: 0 }), { seed: 6 });
  const rng = new Rng(8);
  const B = 4;
  const x = new Float32Array(B * 256).map(() => rng.uniform());
  const y = new Float32Array(B * 4).map(() => (rng.uniform() < 0.5 ? 1 : 0));
  // The input of head_bn2 (= head_relu output) in training mode, before the step.
  const probe = tf.model({ inputs: model.inputs, outputs: model.getLayer('head_relu').output as tf.SymbolicTensor });
  const h = tf.tidy(() => (probe.apply(tf.tensor4d(x, [B, 16, 16, 1]).tile([1, 1, 1, 3]), { training: true }) as tf.Tensor).arraySync() as number[][]);
  // probe.apply in training mode also updated the running stats of earlier BNs; rebuild a fresh model.
  model.dispose();
  const fresh = buildModel(tinyCfg({ headDropout1: 0, headDropout2: 0 }), { seed: 6 });
  const opt = new AdamW(trainableVariables(fresh), OPTIMIZER_DEFAULTS);
  trainStep(fresh, opt, { x, y }, B, B, { lr: 0, beta1: 0.9 }, rng);
  const [, , runMean, runVar] = fresh.getLayer('head_bn2').getWeights().map((t) => t.dataSync());
  const units = h[0].length;
  for (let j = 0; j < units; j++) {
    const col = h.map((r) => r[j]);
    const mean = col.reduce((a, b) => a + b, 0) / B;
    const unbiased = col.reduce((a, b) => a + (b - mean) ** 2, 0) / (B - 1);
    assert.ok(Math.abs(runMean[j] - 0.1 * mean) < 1e-5, `running mean ${j}: ${runMean[j]} vs ${0.1 * mean}`);
    assert.ok(Math.abs(runVar[j] - (0.9 + 0.1 * unbiased)) < 1e-5, `running var ${j}: ${runVar[j]} vs ${0.9 + 0.1 * unbiased}`);
  }
  opt.dispose();
  fresh.dispose();
});
