/**
 * MaxPoolGrad and AvgPoolGrad on wasm (lib/runtime/kernels/maxPoolGrad.ts, avgPoolGrad.ts; C
 * kernels in ./wasm/poolGrads.c) against the cpu backend for the pools of the model zoo —
 * resnet's 3×3/stride-2 stem, cnn7th's (1,1), (4,1) and (1,3), xresnet's 2×2 'same' shortcut
 * pool on odd sizes, PANNs' 2×2 and whole-frequency [mels, 1] pools — plus channel tails and
 * sizes split with the helper thread; the max pool also through its JavaScript fallback. The
 * MaxPool forward in C against cpu and the stock XNNPACK kernel.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { BackendInfo } from '../../lib/runtime/backend';
import { initWasmBackend } from '../fixtures/wasmBackend';
import { setTrainKernelsEnabled } from '../../lib/runtime/kernels/trainWasm';
import { Rng } from '../../lib/util/rng';
import { registerCustomKernels, restoreStockKernels, type CustomKernelOptions } from '../../lib/runtime/kernels';

/** Every option but `emptyPools` false: restoreStockKernels then puts back only the stock AvgPool and MaxPool. */
const ONLY_POOLS = Object.fromEntries(['conv2dBackpropInput', 'depthwiseForward', 'reductions', 'batchNormGrad', 'avgPoolGrad',
  'maxPoolGrad', 'reluGrad', 'clipGrad', 'meanGrad', 'padSlice', 'unary', 'identity', 'cast', 'equal', 'convForward', 'batchNormTraining']
  .map((k) => [k, false])) as Omit<CustomKernelOptions, 'conv2dBackpropFilter' | 'depthwiseGrads'>;

let info: BackendInfo;
before(async () => {
  info = await initWasmBackend();
});

const rng = new Rng(41);

type Pool = { x: [number, number, number, number]; size: [number, number]; stride: [number, number]; pad: 'valid' | 'same' | number };
const cases: Pool[] = [
  { x: [4, 19, 17, 8], size: [3, 3], stride: [2, 2], pad: 'valid' }, // resnet's stem after ZeroPadding2D(1)
  { x: [3, 8, 12, 5], size: [1, 1], stride: [1, 1], pad: 'valid' }, // cnn7th block 1
  { x: [2, 16, 6, 9], size: [4, 1], stride: [4, 1], pad: 'valid' }, // cnn7th (4, 1)
  { x: [2, 4, 14, 8], size: [1, 3], stride: [1, 3], pad: 'valid' }, // cnn7th (1, 3), width not a multiple
  { x: [2, 7, 9, 12], size: [2, 2], stride: [2, 2], pad: 'same' }, // xresnet's shortcut pool, odd sizes
  { x: [3, 8, 10, 3], size: [2, 2], stride: [2, 2], pad: 'valid' }, // PANNs' pools, 3 channels
  { x: [2, 8, 5, 16], size: [8, 1], stride: [8, 1], pad: 'valid' }, // PANNs' mean over all mel rows
  { x: [2, 9, 7, 6], size: [3, 3], stride: [1, 1], pad: 'same' }, // overlapping and padded
  { x: [2, 6, 6, 4], size: [3, 3], stride: [2, 2], pad: 2 }, // windows of padding only
  { x: [8, 66, 66, 8], size: [3, 3], stride: [2, 2], pad: 'valid' }, // split with the helper thread
  { x: [8, 64, 32, 16], size: [4, 1], stride: [4, 1], pad: 'valid' }, // split with the helper thread
];

function poolGrad(backend: string, kind: 'max' | 'avg', c: Pool, xv: Float32Array): Float32Array {
  tf.setBackend(backend);
  try {
    return tf.tidy(() => {
      const pool = (a: tf.Tensor) => (kind === 'max' ? tf.maxPool(a as tf.Tensor4D, c.size, c.stride, c.pad) : tf.avgPool(a as tf.Tensor4D, c.size, c.stride, c.pad));
      const probe = pool(tf.tensor4d(xv, c.x));
      const r = tf.tensor(Float32Array.from({ length: probe.size }, (_, i) => Math.sin(1 + i * 0.7)), probe.shape);
      return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(pool(a), r)))(tf.tensor4d(xv, c.x)).dataSync() as Float32Array;
    });
  } finally {
    tf.setBackend('wasm');
  }
}

/** max |a−b| / max |a|. */
function relErr(ref: Float32Array, got: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(ref[i] - got[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

test('AvgPoolGrad on wasm equals cpu bit for bit for the zoo\'s pools, odd sizes and padding', () => {
  assert.ok(info.customKernels.includes('wasm:AvgPoolGrad'));
  for (const c of cases) {
    const xv = Float32Array.from({ length: c.x.reduce((a, b) => a * b) }, () => rng.normal());
    assert.deepEqual(poolGrad('wasm', 'avg', c, xv), poolGrad('cpu', 'avg', c, xv), JSON.stringify(c));
  }
});

test('MaxPoolGrad on wasm (C and JavaScript) equals cpu: first maximum of each window, ties, all-negative windows', () => {
  assert.ok(info.customKernels.includes('wasm:MaxPoolGrad'));
  for (const c of cases) {
    const xv = Float32Array.from({ length: c.x.reduce((a, b) => a * b) }, (_, i) => {
      const v = rng.normal();
      return i % 3 === 0 ? Math.round(v) : i % 5 === 0 ? -Math.abs(v) - 1 : v;
    });
    const ref = poolGrad('cpu', 'max', c, xv);
    const got = poolGrad('wasm', 'max', c, xv);
    const was = setTrainKernelsEnabled(false);
    let js: Float32Array;
    try {
      js = poolGrad('wasm', 'max', c, xv);
    } finally {
      setTrainKernelsEnabled(was);
    }
    // The same float32 adds in the same order in C and JavaScript; cpu adds in float64.
    assert.deepEqual(got, js, `${JSON.stringify(c)}: C differs from JavaScript`);
    assert.ok(relErr(ref, got) <= 1e-6, `${JSON.stringify(c)}: relative error ${relErr(ref, got)}`);
  }
});

test('AvgPool and MaxPool on wasm with an empty output return cpu\'s empty tensor and leave the heap usable (the stock kernels write out of bounds)', () => {
  assert.ok(info.customKernels.includes('wasm:AvgPool') && info.customKernels.includes('wasm:MaxPool'), `${info.customKernels}`);
  const x = tf.randomNormal([1, 2, 1, 64]) as tf.Tensor4D;
  for (let i = 0; i < 10; i++) {
    const pools = [tf.avgPool(x, 2, 2, 'valid'), tf.maxPool(x, 2, 2, 'valid'), tf.avgPool(x, [4, 1], [4, 1], 'valid')];
    assert.deepEqual(pools.map((p) => p.shape), [[1, 1, 0, 64], [1, 1, 0, 64], [1, 0, 1, 64]]);
    tf.dispose(pools);
    // Allocations and frees after them work (a corrupted allocator traps here).
    assert.equal(tf.tidy(() => tf.ones([1000 + 77 * i]).sum().dataSync()[0]), 1000 + 77 * i);
  }
  x.dispose();
});

test('MaxPool on wasm in C equals cpu bit for bit (the zoo\'s pools, padding, NaN) and the stock XNNPACK kernel on numbers', () => {
  const forward = (backend: string, c: Pool, xv: Float32Array) => {
    tf.setBackend(backend);
    try {
      return tf.tidy(() => tf.maxPool(tf.tensor4d(xv, c.x), c.size, c.stride, c.pad).dataSync() as Float32Array);
    } finally {
      tf.setBackend('wasm');
    }
  };
  const before = tf.memory().numTensors;
  for (const c of cases) {
    const n = c.x.reduce((a, b) => a * b);
    const xv = Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? Math.round(rng.normal()) : rng.normal() - 1));
    const got = forward('wasm', c, xv);
    assert.deepEqual(got, forward('cpu', c, xv), JSON.stringify(c));
    if (c.pad !== 2) {
      // XNNPACK (the stock kernel, behind the empty-output guard) on the same input: the same
      // values (between −0 and +0 in a window it may pick the other one).
      restoreStockKernels(ONLY_POOLS);
      try {
        const stock = forward('wasm', c, xv);
        for (let i = 0; i < stock.length; i++) if (got[i] !== stock[i]) assert.fail(`${JSON.stringify(c)}[${i}]: ${got[i]} vs stock ${stock[i]}`);
      } finally {
        registerCustomKernels();
      }
    }
    const withNaN = xv.map((v, i) => (i % 7 === 0 ? NaN : v));
    assert.deepEqual(forward('wasm', c, withNaN), forward('cpu', c, withNaN), `${JSON.stringify(c)} with NaN`);
  }
  assert.equal(tf.memory().numTensors, before);
});

test('AvgPool on wasm in C equals the stock XNNPACK kernel bit for bit and cpu to rounding (the zoo\'s pools, padding, a 16-pixel window)', () => {
  const forward = (backend: string, c: Pool, xv: Float32Array) => {
    tf.setBackend(backend);
    try {
      return tf.tidy(() => tf.avgPool(tf.tensor4d(xv, c.x), c.size, c.stride, c.pad).dataSync() as Float32Array);
    } finally {
      tf.setBackend('wasm');
    }
  };
  const before = tf.memory().numTensors;
  const all: Pool[] = [...cases, { x: [2, 16, 6, 5], size: [16, 1], stride: [16, 1], pad: 'valid' },
    { x: [4, 2, 2, 64], size: [2, 2], stride: [2, 2], pad: 'valid' }]; // to one pixel: the stock kernel (another order)
  for (const c of all) {
    const n = c.x.reduce((a, b) => a * b);
    const xv = Float32Array.from({ length: n }, () => rng.normal());
    const got = forward('wasm', c, xv);
    restoreStockKernels(ONLY_POOLS);
    let stock: Float32Array;
    try {
      stock = forward('wasm', c, xv);
    } finally {
      registerCustomKernels();
    }
    if (c.pad !== 2) assert.deepEqual(got, stock, `${JSON.stringify(c)}: stock`);
    const cpu = forward('cpu', c, xv);
    for (let i = 0; i < cpu.length; i++) if (Math.abs(got[i] - cpu[i]) > 1e-6) assert.fail(`${JSON.stringify(c)}[${i}]: ${got[i]} vs cpu ${cpu[i]}`);
  }
  assert.equal(tf.memory().numTensors, before);
});
