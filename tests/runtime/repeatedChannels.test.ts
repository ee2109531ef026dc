/**
 * The 3-channel model input as one channel (lib/runtime/kernels/repeatedChannels.ts): toModelInput's
 * repeated tensor and its spatial pads are known as copies, and a convolution of them (forward,
 * filter gradient) equals, within rounding, the same convolution of an identical tensor that is
 * not known as one and so runs all three channels, and the cpu backend; other tensors are never
 * taken for copies.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initWasmBackend } from '../fixtures/wasmBackend';
import { toModelInput } from '../../lib/runtime/modelInput';
import { hasRepeatedChannels } from '../../lib/runtime/kernels/repeatedChannels';
import { Rng } from '../../lib/util/rng';

before(async () => {
  await initWasmBackend();
});

const rng = new Rng(31);
const info = (t: tf.Tensor): tf.TensorInfo => ({ dataId: t.dataId, shape: t.shape, dtype: t.dtype });

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): [number, number] {
  const [x, y] = [a.dataSync(), b.dataSync()];
  let d = 0;
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    d = Math.max(d, Math.abs(x[i] - y[i]));
    m = Math.max(m, Math.abs(y[i]));
  }
  return [d, m];
}

test('the repeated model input and its spatial pads are known as copies; a channel pad, a plain tensor and other ops are not', () => {
  const [n, h, w] = [2, 9, 7];
  const x = Float32Array.from({ length: n * h * w }, () => rng.uniform());
  const input = toModelInput(x, n, h, w, 3);
  assert.ok(hasRepeatedChannels(info(input)));
  const padded = tf.pad(input, [[0, 0], [3, 3], [2, 3], [0, 0]]);
  assert.ok(hasRepeatedChannels(info(padded)));
  assert.ok(!hasRepeatedChannels(info(tf.pad(input, [[0, 0], [0, 0], [0, 0], [0, 1]]))));
  assert.ok(!hasRepeatedChannels(info(tf.tensor4d(input.dataSync(), input.shape as [number, number, number, number]))));
  assert.ok(!hasRepeatedChannels(info(tf.mul(input, 2))));
  // A reshape that regroups the channels is not; one that keeps 3 channels still is.
  assert.ok(!hasRepeatedChannels(info(input.reshape([n, h, 3, 7]))));
  assert.ok(hasRepeatedChannels(info(input.reshape([n, w, h, 3]))));
});

test('a conv of the repeated input (7×7 stride 2 on a pad, 3×3 same) and its filter gradient match the three-channel computation', () => {
  const [n, h, w] = [4, 37, 29];
  const x = Float32Array.from({ length: n * h * w }, () => rng.uniform());
  const repeatedInput = tf.pad(toModelInput(x, n, h, w, 3), [[0, 0], [3, 3], [3, 3], [0, 0]]) as tf.Tensor4D;
  const plainInput = tf.tensor4d(repeatedInput.dataSync(), repeatedInput.shape as [number, number, number, number]);
  assert.ok(hasRepeatedChannels(info(repeatedInput)) && !hasRepeatedChannels(info(plainInput)));
  for (const [k, stride, pad, co] of [[7, 2, 'valid', 8], [3, 1, 'same', 12]] as const) {
    const filter = tf.tensor4d(Float32Array.from({ length: k * k * 3 * co }, () => rng.normal()), [k, k, 3, co]);
    const bias = tf.tensor1d(Float32Array.from({ length: co }, () => rng.normal()));
    const conv = (input: tf.Tensor4D) => tf.fused.conv2d({ x: input, filter, strides: stride, pad, bias, activation: 'relu' });
    const yFolded = conv(repeatedInput);
    const yPlain = conv(plainInput);
    const [d, m] = maxAbsDiff(yFolded, yPlain);
    assert.ok(d <= 2e-6 * m, `${k}×${k} forward: max |Δ| ${d} of max |y| ${m}`);
    const dy = tf.randomNormal(yFolded.shape, 0, 1, 'float32', 5);
    const gradOf = (input: tf.Tensor4D) => tf.engine().runKernel('Conv2DBackpropFilter', { x: input, dy },
      { strides: [stride, stride], pad, dataFormat: 'NHWC', filterShape: [k, k, 3, co] } as never) as tf.Tensor;
    const [gFolded, gPlain] = [gradOf(repeatedInput), gradOf(plainInput)];
    const [dg, mg] = maxAbsDiff(gFolded, gPlain);
    assert.ok(dg <= 1e-5 * mg, `${k}×${k} filter gradient: max |Δ| ${dg} of max |dW| ${mg}`);
    // Every input channel of the folded gradient is the same.
    const g = gFolded.arraySync() as number[][][][];
    for (const row of g) for (const tap of row) assert.deepEqual(tap[1], tap[0]), assert.deepEqual(tap[2], tap[0]);
    // And the cpu backend agrees.
    tf.setBackend('cpu');
    const yCpu = tf.tidy(() => tf.fused.conv2d({ x: tf.tensor4d(plainInput.dataSync(), plainInput.shape as [number, number, number, number]),
      filter: tf.tensor4d(filter.dataSync(), filter.shape as [number, number, number, number]), strides: stride, pad,
      bias: tf.tensor1d(bias.dataSync()), activation: 'relu' }));
    const yCpuData = yCpu.dataSync().slice();
    tf.setBackend('wasm');
    const [dc, mc] = maxAbsDiff(yFolded, tf.tensor(yCpuData, yFolded.shape));
    assert.ok(dc <= 2e-6 * mc, `${k}×${k} forward vs cpu: max |Δ| ${dc} of ${mc}`);
  }
});
