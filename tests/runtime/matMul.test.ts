/**
 * wasm BatchMatMul and _FusedMatMul in C (lib/runtime/kernels/matMul.ts) against tfjs' stock wasm
 * kernels (the same bits) and the cpu backend (the same values to float32 rounding): the
 * classifier heads' products and their gradients' transposes, odd sizes, long sums, batches,
 * bias and relu, a product split with the helper thread; broadcast batches go to the stock kernel.
 * (The stock kernels with a transpose or a batch and a bias or relu, which stay stock, are not
 * compared with cpu: there tfjs-backend-wasm 4.22's values differed from cpu's here.)
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

const rng = new Rng(23);
const randn = (n: number) => Float32Array.from({ length: n }, () => rng.normal());

/** Every option but `matMul` false: restoreStockKernels then puts back only the stock products. */
const ONLY_MATMUL = Object.fromEntries(['conv2dBackpropInput', 'depthwiseForward', 'reductions', 'batchNormGrad', 'avgPoolGrad',
  'maxPoolGrad', 'reluGrad', 'clipGrad', 'meanGrad', 'padSlice', 'emptyPools', 'unary', 'identity', 'cast', 'equal', 'convForward', 'batchNormTraining']
  .map((k) => [k, false])) as Omit<CustomKernelOptions, 'conv2dBackpropFilter' | 'depthwiseGrads'>;

type Case = { batch: number[]; M: number; K: number; N: number; ta: boolean; tb: boolean; bias: boolean; act: 'linear' | 'relu' };
const cases: Case[] = [
  { batch: [], M: 32, K: 64, N: 80, ta: false, tb: false, bias: true, act: 'linear' }, // resnet18's head at width 1/8
  { batch: [], M: 32, K: 80, N: 64, ta: false, tb: true, bias: false, act: 'linear' }, // its input gradient
  { batch: [], M: 64, K: 32, N: 80, ta: true, tb: false, bias: false, act: 'linear' }, // its weight gradient
  { batch: [], M: 8, K: 2048, N: 80, ta: false, tb: false, bias: true, act: 'relu' }, // long sums, relu
  { batch: [], M: 1, K: 1, N: 1, ta: false, tb: false, bias: true, act: 'linear' },
  { batch: [], M: 5, K: 7, N: 13, ta: true, tb: true, bias: false, act: 'linear' }, // odd sizes, both transposed
  { batch: [3], M: 6, K: 9, N: 17, ta: false, tb: false, bias: false, act: 'linear' }, // a batch
  { batch: [3], M: 6, K: 9, N: 17, ta: false, tb: true, bias: false, act: 'linear' },
  { batch: [2, 2], M: 4, K: 3, N: 8, ta: true, tb: false, bias: false, act: 'linear' },
  { batch: [], M: 256, K: 512, N: 64, ta: false, tb: false, bias: true, act: 'linear' }, // split with the helper
  { batch: [], M: 48, K: 100, N: 20, ta: true, tb: false, bias: false, act: 'linear' }, // sums over blocks of 48 k's
  { batch: [], M: 9, K: 130, N: 33, ta: false, tb: true, bias: false, act: 'linear' },
  { batch: [2], M: 9, K: 97, N: 12, ta: true, tb: true, bias: false, act: 'linear' },
];

function run(backend: string, c: Case, av: Float32Array, bv: Float32Array, biasv: Float32Array): Float32Array {
  tf.setBackend(backend);
  try {
    return tf.tidy(() => {
      const a = tf.tensor(av, [...c.batch, ...(c.ta ? [c.K, c.M] : [c.M, c.K])]);
      const b = tf.tensor(bv, [...c.batch, ...(c.tb ? [c.N, c.K] : [c.K, c.N])]);
      const y = c.bias || c.act !== 'linear'
        ? tf.fused.matMul({ a, b, transposeA: c.ta, transposeB: c.tb, bias: c.bias ? tf.tensor1d(biasv) : undefined, activation: c.act })
        : tf.matMul(a, b, c.ta, c.tb);
      return y.dataSync() as Float32Array;
    });
  } finally {
    tf.setBackend('wasm');
  }
}

test('BatchMatMul and _FusedMatMul on wasm in C: the stock kernels\' bits and cpu\'s values', () => {
  assert.ok(info.customKernels.includes('wasm:BatchMatMul') && info.customKernels.includes('wasm:_FusedMatMul'), `${info.customKernels}`);
  const before = tf.memory().numTensors;
  for (const c of cases) {
    const size = c.batch.reduce((p, q) => p * q, 1);
    const [av, bv, biasv] = [randn(size * c.M * c.K), randn(size * c.K * c.N), randn(c.N)];
    const got = run('wasm', c, av, bv, biasv);
    restoreStockKernels(ONLY_MATMUL);
    let stock: Float32Array;
    try {
      stock = run('wasm', c, av, bv, biasv);
    } finally {
      registerCustomKernels();
    }
    assert.deepEqual(got, stock, `${JSON.stringify(c)}: stock`);
    const cpu = run('cpu', c, av, bv, biasv);
    for (let i = 0; i < cpu.length; i++) {
      if (Math.abs(got[i] - cpu[i]) > 1e-5 * (Math.sqrt(c.K) + Math.abs(cpu[i]))) assert.fail(`${JSON.stringify(c)}[${i}]: ${got[i]} vs cpu ${cpu[i]}`);
    }
  }
  assert.equal(tf.memory().numTensors, before);
});

test('BatchMatMul on wasm with a broadcast batch goes to the stock kernel', () => {
  tf.setBackend('wasm');
  const y = tf.tidy(() => tf.matMul(tf.ones([2, 3, 4]), tf.ones([1, 4, 5])).dataSync());
  assert.deepEqual(Array.from(y), new Array(30).fill(4));
});
