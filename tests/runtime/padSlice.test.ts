/**
 * PadV2 and Slice on wasm as C row copies (lib/runtime/kernels/padSlice.ts) against the cpu
 * backend: ranks 1 to 5, paddings on any axis, contiguous and strided slices, int32, tensors
 * large enough to be split with the helper thread; and the dimension merging on its own.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { BackendInfo } from '../../lib/runtime/backend';
import { initWasmBackend } from '../fixtures/wasmBackend';
import { padView, sliceView } from '../../lib/runtime/kernels/padSlice';
import { Rng } from '../../lib/util/rng';

let info: BackendInfo;
before(async () => {
  info = await initWasmBackend();
});

const rng = new Rng(23);
const on = <T>(backend: string, f: () => T): T => {
  tf.setBackend(backend);
  try {
    return f();
  } finally {
    tf.setBackend('wasm');
  }
};

test('padView and sliceView merge the dimensions that are contiguous in memory', () => {
  // ZeroPadding2D of [N, H, W, C]: a pad of [N, H, W·C].
  assert.deepEqual(padView([32, 128, 128, 3], [[0, 0], [3, 3], [3, 3], [0, 0]]),
    { x: [1, 32, 128, 384], before: [0, 0, 3, 9], out: [1, 32, 134, 402] });
  assert.equal(padView([2, 2, 2, 2, 2], [[1, 0], [0, 1], [1, 0], [0, 1], [1, 1]]), null);
  // Its gradient: rows of W·C from [N, H+2, W+2, C].
  assert.deepEqual(sliceView([32, 66, 66, 8], [0, 1, 1, 0], [32, 64, 64, 8]),
    { offset: 66 * 8 + 8, dims: [1, 32, 64, 512], strides: [0, 66 * 66 * 8, 66 * 8] });
  assert.deepEqual(sliceView([4, 6], [1, 0], [2, 6]), { offset: 6, dims: [1, 1, 1, 12], strides: [0, 0, 0] });
  assert.deepEqual(sliceView([4, 6], [0, 2], [4, 1]), { offset: 2, dims: [1, 1, 4, 1], strides: [0, 0, 6] });
});

test('PadV2 on wasm equals cpu (ranks 1–5, any padded axis, constants, split sizes)', () => {
  assert.ok(info.customKernels.includes('wasm:PadV2'), `${info.customKernels}`);
  const cases: Array<[number[], Array<[number, number]>, number]> = [
    [[5], [[2, 3]], 0],
    [[3, 4], [[0, 0], [1, 2]], 1.5],
    [[3, 4], [[2, 1], [0, 0]], -2],
    [[2, 5, 7, 3], [[0, 0], [1, 1], [2, 3], [0, 0]], 0],
    [[2, 5, 7, 3], [[1, 0], [0, 2], [0, 0], [1, 1]], 7],
    [[1, 3, 3, 1], [[0, 0], [1, 1], [1, 1], [0, 0]], 0],
    [[2, 3, 2, 2, 3], [[0, 0], [1, 0], [0, 0], [0, 1], [0, 0]], 0], // merges to 4 dimensions
    [[2, 2, 2, 2, 2], [[1, 0], [0, 1], [1, 0], [0, 1], [1, 1]], 0], // 5 padded: stock kernel
    [[8, 128, 128, 3], [[0, 0], [3, 3], [3, 3], [0, 0]], 0], // resnet's stem: split with the helper
  ];
  for (const [shape, paddings, value] of cases) {
    const xv = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
    const run = (backend: string) => on(backend, () => tf.tidy(() => tf.pad(tf.tensor(xv, shape), paddings, value).dataSync()));
    const numTensors = tf.memory().numTensors;
    assert.deepEqual(run('wasm'), run('cpu'), `${shape} ${JSON.stringify(paddings)}`);
    assert.equal(tf.memory().numTensors, numTensors);
  }
});

test('Slice on wasm equals cpu (ranks 1–5, contiguous and strided, size-1 axes, int32, split sizes)', () => {
  assert.ok(info.customKernels.includes('wasm:Slice'), `${info.customKernels}`);
  const cases: Array<[number[], number[], number[]]> = [
    [[9], [2], [5]],
    [[4, 6], [1, 0], [2, 6]],
    [[4, 6], [0, 2], [4, 1]],
    [[4, 6], [1, 1], [3, -1]],
    [[2, 7, 9, 3], [0, 1, 1, 0], [2, 5, 7, 3]],
    [[2, 7, 9, 3], [1, 2, 0, 1], [1, 3, 9, 2]],
    [[3, 5, 4, 6], [0, 0, 0, 5], [3, 5, 4, 1]],
    [[2, 3, 4, 5, 6], [1, 1, 1, 1, 1], [1, 2, 3, 4, 5]], // 4 strided dimensions left after dropping a size-1 one
    [[2, 3, 4, 5, 6], [0, 1, 1, 1, 1], [2, 2, 3, 4, 5]], // 5 strided: stock kernel
    [[8, 66, 66, 8], [0, 1, 1, 0], [8, 64, 64, 8]], // a ZeroPadding2D gradient: split with the helper
  ];
  for (const [shape, begin, size] of cases) {
    for (const dtype of ['float32', 'int32'] as const) {
      const n = shape.reduce((a, b) => a * b, 1);
      const xv = dtype === 'float32' ? Float32Array.from({ length: n }, () => rng.normal()) : Int32Array.from({ length: n }, (_, i) => i * 7 - 3);
      const run = (backend: string) => on(backend, () => tf.tidy(() => tf.slice(tf.tensor(xv, shape, dtype), begin, size).dataSync()));
      const numTensors = tf.memory().numTensors;
      assert.deepEqual(run('wasm'), run('cpu'), `${dtype} ${shape} begin ${begin} size ${size}`);
      assert.equal(tf.memory().numTensors, numTensors);
    }
  }
});

test('ZeroPadding2D forward and gradient on wasm equal cpu', () => {
  const xv = Float32Array.from({ length: 2 * 9 * 7 * 5 }, () => rng.normal());
  const rv = Float32Array.from({ length: 2 * 11 * 11 * 5 }, () => rng.normal());
  const grad = (backend: string) => on(backend, () => tf.tidy(() =>
    tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.pad(x, [[0, 0], [1, 1], [2, 2], [0, 0]]), tf.tensor(rv, [2, 11, 11, 5]))))(tf.tensor(xv, [2, 9, 7, 5])).dataSync()));
  assert.deepEqual(grad('wasm'), grad('cpu'));
});
