/**
 * The wasm Cast to the same dtype (lib/runtime/kernels/castSame.ts) shares its input's data:
 * values as cpu, memory freed only when both tensors are disposed; dtype changes keep the stock
 * kernel's values (float32 → bool is left out: the stock kernel truncates, 254 for -2.75).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { BackendInfo } from '../../lib/runtime/backend';
import { initWasmBackend } from '../fixtures/wasmBackend';

let info: BackendInfo;
before(async () => {
  info = await initWasmBackend();
});

test('Cast on wasm: same dtype shares the data (reference-counted), other dtypes convert as cpu', () => {
  assert.ok(info.customKernels.includes('wasm:Cast'), `${info.customKernels}`);
  tf.setBackend('wasm');
  const before = tf.memory().numBytes;
  const x = tf.tensor([1.5, -2.25, 3, NaN, 0], [5], 'float32');
  const y = tf.cast(x, 'float32');
  assert.equal(y.dataId, x.dataId, 'no copy');
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1.5, -2.25, 3, NaN, 0]);
  y.dispose();
  assert.equal(tf.memory().numBytes, before, 'freed with the last reference');
  const v = [1.5, -2.75, 3, 0, 7];
  for (const [from, to] of [['float32', 'int32'], ['int32', 'float32'], ['int32', 'int32'], ['bool', 'bool']] as const) {
    const run = (backend: string) => {
      tf.setBackend(backend);
      return tf.tidy(() => Array.from(tf.cast(tf.tensor(v, [5], from), to).dataSync()));
    };
    assert.deepEqual(run('wasm'), run('cpu'), `${from} → ${to}`);
  }
  tf.setBackend('wasm');
});

test('avgPool on wasm (a cast of its output) gives cpu\'s values (to XNNPACK\'s rounding) and gradient, without leaks', () => {
  const xv = Float32Array.from({ length: 2 * 6 * 4 * 3 }, (_, i) => Math.sin(i));
  const run = (backend: string) => {
    tf.setBackend(backend);
    return tf.tidy(() => {
      const x = tf.tensor4d(xv, [2, 6, 4, 3]);
      const [y, g] = [tf.avgPool(x, 2, 2, 'valid'), tf.grad((a: tf.Tensor) => tf.avgPool(a as tf.Tensor4D, 2, 2, 'valid').square().sum())(x)];
      return [Array.from(y.dataSync()), Array.from(g.dataSync())];
    });
  };
  const before = tf.memory().numTensors;
  const [got, ref] = [run('wasm'), run('cpu')];
  assert.equal(tf.memory().numTensors, before);
  for (let k = 0; k < 2; k++) {
    assert.equal(got[k].length, ref[k].length);
    ref[k].forEach((r, i) => assert.ok(Math.abs(got[k][i] - r) <= 1e-6, `${k ? 'dx' : 'y'}[${i}]: ${got[k][i]} vs ${r}`));
  }
  tf.setBackend('wasm');
});
