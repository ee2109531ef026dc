/**
 * PyTorch's running variance (lib/train/bnStats): made by the BatchNormalization layers
 * themselves during the forward pass where the project's batch-norm training path is installed
 * (lib/runtime/kernels/batchNormTraining: one C call per layer on wasm, tfjs ops elsewhere),
 * snapshot-and-correct where it is not. Both give, bit for bit, what an independent reference
 * gives: tfjs-layers' own layer followed by PyTorch's correction written out here with tfjs
 * ops (new = m·old + (tfjs − m·old)·n/(n − 1)); on cpu and on wasm, with the C kernels on and off.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initWasmBackend } from '../fixtures/wasmBackend';
import { installBatchNormTraining, uninstallBatchNormTraining } from '../../lib/runtime/kernels';
import { setTrainKernelsEnabled } from '../../lib/runtime/kernels/trainWasm';
import { snapshotRunningVariances } from '../../lib/train/bnStats';
import { Rng } from '../../lib/util/rng';

before(async () => {
  await initWasmBackend();
});

const B = 3;

/**
 * conv → BN → ReLU → dense → BN (a BatchNorm2d and a BatchNorm1d), seeded weights and running
 * statistics.
 */
function makeModel(): tf.LayersModel {
  const input = tf.input({ shape: [5, 7, 2] });
  let x = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', kernelInitializer: tf.initializers.randomNormal({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU().apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 5, kernelInitializer: tf.initializers.randomNormal({ seed: 2 }) }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ momentum: 0.8, epsilon: 1e-3 }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: x });
  const rng = new Rng(3);
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const c = layer.getWeights()[0].size;
    const init = [rng.normal(), rng.normal(), rng.normal(), 1 + Math.abs(rng.normal())].map((s) => tf.tensor1d(Float32Array.from({ length: c }, () => s + 0.1 * rng.normal())));
    layer.setWeights(init);
    tf.dispose(init);
  }
  return model;
}

const moving = (l: tf.layers.Layer, what: 'mean' | 'variance') => l.weights.find((v) => v.originalName.endsWith(`/moving_${what}`))!;

/** Running means and variances after two training steps (forward + backward), bnStats' way or the reference way. */
function runningStats(way: 'bnStats' | 'reference'): number[][] {
  const model = makeModel();
  const rng = new Rng(9);
  const bns = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
  for (let step = 0; step < 2; step++) {
    const x = tf.tensor4d(Float32Array.from({ length: B * 5 * 7 * 2 }, () => 2 * rng.normal() + 0.5), [B, 5, 7, 2]);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const old = bns.map((l) => tf.clone(moving(l, 'variance').read()));
    const fix = way === 'bnStats' ? snapshotRunningVariances(model) : null;
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, vars);
    fix?.apply(B);
    if (way === 'reference') {
      bns.forEach((l, i) => {
        const n = B * (l.input as tf.SymbolicTensor).shape.slice(1, -1).reduce((a: number, b) => a * (b ?? 1), 1);
        const { momentum } = l.getConfig() as { momentum: number };
        const w = moving(l, 'variance');
        tf.tidy(() => {
          const base = tf.mul(old[i], momentum);
          w.write(tf.add(base, tf.mul(tf.sub(w.read(), base), n / (n - 1))));
        });
      });
    }
    tf.dispose([x, value, ...Object.values(grads), ...old]);
  }
  const out = bns.flatMap((l) => [moving(l, 'mean'), moving(l, 'variance')].map((w) => Array.from(w.read().dataSync())));
  model.dispose();
  return out;
}

for (const backend of ['cpu', 'wasm']) {
  test(`running variance as PyTorch's on ${backend}: the layers' own update equals tfjs' layer + the correction, bit for bit; nothing leaks`, async () => {
    await tf.setBackend(backend);
    uninstallBatchNormTraining();
    const ref = runningStats('reference');
    assert.deepEqual(runningStats('bnStats'), ref, 'stock layer, snapshot and correction');
    installBatchNormTraining();
    try {
      for (const kernels of [true, false]) {
        const was = setTrainKernelsEnabled(kernels);
        try {
          const before = tf.memory().numTensors;
          let got: number[][] = [];
          const profile = await tf.profile(() => { got = runningStats('bnStats'); });
          assert.equal(tf.memory().numTensors, before, 'tensors leaked');
          // On wasm with the C kernels, the two layers with γ and β update in one call each per step.
          const calls = profile.kernels.filter((k) => k.name === 'Fat2019BatchNormRunningUpdate').length;
          assert.equal(calls, backend === 'wasm' && kernels ? 4 : 0, 'running-average kernel calls');
          assert.deepEqual(got, ref, `installed path, C kernels ${kernels ? 'on' : 'off'}`);
        } finally {
          setTrainKernelsEnabled(was);
        }
      }
    } finally {
      // The backend's default: installed (lib/runtime/backend).
      installBatchNormTraining();
    }
  });
}
