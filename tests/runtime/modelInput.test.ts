import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { toModelInput } from '../../lib/runtime/modelInput';
import { initWasmBackend } from '../fixtures/wasmBackend';

/** toModelInput against tfjs' own ops (reshape + tile, then the per-channel affine map). */

const n = 2;
const h = 3;
const w = 5;
const x = Float32Array.from({ length: n * h * w }, (_, i) => ((i * 37) % 23) / 23);

test('3 channels without normalisation: the image on every channel, as tf.tile', async () => {
  await tf.setBackend('cpu');
  const got = toModelInput(x, n, h, w, 3);
  const want = tf.tile(tf.tensor4d(x, [n, h, w, 1]), [1, 1, 1, 3]);
  assert.deepEqual(got.shape, [n, h, w, 3]);
  assert.deepEqual(Array.from(got.dataSync()), Array.from(want.dataSync()));
  tf.dispose([got, want]);
});

test('1 channel, and a normalised 3-channel input: (x − mean[c]) / std[c]', async () => {
  await tf.setBackend('cpu');
  const one = toModelInput(x, n, h, w, 1);
  assert.deepEqual(Array.from(one.dataSync()), Array.from(x));
  const norm = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  const got = toModelInput(x, n, h, w, 3, norm);
  const want = tf.tidy(() => tf.tile(tf.tensor4d(x, [n, h, w, 1]), [1, 1, 1, 3]).sub(tf.tensor1d(norm.mean)).mul(tf.tensor1d(norm.std.map((s) => 1 / s))));
  const g = got.dataSync();
  const e = want.dataSync();
  for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i] - e[i]) < 1e-6, `value ${i}: ${g[i]} vs ${e[i]}`);
  assert.throws(() => toModelInput(x, n, h, w + 1, 3), /values for/);
  tf.dispose([one, got, want]);
});

test('wasm: the channel repeated in C equals tf.tile on cpu (1, 2, 3 channels; odd sizes; a batch split with the helper thread)', async () => {
  await initWasmBackend();
  for (const [bn, bh, bw] of [[2, 3, 5], [1, 1, 1], [3, 7, 9], [32, 128, 128]]) {
    const v = Float32Array.from({ length: bn * bh * bw }, (_, i) => ((i * 37) % 23) / 23 - (i % 5 === 0 ? 1 : 0));
    for (const c of [1, 2, 3]) {
      await tf.setBackend('cpu');
      const want = tf.tidy(() => tf.tile(tf.tensor4d(v, [bn, bh, bw, 1]), [1, 1, 1, c]).dataSync());
      await tf.setBackend('wasm');
      const before = tf.memory().numTensors;
      const got = toModelInput(v, bn, bh, bw, c);
      assert.deepEqual(got.shape, [bn, bh, bw, c]);
      const g = got.dataSync();
      for (let i = 0; i < want.length; i++) if (g[i] !== want[i]) assert.fail(`[${bn},${bh},${bw}]×${c} value ${i}: ${g[i]} vs ${want[i]}`);
      got.dispose();
      assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    }
  }
  await tf.setBackend('cpu');
});
