/**
 * conv → BatchNorm → ReLU trained with the relu inside the batch-norm op, and conv → BatchNorm →
 * residual Add → ReLU with the add and the relu inside it (lib/runtime/kernels/batchNormTraining
 * fuseBatchNormRelu, used by trainStep), against the same steps with the layers
 * as they are: the same losses, weights, running statistics and optimizer moments, bit for bit,
 * on wasm (C kernels) and cpu (tfjs ops); fewer kernel calls; the model's layers and saved
 * topology untouched; nothing leaks.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { MODEL_DEFAULTS, OPTIMIZER_DEFAULTS, type ModelConfig } from '../../lib/config';
import { buildModel } from '../../lib/models';
import { AdamW, trainableVariables, trainStep } from '../../lib/train';
import { setBatchNormReluFusion } from '../../lib/runtime/kernels/batchNormTraining';
import { initWasmBackend } from '../fixtures/wasmBackend';
import { Rng } from '../../lib/util/rng';

before(async () => {
  await initWasmBackend();
});

const cfg = (arch: string): ModelConfig =>
  ({ ...MODEL_DEFAULTS, arch: arch as ModelConfig['arch'], numClasses: 5, inputMels: 32, inputFrames: 32, widthMultiplier: 1 / 16, headDropout1: 0, headDropout2: 0 });

/** Two training steps from seeded weights; everything they change, and the kernel calls of the second. */
async function train(arch: string, fused: boolean): Promise<{ losses: number[]; state: number[][]; calls: Map<string, number>; topology: string }> {
  const was = setBatchNormReluFusion(fused);
  try {
    const model = buildModel(cfg(arch), { seed: 3 });
    const opt = new AdamW(trainableVariables(model), OPTIMIZER_DEFAULTS);
    const rng = new Rng(8);
    const B = 4;
    const batch = { x: Float32Array.from({ length: B * 32 * 32 }, () => rng.uniform()), y: Float32Array.from({ length: B * 5 }, (_, i) => (i % 3 === 0 ? 1 : 0)) };
    const before = tf.memory().numTensors;
    const losses = [trainStep(model, opt, batch, B, B, { lr: 1e-2, beta1: 0.9 }, rng)];
    const calls = new Map<string, number>();
    const profile = await tf.profile(() => { losses.push(trainStep(model, opt, batch, B, 2, { lr: 1e-2, beta1: 0.9 }, rng)); });
    for (const k of profile.kernels) calls.set(k.name, (calls.get(k.name) ?? 0) + 1);
    assert.equal(tf.memory().numTensors, before, `${arch}: tensors leaked`);
    const st = opt.getState();
    const state = [...model.weights.map((w) => Array.from(w.read().dataSync())), ...st.params.flatMap((p) => [Array.from(p.m), Array.from(p.v)])];
    const topology = JSON.stringify(model.toJSON(null, false));
    opt.dispose();
    model.dispose();
    return { losses, state, calls, topology };
  } finally {
    setBatchNormReluFusion(was);
  }
}

for (const backend of ['wasm', 'cpu']) {
  test(`BatchNorm + ReLU and BatchNorm + residual add + ReLU fused in training on ${backend}: the same bits as the layers one by one (resnet18, xresnet18, mobilenetv2)`, async () => {
    await tf.setBackend(backend);
    for (const arch of ['resnet18', 'xresnet18', 'mobilenetv2']) {
      const ref = await train(arch, false);
      const got = await train(arch, true);
      assert.deepEqual(got.losses, ref.losses, `${arch}: losses`);
      got.state.forEach((v, i) => assert.deepEqual(v, ref.state[i], `${arch}: weight or moment ${i}`));
      assert.equal(got.topology, ref.topology, `${arch}: model topology`);
      // wasm, resnet18: every conv → BN → ReLU (the stem and the first conv of each of 8 blocks)
      // and every BN → add → ReLU (the end of each block) loses its Relu kernel, the latter its
      // Add too; xresnet18 likewise, with a stem of three. mobilenetv2's ReLU6 and its adds
      // without a ReLU stay. cpu: nothing is fused (the C kernels are wasm's).
      const count = (r: typeof ref, kernel: string) => r.calls.get(kernel) ?? 0;
      const wasm = backend === 'wasm';
      const [pairs, blocks] = wasm ? ({ resnet18: [9, 8], xresnet18: [11, 8] } as Record<string, [number, number]>)[arch] ?? [0, 0] : [0, 0];
      assert.equal(count(ref, 'Relu') - count(got, 'Relu'), 2 * (pairs + blocks),
        `${arch}: Relu kernel calls ${count(ref, 'Relu')} → ${count(got, 'Relu')} (two micro-batches)`);
      assert.equal(count(ref, 'Add') - count(got, 'Add'), 2 * blocks, `${arch}: Add kernel calls ${count(ref, 'Add')} → ${count(got, 'Add')}`);
    }
  });
}
