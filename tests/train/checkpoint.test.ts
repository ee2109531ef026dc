/**
 * Model files and checkpoints (lib/train/checkpoint): standard tfjs layers format round trip,
 * manifest verification, clear errors for truncated or missing files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { MODEL_DEFAULTS, ModelConfig, OPTIMIZER_DEFAULTS } from '../../lib/config';
import { buildModel } from '../../lib/models';
import {
  AdamW, loadCheckpoint, saveCheckpoint, trainableVariables, trainStep,
  TrainingState, verifyCheckpoint,
} from '../../lib/train';
import { loadModel, loadWeightsInto, saveModel } from '../../lib/runtime';
import { Rng } from '../../lib/util/rng';

const tinyCfg = (over: Partial<ModelConfig> = {}): ModelConfig =>
  ({ ...MODEL_DEFAULTS, numClasses: 4, inputMels: 16, inputFrames: 16, widthMultiplier: 1 / 16, ...over });

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'fat2019-ckpt-test-'));
}

/** A model with non-trivial BN running statistics and optimizer moments (two training steps). */
function trainedModel(): { model: tf.LayersModel; opt: AdamW } {
  const model = buildModel(tinyCfg(), { seed: 3 });
  const rng = new Rng(1);
  const x = new Float32Array(4 * 256).map(() => rng.uniform());
  const y = new Float32Array(16).map(() => (rng.uniform() < 0.5 ? 1 : 0));
  const opt = new AdamW(trainableVariables(model), OPTIMIZER_DEFAULTS);
  for (let i = 0; i < 2; i++) trainStep(model, opt, { x, y }, 4, 4, { lr: 1e-2, beta1: 0.9 }, rng);
  return { model, opt };
}

function predict(model: tf.LayersModel): Float32Array {
  return tf.tidy(() => (model.predict(tf.linspace(0, 1, 2 * 16 * 16 * 3).reshape([2, 16, 16, 3])) as tf.Tensor).dataSync() as Float32Array);
}

test('saveModel writes standard tfjs layers files; loadModel restores identical predictions', async () => {
  await tf.setBackend('cpu');
  const { model, opt } = trainedModel();
  const dir = tmpDir();
  try {
    await saveModel(model, dir);
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    assert.equal(json.format, 'layers-model');
    assert.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
    const names = json.weightsManifest[0].weights.map((w: { name: string }) => w.name);
    assert.ok(names.includes('block1_1_conv/kernel') && names.includes('head_bn2/moving_variance'), names.join(','));
    const bytes = json.weightsManifest[0].weights.reduce((s: number, w: { shape: number[] }) => s + 4 * w.shape.reduce((a, b) => a * b, 1), 0);
    assert.equal(fs.statSync(path.join(dir, 'weights.bin')).size, bytes);
    // The standard loader path: model.json + weights through tf.io.fromMemory.
    const loaded = await loadModel(dir);
    assert.deepEqual(predict(loaded), predict(model));
    // And into an existing model of the same architecture (different init).
    const other = buildModel(tinyCfg(), { seed: 77 });
    assert.notDeepEqual(predict(other), predict(model));
    loadWeightsInto(other, dir);
    assert.deepEqual(predict(other), predict(model));
    const wrong = buildModel(tinyCfg({ numClasses: 5 }), { seed: 1 });
    assert.throws(() => loadWeightsInto(wrong, dir), /weights in .*weights\.bin do not fit the model/);
    [loaded, other, wrong].forEach((m) => m.dispose());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    opt.dispose();
    model.dispose();
  }
});

test('checkpoint round trip: weights, optimizer moments, Rng state and history come back exactly', async () => {
  await tf.setBackend('cpu');
  const { model, opt } = trainedModel();
  const root = tmpDir();
  const dir = path.join(root, 'last');
  try {
    const rng = new Rng(123);
    rng.uniform();
    const state: TrainingState<{ epoch: number }> = {
      epoch: 2, step: 10, totalSteps: 20, stepsPerEpoch: 5, rngState: rng.getState(), numTrainClips: 40,
      config: { note: 'test' }, history: [{ epoch: 1 }, { epoch: 2 }],
    };
    await saveCheckpoint(dir, model, opt.getState(), state);
    // Overwriting an existing checkpoint replaces it and leaves no temp folders.
    await saveCheckpoint(dir, model, opt.getState(), { ...state, epoch: 3 });
    assert.deepEqual(fs.readdirSync(root), ['last']);
    const manifest = verifyCheckpoint(dir);
    assert.deepEqual(Object.keys(manifest.files).sort(), ['model.json', 'optimizer.bin', 'optimizer.json', 'state.json', 'weights.bin']);
    const ck = loadCheckpoint<{ epoch: number }>(dir);
    assert.equal(ck.state.epoch, 3);
    assert.deepEqual(ck.state.rngState, rng.getState());
    assert.deepEqual(ck.state.history, state.history);
    const saved = opt.getState();
    assert.equal(ck.optimizer.step, 2);
    ck.optimizer.params.forEach((p, i) => {
      assert.equal(p.name, saved.params[i].name);
      assert.deepEqual(p.m, saved.params[i].m);
      assert.deepEqual(p.v, saved.params[i].v);
    });
    assert.ok(saved.params.some((p) => p.v.some((x) => x > 0)), 'moments are non-trivial');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
    opt.dispose();
    model.dispose();
  }
});

test('a truncated weights file, a missing manifest or an altered file give errors naming the file', async () => {
  await tf.setBackend('cpu');
  const { model, opt } = trainedModel();
  const root = tmpDir();
  const dir = path.join(root, 'last');
  const state: TrainingState = {
    epoch: 1, step: 1, totalSteps: 2, stepsPerEpoch: 1, rngState: [1, 2, 3, 4], numTrainClips: 4, config: {}, history: [],
  };
  try {
    await saveCheckpoint(dir, model, opt.getState(), state);
    const weights = path.join(dir, 'weights.bin');
    const full = fs.readFileSync(weights);
    fs.writeFileSync(weights, full.subarray(0, full.byteLength - 100));
    assert.throws(() => loadCheckpoint(dir), new RegExp(`checkpoint file ${weights.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is truncated or corrupt`));
    // Without the manifest, loadModel's own check still catches the truncation.
    await assert.rejects(loadModel(dir), /weights file .*weights\.bin is truncated or corrupt: manifest in .*model\.json needs \d+ bytes, found \d+/);
    fs.writeFileSync(weights, full);
    verifyCheckpoint(dir);
    // Same size, different content.
    const optBin = path.join(dir, 'optimizer.bin');
    const ob = fs.readFileSync(optBin);
    ob[0] ^= 0xff;
    fs.writeFileSync(optBin, ob);
    assert.throws(() => loadCheckpoint(dir), /checkpoint file .*optimizer\.bin is corrupt: sha256 differs/);
    ob[0] ^= 0xff;
    fs.writeFileSync(optBin, ob);
    fs.rmSync(path.join(dir, 'state.json'));
    assert.throws(() => verifyCheckpoint(dir), /checkpoint file .*state\.json is missing/);
    fs.rmSync(path.join(dir, 'checkpoint.json'));
    assert.throws(() => loadCheckpoint(dir), /checkpoint manifest .*last.checkpoint\.json not found/);
    await assert.rejects(loadModel(path.join(root, 'nowhere')), /model file .*nowhere.model\.json not found/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
    opt.dispose();
    model.dispose();
  }
});
