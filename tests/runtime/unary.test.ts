/**
 * wasm Relu, Neg and Abs in C (lib/runtime/kernels/unary.ts) against tfjs' stock wasm kernels
 * (the same bits) and the cpu backend (the same values; relu(−0) is +0 on wasm, −0 on cpu):
 * zeros, negatives, NaN, infinities, odd sizes and a tensor large enough to be split with the
 * helper thread; int32 goes to the stock kernel; nothing leaks.
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

const OPS = { Relu: tf.relu, Neg: tf.neg, Abs: tf.abs } as const;
const SHAPES = [[1], [7], [3, 5, 2], [2, 33, 31, 8], [4, 128, 128, 25]];

/** Every option but `unary` set to false: restoreStockKernels then puts back only Relu, Neg, Abs. */
const ONLY_UNARY = Object.fromEntries(['conv2dBackpropInput', 'depthwiseForward', 'reductions', 'batchNormGrad', 'avgPoolGrad',
  'maxPoolGrad', 'reluGrad', 'clipGrad', 'meanGrad', 'padSlice', 'emptyPools', 'identity', 'cast', 'equal', 'convForward', 'batchNormTraining']
  .map((k) => [k, false])) as Omit<CustomKernelOptions, 'conv2dBackpropFilter' | 'depthwiseGrads'>;

function values(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const special = [0, -0, NaN, Infinity, -Infinity, -1e-30];
  return Float32Array.from({ length: n }, (_, i) => (i % 11 === 0 ? special[(i / 11) % special.length] : rng.normal()));
}

function run(backend: string, op: keyof typeof OPS, xv: Float32Array, shape: number[]): Float32Array {
  tf.setBackend(backend);
  return tf.tidy(() => OPS[op](tf.tensor(xv, shape)).dataSync() as Float32Array).slice();
}

test('Relu, Neg, Abs on wasm: the stock kernels\' bits and cpu\'s values (sizes 1..1.6M, NaN, ±0, ±∞)', () => {
  for (const op of Object.keys(OPS)) assert.ok(info.customKernels.includes(`wasm:${op}`), `wasm:${op} installed`);
  const before = tf.memory().numTensors;
  for (const shape of SHAPES) {
    const n = shape.reduce((a, b) => a * b, 1);
    const xv = values(n, n);
    // The split (helper thread) is the same code for the three: one of them at the large size.
    for (const op of (n > 1e6 ? ['Relu'] : Object.keys(OPS)) as Array<keyof typeof OPS>) {
      const got = run('wasm', op, xv, shape);
      restoreStockKernels(ONLY_UNARY);
      let stock: Float32Array;
      try {
        stock = run('wasm', op, xv, shape);
      } finally {
        registerCustomKernels();
      }
      const [a, b] = [new Uint32Array(got.buffer), new Uint32Array(stock.buffer)];
      for (let i = 0; i < n; i++) if (a[i] !== b[i]) assert.fail(`${op} ${shape}[${i}]: ${got[i]} vs the stock kernel's ${stock[i]}`);
      const cpu = run('cpu', op, xv, shape);
      for (let i = 0; i < n; i++) {
        const ok = Number.isNaN(cpu[i]) ? Number.isNaN(got[i]) : got[i] === cpu[i];
        if (!ok) assert.fail(`${op} ${shape}[${i}]: ${got[i]} vs cpu ${cpu[i]}`);
      }
    }
  }
  tf.setBackend('wasm');
  assert.equal(tf.memory().numTensors, before);
});

test('Relu, Neg, Abs on wasm: int32 through the stock kernels', () => {
  tf.setBackend('wasm');
  const x = tf.tensor1d([-3, 0, 5, -70000], 'int32');
  for (const [op, want] of [[tf.relu, [0, 0, 5, 0]], [tf.neg, [3, 0, -5, 70000]], [tf.abs, [3, 0, 5, 70000]]] as const) {
    const y = op(x);
    assert.equal(y.dtype, 'int32');
    assert.deepEqual(Array.from(y.dataSync()), want);
    y.dispose();
  }
  x.dispose();
});
