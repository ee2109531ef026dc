/**
 * The wasm Identity and same-dtype Cast (share data, reference-counted) and Equal (broadcasting
 * float32 loop) replacements of lib/runtime/kernels/identityEqual.ts, against the cpu backend.
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

const rng = new Rng(3);

function values(n: number): Float32Array {
  // Few distinct values, so that broadcast comparisons are often true; a NaN too.
  const v = Float32Array.from({ length: n }, () => Math.floor(rng.uniform() * 3));
  if (n > 2) v[1] = NaN;
  return v;
}

test('Equal with broadcasting on wasm equals cpu (both directions, rank differences, NaN)', () => {
  assert.ok(info.customKernels.includes('wasm:Equal'));
  const cases: Array<[number[], number[]]> = [
    [[4, 3, 5, 7], [4, 1, 1, 7]], [[4, 1, 1, 7], [4, 3, 5, 7]], [[2, 3, 4], [4]], [[5], [3, 1]],
    [[2, 1, 3], [1, 4, 1]], [[3, 4], [3, 1]], [[6, 1], [1, 1]], [[2, 3, 4], [2, 3, 4]],
  ];
  for (const [sa, sb] of cases) {
    const av = values(sa.reduce((x, y) => x * y, 1));
    const bv = values(sb.reduce((x, y) => x * y, 1));
    const run = (backend: string) => {
      tf.setBackend(backend);
      return tf.tidy(() => tf.equal(tf.tensor(av, sa), tf.tensor(bv, sb)).dataSync());
    };
    const ref = run('cpu');
    const got = run('wasm');
    assert.deepEqual(Array.from(got), Array.from(ref), `${sa} vs ${sb}`);
  }
  tf.setBackend('wasm');
});

test('Identity on wasm shares the data: clones keep their values after the original is disposed, memory is freed with the last one', () => {
  tf.setBackend('wasm');
  assert.ok(info.customKernels.includes('wasm:Identity'));
  const before = tf.memory();
  const x = tf.tensor([1, 2, 3, 4], [2, 2]);
  const c1 = tf.clone(x);
  const c2 = c1.clone();
  x.dispose();
  assert.deepEqual(Array.from(c2.dataSync()), [1, 2, 3, 4]);
  c2.dispose();
  assert.deepEqual(Array.from(c1.dataSync()), [1, 2, 3, 4]);
  c1.dispose();
  assert.equal(tf.memory().numTensors, before.numTensors);
  assert.equal(tf.memory().numBytes, before.numBytes);
  // Gradients through ops whose inputs the engine clones for the backward pass.
  const w = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
  const g = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a as tf.Tensor2D, w), a)))([tf.tensor2d([[1, 0], [2, 1]])]);
  tf.setBackend('cpu');
  const wc = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
  const gc = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a as tf.Tensor2D, wc), a)))([tf.tensor2d([[1, 0], [2, 1]])]);
  assert.deepEqual(Array.from(g[0].dataSync()), Array.from(gc[0].dataSync()));
  tf.dispose([g, gc, w, wc]);
  tf.setBackend('wasm');
});

test('Cast on wasm: to the same dtype it shares the data (values kept after the original is disposed); float32 <-> int32 as cpu', () => {
  tf.setBackend('wasm');
  assert.ok(info.customKernels.includes('wasm:Cast'));
  const before = tf.memory();
  const x = tf.tensor([1.5, -2.25, 3, NaN], [2, 2]);
  const same = tf.cast(x, 'float32');
  assert.equal(tf.memory().numDataBuffers, before.numDataBuffers + 1, 'no copy');
  x.dispose();
  assert.deepEqual(Array.from(same.dataSync()), [1.5, -2.25, 3, NaN]);
  same.dispose();
  assert.equal(tf.memory().numTensors, before.numTensors);
  assert.equal(tf.memory().numBytes, before.numBytes);
  // (Conversions to bool are left out: the stock wasm Cast copies the values, where cpu gives 0/1.)
  for (const [values, from, to] of [[[1.7, -2.2, 0, 3], 'float32', 'int32'], [[1, 0, 5, -3], 'int32', 'float32']] as const) {
    const run = (backend: string) => {
      tf.setBackend(backend);
      return tf.tidy(() => Array.from(tf.cast(tf.tensor(values as unknown as number[], [4], from), to).dataSync()));
    };
    assert.deepEqual(run('wasm'), run('cpu'), `${from} -> ${to}`);
  }
  // Gradient of a clone (Identity → Cast) on wasm equals cpu.
  const grad = (backend: string) => {
    tf.setBackend(backend);
    return tf.tidy(() => Array.from(tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.clone(a), a)))(tf.tensor([1, -2, 3])).dataSync()));
  };
  assert.deepEqual(grad('wasm'), grad('cpu'));
  tf.setBackend('wasm');
});
