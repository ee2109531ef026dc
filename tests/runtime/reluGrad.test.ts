/**
 * The Relu gradient in one wasm kernel (lib/runtime/kernels/reluGrad.ts) against the cpu
 * backend's stock gradient: zeros, negatives, NaN, odd sizes and a tensor large enough to be
 * split with the helper thread.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { BackendInfo } from '../../lib/runtime/backend';
import { initWasmBackend } from '../fixtures/wasmBackend';
import { Rng } from '../../lib/util/rng';

let info: BackendInfo;
before(async () => {
  info = await initWasmBackend();
});

test('Relu gradient on wasm equals cpu (zeros, negatives, NaN, sizes 1..1.6M)', () => {
  assert.ok(info.customKernels.includes('grad:Relu'));
  const rng = new Rng(9);
  for (const shape of [[1], [7], [3, 5, 2], [2, 33, 31, 8], [4, 128, 128, 25]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const xv = Float32Array.from({ length: n }, (_, i) => (i % 13 === 0 ? 0 : i % 29 === 0 ? NaN : rng.normal()));
    const rv = Float32Array.from({ length: n }, () => rng.normal());
    const grad = (backend: string) => {
      tf.setBackend(backend);
      return tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.relu(x), tf.tensor(rv, shape))))(tf.tensor(xv, shape)).dataSync());
    };
    const before = tf.memory().numTensors;
    const ref = grad('cpu');
    const got = grad('wasm');
    assert.equal(tf.memory().numTensors, before);
    for (let i = 0; i < n; i++) {
      if (Number.isNaN(ref[i])) assert.ok(Number.isNaN(got[i]), `${shape}[${i}]: ${got[i]} vs NaN`);
      else assert.equal(got[i], ref[i], `${shape}[${i}]`);
    }
  }
  tf.setBackend('wasm');
});
