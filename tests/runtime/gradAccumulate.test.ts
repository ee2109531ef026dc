/**
 * Gradient accumulation over micro-batches in one C call (lib/runtime/kernels/gradAccumulate)
 * against tfjs' ops on wasm (`tf.add(acc, tf.mul(g, w))`): the same bits over several
 * micro-batches and odd sizes, accumulators updated in place, none whose data is shared, no leaks.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initWasmBackend } from '../fixtures/wasmBackend';
import { accumulateScaled } from '../../lib/runtime/kernels/gradAccumulate';
import { Rng } from '../../lib/util/rng';

before(async () => {
  await initWasmBackend();
});

test('accumulateScaled equals tf.add(acc, tf.mul(g, w)) bit for bit on wasm (4 micro-batches, sizes 1..1001), in place, leak-free', () => {
  tf.setBackend('wasm');
  const rng = new Rng(4);
  const shapes = [[1], [7], [3, 11], [1001], [3, 3, 4, 8]];
  const micro = Array.from({ length: 4 }, () => shapes.map((s) => Float32Array.from({ length: s.reduce((a, b) => a * b) }, () => rng.normal() * 10 ** rng.int(6))));
  const w = 1 / 3;
  const before = tf.memory().numTensors;
  let ref: tf.Tensor[] | null = null;
  let got: tf.Tensor[] | null = null;
  for (const values of micro) {
    const grads = values.map((v, i) => tf.tensor(v, shapes[i]));
    const prevRef: tf.Tensor[] | null = ref;
    ref = tf.tidy(() => grads.map((g, i) => (prevRef ? tf.add(prevRef[i], tf.mul(g, w)) : tf.mul(g, w))));
    if (prevRef) tf.dispose(prevRef);
    const prev: tf.Tensor[] | null = got;
    got = accumulateScaled(prev, grads, w);
    assert.ok(got, 'the C path applies');
    if (prev) assert.equal(got, prev, 'accumulated in place');
    tf.dispose(grads);
  }
  got!.forEach((t, i) => assert.deepEqual(Array.from(t.dataSync()), Array.from(ref![i].dataSync()), `tensor ${i}`));
  // An accumulator whose data is shared is left to the caller.
  const held = tf.clone(got![2]);
  const grads = shapes.map((s) => tf.ones(s));
  assert.equal(accumulateScaled(got, grads, w), null);
  tf.dispose([held, ...grads, ...got!, ...ref!]);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
});
