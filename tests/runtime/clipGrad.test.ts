/**
 * The ClipByValue gradient in one wasm kernel (lib/runtime/kernels/clipGrad.ts) against the cpu
 * backend's stock gradient: values on and beyond both bounds, NaN, odd sizes, a tensor large
 * enough to be split with the helper thread, and tfjs-layers' ReLU6 (one clipByValue once the
 * training kernels are installed, or relu then clipByValue as tfjs-layers has it).
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

const rng = new Rng(31);

function gradOn(backend: string, f: (x: tf.Tensor) => tf.Tensor, xv: Float32Array, rv: Float32Array, shape: number[]): Float32Array {
  tf.setBackend(backend);
  try {
    return tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(f(x), tf.tensor(rv, shape))))(tf.tensor(xv, shape)).dataSync() as Float32Array);
  } finally {
    tf.setBackend('wasm');
  }
}

function assertSame(got: Float32Array, ref: Float32Array, what: string): void {
  assert.equal(got.length, ref.length);
  for (let i = 0; i < ref.length; i++) {
    if (Number.isNaN(ref[i])) assert.ok(Number.isNaN(got[i]), `${what}[${i}]: ${got[i]} vs NaN`);
    else assert.ok(Object.is(got[i], ref[i]), `${what}[${i}]: ${got[i]} vs ${ref[i]}`);
  }
}

test('ClipByValue gradient on wasm equals cpu bit for bit (bounds, NaN, sizes 1..1.6M)', () => {
  assert.ok(info.customKernels.includes('grad:ClipByValue'), `${info.customKernels}`);
  for (const [shape, lo, hi] of [[[1], 0, 6], [[7], -1, 1], [[3, 5, 2], 0, 6], [[2, 33, 31, 8], -0.5, 2.25], [[4, 128, 128, 25], 0, 6]] as Array<[number[], number, number]>) {
    const n = shape.reduce((a, b) => a * b, 1);
    const xv = Float32Array.from({ length: n }, (_, i) => (i % 13 === 0 ? lo : i % 17 === 0 ? hi : i % 29 === 0 ? NaN : 4 * rng.normal() + 2));
    const rv = Float32Array.from({ length: n }, () => rng.normal());
    const before = tf.memory().numTensors;
    const clip = (x: tf.Tensor) => tf.clipByValue(x, lo, hi);
    const got = gradOn('wasm', clip, xv, rv, shape);
    assert.equal(tf.memory().numTensors, before);
    assertSame(got, gradOn('cpu', clip, xv, rv, shape), `${shape}`);
  }
});

test('ReLU6 (tfjs-layers ReLU with maxValue 6) trains with the same gradient on wasm and cpu', () => {
  const shape = [2, 9, 7, 8];
  const n = shape.reduce((a, b) => a * b, 1);
  const layer = tf.layers.reLU({ maxValue: 6 });
  const xv = Float32Array.from({ length: n }, (_, i) => (i % 11 === 0 ? 0 : i % 19 === 0 ? 6 : 5 * rng.normal() + 2));
  const rv = Float32Array.from({ length: n }, () => rng.normal());
  const relu6 = (x: tf.Tensor) => layer.apply(x) as tf.Tensor;
  assertSame(gradOn('wasm', relu6, xv, rv, shape), gradOn('cpu', relu6, xv, rv, shape), 'relu6');
});

test('ReLU6 as one clipByValue (the default in training) gives the values of relu then clipByValue bit for bit, and the same gradient except at inputs exactly 0', () => {
  const shape = [3, 11, 7, 8];
  const n = shape.reduce((a, b) => a * b, 1);
  const layer = tf.layers.reLU({ maxValue: 6 });
  const xv = Float32Array.from({ length: n }, (_, i) => (i % 11 === 0 ? 0 : i % 19 === 0 ? 6 : i % 23 === 0 ? -0 : 5 * rng.normal() + 2));
  const rv = Float32Array.from({ length: n }, () => rng.normal());
  const relu6 = (x: tf.Tensor) => layer.apply(x) as tf.Tensor;
  const was = process.env.FAT2019_RELU6_ONE_OP;
  const run = (oneOp: boolean) => {
    process.env.FAT2019_RELU6_ONE_OP = oneOp ? '1' : '0';
    const y = tf.tidy(() => relu6(tf.tensor(xv, shape)).dataSync() as Float32Array);
    return { y, dx: gradOn('wasm', relu6, xv, rv, shape) };
  };
  try {
    const two = run(false);
    const one = run(true);
    for (let i = 0; i < n; i++) {
      assert.ok(one.y[i] === two.y[i], `y[${i}] (x ${xv[i]}): ${one.y[i]} vs ${two.y[i]}`);
      if (xv[i] === 0) {
        assert.ok(two.dx[i] === 0, `two ops: dx[${i}] at x = 0 is ${two.dx[i]}`);
        assert.ok(Object.is(one.dx[i], rv[i]), `dx[${i}] at x = 0 passes dy: ${one.dx[i]} vs ${rv[i]}`);
      } else {
        // (=== : zeros may differ in sign, relu's gradient multiplies dy by 0.)
        assert.ok(one.dx[i] === two.dx[i], `dx[${i}] (x ${xv[i]}): ${one.dx[i]} vs ${two.dx[i]}`);
      }
    }
  } finally {
    if (was === undefined) delete process.env.FAT2019_RELU6_ONE_OP;
    else process.env.FAT2019_RELU6_ONE_OP = was;
  }
});

test('ClipByValue on wasm (C kernel) equals cpu bit for bit (bounds, NaN, ±0, sizes 1..1.6M, halves with the helper)', () => {
  assert.ok(info.customKernels.includes('wasm:ClipByValue'), `${info.customKernels}`);
  for (const [shape, lo, hi] of [[[1], 0, 6], [[7], -1, 1], [[3, 5, 2], 0, 6], [[2, 33, 31, 8], -0.5, 2.25], [[4, 128, 128, 25], 0, 6]] as Array<[number[], number, number]>) {
    const n = shape.reduce((a, b) => a * b, 1);
    const xv = Float32Array.from({ length: n }, (_, i) => (i % 13 === 0 ? lo : i % 17 === 0 ? hi : i % 29 === 0 ? NaN : i % 31 === 0 ? -0 : 4 * rng.normal() + 2));
    const on = (backend: string) => {
      tf.setBackend(backend);
      try {
        return tf.tidy(() => tf.clipByValue(tf.tensor(xv, shape), lo, hi).dataSync() as Float32Array);
      } finally {
        tf.setBackend('wasm');
      }
    };
    const before = tf.memory().numTensors;
    const got = on('wasm');
    assert.equal(tf.memory().numTensors, before);
    assertSame(got, on('cpu'), `${shape}`);
  }
});
