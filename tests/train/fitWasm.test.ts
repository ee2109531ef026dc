/**
 * Training on the wasm backend (lib/runtime/backend's initBackend with the project's custom
 * gradient kernels): weights saved on cpu load on wasm, a tiny model overfits a fixed batch,
 * fit runs leak-free. Fails where the wasm backend cannot start (tests/fixtures/wasmBackend.ts).
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
import { AdamW, Callback, fit, trainableVariables, trainStep } from '../../lib/train';
import { initWasmBackend } from '../fixtures/wasmBackend';
import { loadModel, saveModel } from '../../lib/runtime';
import { Rng } from '../../lib/util/rng';

const tinyCfg = (over: Partial<ModelConfig> = {}): ModelConfig =>
  ({ ...MODEL_DEFAULTS, numClasses: 4, inputMels: 16, inputFrames: 16, widthMultiplier: 1 / 16, ...over });

const input = () => tf.tidy(() => tf.linspace(0, 1, 3 * 16 * 16 * 3).reshape([3, 16, 16, 3]));

test('wasm: weights saved on cpu load on wasm; tiny model overfits; fit is leak-free', async () => {
  // 1. Save on cpu.
  await tf.setBackend('cpu');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fat2019-wasm-test-'));
  try {
    const cpuModel = buildModel(tinyCfg(), { seed: 4 });
    const x = input();
    const cpuPred = tf.tidy(() => (cpuModel.predict(x) as tf.Tensor).dataSync());
    await saveModel(cpuModel, dir);
    cpuModel.dispose();
    x.dispose();

    // 2. Switch to wasm through the backend engineer's initBackend.
    const info = await initWasmBackend();
    assert.ok(info.customKernels.includes('wasm:Conv2DBackpropFilter'), info.customKernels.join(','));
    const wasmModel = await loadModel(dir);
    const xw = input();
    const wasmPred = tf.tidy(() => (wasmModel.predict(xw) as tf.Tensor).dataSync());
    xw.dispose();
    wasmPred.forEach((v, i) => assert.ok(Math.abs(v - cpuPred[i]) < 1e-4, `logit ${i}: wasm ${v} vs cpu ${cpuPred[i]}`));
    wasmModel.dispose();

    // 3. Overfit a fixed batch (no dropout, so the loss curve is smooth).
    const model = buildModel(tinyCfg({ headDropout1: 0, headDropout2: 0 }), { seed: 1 });
    const rng = new Rng(5);
    const B = 8;
    const bx = new Float32Array(B * 256).map(() => rng.uniform());
    const by = new Float32Array(B * 4).map(() => (rng.uniform() < 0.4 ? 1 : 0));
    const opt = new AdamW(trainableVariables(model), { ...OPTIMIZER_DEFAULTS, weightDecay: 0 });
    const before = tf.memory().numTensors;
    let loss = Infinity;
    let steps = 0;
    while (steps < 50 && loss >= 0.05) {
      loss = trainStep(model, opt, { x: bx, y: by }, B, 4, { lr: 1e-2, beta1: 0.9 }, rng);
      steps++;
      assert.equal(tf.memory().numTensors, before);
    }
    assert.ok(loss < 0.05, `wasm loss after ${steps} steps: ${loss}`);
    opt.dispose();
    model.dispose();

    // 4. A short fit with validation: constant tensor count per step, nothing left after.
    const data = new Rng(3);
    const clips: TrainingClip[] = Array.from({ length: 12 }, (_, i) => {
      const frames = 16 + data.int(20);
      const target = new Float32Array(4);
      target[i % 4] = 1;
      return { fname: `c${i}.wav`, image: { nMels: 16, frames, data: new Uint8Array(16 * frames).map(() => data.int(256)) }, target };
    });
    const m2 = buildModel(tinyCfg(), { seed: 2 });
    const base = tf.memory().numTensors;
    const counts: number[] = [];
    const probe: Callback = { onBatchEnd: () => { counts.push(tf.memory().numTensors); } };
    const res = await fit({
      model: m2, trainClips: clips.slice(0, 8), validClips: clips.slice(8),
      train: { ...TRAIN_DEFAULTS, epochs: 2, batchSize: 4, microBatchSize: 2, seed: 1 }, optimizer: OPTIMIZER_DEFAULTS,
      callbacks: [probe],
    });
    assert.equal(res.steps, 4);
    assert.ok(counts.every((c) => c === counts[0]), `tensor counts ${counts}`);
    assert.equal(tf.memory().numTensors, base);
    m2.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
