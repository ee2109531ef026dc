/**
 * BatchNormalization layers training through lib/runtime/kernels/batchNormTraining (one op,
 * closed-form gradient) against tfjs-layers' own code path (tf.moments + tf.batchNorm with
 * tfjs-core's generic gradients) on the cpu backend: same outputs and running statistics bit for
 * bit, gradients equal to float32 rounding, no leaked tensors.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { installBatchNormTraining, uninstallBatchNormTraining, restoreStockKernels, batchNormTraining } from '../../lib/runtime/kernels';
import { Rng } from '../../lib/util/rng';
import { initWasmBackend } from '../fixtures/wasmBackend';

before(async () => {
  await tf.setBackend('cpu');
  restoreStockKernels();
});

const rng = new Rng(7);
const randn = (n: number) => Float32Array.from({ length: n }, () => rng.normal());

/** One training forward/backward of a BN layer; returns y, grads (x, γ, β) and the running stats. */
function run(shape: number[], xv: Float32Array, weights: Float32Array[], rv: Float32Array): Float32Array[] {
  const c = shape[shape.length - 1];
  const layer = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5, inputShape: shape.slice(1) });
  layer.build(shape);
  const init = weights.map((w) => tf.tensor1d(w));
  layer.setWeights(init);
  tf.dispose(init);
  const x = tf.tensor(xv, shape);
  const r = tf.tensor(rv, shape);
  const [gamma, beta] = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  let y: Float32Array = new Float32Array(0);
  const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    // γ and β enter through the layer's variables; add 0·g, 0·b so tf.grads tracks them.
    const out = layer.apply(a, { training: true }) as tf.Tensor;
    y = out.dataSync().slice() as Float32Array;
    return tf.sum(tf.mul(out, r)).add(tf.sum(g).mul(0)).add(tf.sum(b).mul(0));
  };
  const { grads } = tf.tidy(() => {
    const { value, grads: gs } = tf.variableGrads(() => f(x, gamma, beta) as tf.Scalar, [gamma, beta]);
    const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(layer.apply(a, { training: true }) as tf.Tensor, r)))(x);
    value.dispose();
    return { grads: [dx, gs[gamma.name], gs[beta.name]].map((t) => t.dataSync().slice() as Float32Array) };
  });
  assert.equal(c, gamma.shape[0]);
  // Running stats after the two training calls above.
  const stats = layer.getWeights().slice(2).map((w) => w.dataSync().slice() as Float32Array);
  tf.dispose([x, r]);
  for (const w of layer.weights) w.dispose();
  return [y, ...grads, ...stats];
}

function maxRelErr(ref: Float32Array, got: Float32Array): number {
  let d = 0, s = 0;
  for (let i = 0; i < ref.length; i++) { d = Math.max(d, Math.abs(ref[i] - got[i])); s = Math.max(s, Math.abs(ref[i])); }
  return s === 0 ? d : d / s;
}

test('fused batch-norm training: outputs and running stats identical, gradients within 1e-5 of tfjs\' own (4-D and 2-D)', () => {
  for (const shape of [[4, 5, 6, 3], [16, 7]]) {
    const n = shape.reduce((a, b) => a * b);
    const c = shape[shape.length - 1];
    const xv = randn(n).map((v) => 3 * v + 1);
    const weights = [randn(c), randn(c), randn(c), Float32Array.from(randn(c), (v) => 1 + Math.abs(v))];
    const rv = randn(n);
    uninstallBatchNormTraining();
    const ref = run(shape, xv, weights, rv);
    installBatchNormTraining();
    const before = tf.memory().numTensors;
    const got = run(shape, xv, weights, rv);
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    uninstallBatchNormTraining();
    assert.deepEqual(got[0], ref[0], `${shape}: forward output differs`);
    assert.deepEqual(got[4], ref[4], `${shape}: running mean differs`);
    assert.deepEqual(got[5], ref[5], `${shape}: running variance differs`);
    ['dx', 'dγ', 'dβ'].forEach((name, i) => {
      const e = maxRelErr(ref[1 + i], got[1 + i]);
      assert.ok(e <= 1e-5, `${shape}: ${name} relative error ${e}`);
    });
  }
});

test('fused batch-norm training: inference and install/uninstall keep the stock behaviour', () => {
  assert.equal(installBatchNormTraining(), true);
  assert.equal(installBatchNormTraining(), false);
  const layer = tf.layers.batchNormalization({ inputShape: [3] });
  layer.build([2, 3]);
  const y = layer.apply(tf.tensor2d([[1, 2, 3], [3, 2, 1]]), { training: false }) as tf.Tensor;
  const expect = [1, 2, 3, 3, 2, 1].map((v) => v / Math.sqrt(1 + 1e-3));
  (y.dataSync() as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - expect[i]) < 1e-6));
  assert.equal(uninstallBatchNormTraining(), true);
  assert.equal(uninstallBatchNormTraining(), false);
});

test('batchNormTraining with relu equals tf.relu after it: values and gradients bit for bit', () => {
  const shape = [3, 4, 5, 6];
  const n = shape.reduce((a, b) => a * b);
  const [x, r] = [tf.tensor(randn(n), shape), tf.tensor(randn(n), shape)];
  const [g, b] = [tf.tensor1d(randn(6)), tf.tensor1d(randn(6))];
  const before = tf.memory().numTensors;
  const run = (fused: boolean) => tf.tidy(() => {
    const f = (a: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor) => {
      const out = fused ? batchNormTraining(a, gm, bt, 1e-3, true) : batchNormTraining(a, gm, bt, 1e-3);
      tf.dispose([out.mean, out.variance]);
      return fused ? out.y : tf.relu(out.y);
    };
    const y = f(x, g, b);
    const grads = tf.grads((a: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor) => tf.sum(tf.mul(f(a, gm, bt), r)))([x, g, b]);
    return [y, ...grads].map((t) => Array.from(t.dataSync()));
  });
  const ref = run(false);
  const got = run(true);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  assert.ok(ref[0].some((v) => v === 0) && ref[0].some((v) => v > 0), 'relu clips some values and keeps others');
  ['y', 'dx', 'dγ', 'dβ'].forEach((name, i) => assert.deepEqual(got[i], ref[i], name));
  tf.dispose([x, r, g, b]);
});

test('batchNormTraining with a residual equals tf.add (then tf.relu) after it: values and gradients bit for bit, cpu and wasm (C kernels)', async () => {
  await initWasmBackend();
  for (const backend of ['cpu', 'wasm']) {
    await tf.setBackend(backend);
    for (const relu of [true, false]) {
      const shape = [3, 4, 5, 8];
      const n = shape.reduce((a, b) => a * b);
      const [x, s, r] = [tf.tensor(randn(n), shape), tf.tensor(randn(n), shape), tf.tensor(randn(n), shape)];
      const [g, b] = [tf.tensor1d(randn(8)), tf.tensor1d(randn(8))];
      const before = tf.memory().numTensors;
      const run = (fused: boolean) => tf.tidy(() => {
        const f = (a: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor, res: tf.Tensor) => {
          const out = fused ? batchNormTraining(a, gm, bt, 1e-3, relu, res) : batchNormTraining(a, gm, bt, 1e-3);
          tf.dispose([out.mean, out.variance]);
          if (fused) return out.y;
          const sum = tf.add(out.y, res);
          return relu ? tf.relu(sum) : sum;
        };
        const y = f(x, g, b, s);
        const grads = tf.grads((a: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor, res: tf.Tensor) => tf.sum(tf.mul(f(a, gm, bt, res), r)))([x, g, b, s]);
        return [y, ...grads].map((t) => Array.from(t.dataSync()));
      });
      const ref = run(false);
      let got: number[][] = [];
      const kernels = new Set((await tf.profile(() => { got = run(true); })).kernels.map((k) => k.name));
      // On wasm the C kernels run it (forward, and backward with the residual's gradient); no Add or Relu.
      if (backend === 'wasm') {
        assert.ok(kernels.has('Fat2019BatchNormTrainForward') && kernels.has('Fat2019BatchNormTrainBackward'), [...kernels].join());
        assert.ok(!kernels.has('Relu') && !kernels.has('Add'), [...kernels].join());
      }
      assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
      if (relu) assert.ok(ref[0].some((v) => v === 0) && ref[0].some((v) => v > 0), 'relu clips some values and keeps others');
      ['y', 'dx', 'dγ', 'dβ', 'dresidual'].forEach((name, i) => assert.deepEqual(got[i], ref[i], `${backend}, relu ${relu}: ${name}`));
      tf.dispose([x, s, r, g, b]);
    }
  }
  await tf.setBackend('cpu');
});
