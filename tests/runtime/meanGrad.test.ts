/**
 * The Mean gradient in one wasm kernel (lib/runtime/kernels/meanGrad.ts) against tfjs' own
 * gradient on wasm (the same bits) and on cpu: a global average pool's axes, a loss's full mean,
 * leading and middle axes, keepDims, a tensor split with the helper thread; non-consecutive axes
 * take tfjs' own ops.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { BackendInfo } from '../../lib/runtime/backend';
import { registerCustomKernels, restoreStockKernels, type CustomKernelOptions } from '../../lib/runtime/kernels';
import { initWasmBackend } from '../fixtures/wasmBackend';
import { Rng } from '../../lib/util/rng';

let info: BackendInfo;
before(async () => {
  info = await initWasmBackend();
});

const rng = new Rng(31);

/** Every option but `meanGrad` false: restoreStockKernels then puts back only tfjs' Mean gradient. */
const ONLY_MEAN_GRAD = Object.fromEntries(['conv2dBackpropInput', 'depthwiseForward', 'reductions', 'batchNormGrad', 'avgPoolGrad',
  'maxPoolGrad', 'reluGrad', 'clipGrad', 'padSlice', 'emptyPools', 'unary', 'matMul', 'identity', 'cast', 'equal', 'convForward',
  'batchNormTraining'].map((k) => [k, false])) as Omit<CustomKernelOptions, 'conv2dBackpropFilter' | 'depthwiseGrads'>;

const cases: Array<{ shape: number[]; axes: number[]; keepDims: boolean }> = [
  { shape: [32, 4, 4, 64], axes: [1, 2], keepDims: false }, // ResNet-18's global average pool at width 1/8
  { shape: [32, 80], axes: [0, 1], keepDims: false }, // a loss's mean
  { shape: [6, 5], axes: [0], keepDims: true },
  { shape: [2, 3, 5, 7], axes: [1], keepDims: false },
  { shape: [3, 4, 5, 6], axes: [2, 0], keepDims: false }, // not consecutive: tfjs' own ops
  { shape: [8, 64, 64, 33], axes: [1, 2], keepDims: true }, // split with the helper thread
];

function grad(backend: string, c: (typeof cases)[number], xv: Float32Array, rv: Float32Array): Float32Array {
  tf.setBackend(backend);
  try {
    return tf.tidy(() => {
      const r = tf.tensor(rv, tf.mean(tf.zeros(c.shape), c.axes, c.keepDims).shape);
      return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.mean(x, c.axes, c.keepDims), r)))(tf.tensor(xv, c.shape)).dataSync() as Float32Array;
    });
  } finally {
    tf.setBackend('wasm');
  }
}

test('Mean gradient on wasm: tfjs\' own gradient\'s bits on wasm, cpu\'s values', () => {
  assert.ok(info.customKernels.includes('grad:Mean'), `${info.customKernels}`);
  const before = tf.memory().numTensors;
  for (const c of cases) {
    const n = c.shape.reduce((a, b) => a * b, 1);
    const reduced = c.axes.reduce((p, a) => p * c.shape[a], 1);
    const xv = Float32Array.from({ length: n }, () => rng.normal());
    const rv = Float32Array.from({ length: n / reduced }, (_, i) => (i % 9 === 0 ? NaN : rng.normal()));
    const got = grad('wasm', c, xv, rv);
    restoreStockKernels(ONLY_MEAN_GRAD);
    let stock: Float32Array;
    try {
      stock = grad('wasm', c, xv, rv);
    } finally {
      registerCustomKernels();
    }
    assert.deepEqual(got, stock, `${JSON.stringify(c)}: tfjs' gradient on wasm`);
    assert.deepEqual(got, grad('cpu', c, xv, rv), `${JSON.stringify(c)}: cpu`);
  }
  assert.equal(tf.memory().numTensors, before);
});
