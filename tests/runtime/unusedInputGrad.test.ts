/**
 * lib/train/fit.ts trainStep skips the input gradient of convs applied to the model input
 * (withUnusedInputGradients, lib/runtime/kernels/conv2dGrads.ts): the skipped kernel returns
 * zeros for exactly the named filters, and the variables' gradients are bit for bit those of
 * the full computation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { MODEL_DEFAULTS, ModelConfig } from '../../lib/config';
import { buildModel } from '../../lib/models';
import { initWasmBackend } from '../fixtures/wasmBackend';
import { withUnusedInputGradients } from '../../lib/runtime/kernels/conv2dGrads';

test('wasm: withUnusedInputGradients zeroes only the named filters\' input gradients; variable gradients unchanged', async () => {
  await initWasmBackend();
  const dy = tf.randomNormal([2, 6, 5, 8], 0, 1, 'float32', 3);
  const f1 = tf.randomNormal([3, 3, 3, 8], 0, 1, 'float32', 4);
  const f2 = tf.randomNormal([3, 3, 3, 8], 0, 1, 'float32', 5);
  const dx = (f: tf.Tensor) => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: f },
    { inputShape: [2, 6, 5, 3], strides: 1, pad: 'same', dataFormat: 'NHWC' }) as tf.Tensor;
  const full1 = dx(f1);
  const full2 = dx(f2);
  const [skip1, kept2] = withUnusedInputGradients([f1], () => [dx(f1), dx(f2)]);
  assert.ok(Array.from(full1.dataSync()).some((v) => v !== 0));
  assert.deepEqual(Array.from(skip1.dataSync()), new Array(2 * 6 * 5 * 3).fill(0));
  assert.deepEqual(Array.from(kept2.dataSync()), Array.from(full2.dataSync()));
  assert.deepEqual(Array.from(dx(f1).dataSync()), Array.from(full1.dataSync())); // off again afterwards
  tf.dispose([dy, f1, f2, full1, full2, skip1, kept2]);

  const cfg: ModelConfig = { ...MODEL_DEFAULTS, numClasses: 4, inputMels: 16, inputFrames: 16, widthMultiplier: 1 / 8, headDropout1: 0, headDropout2: 0 };
  const model = buildModel(cfg, { seed: 7 });
  const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 8);
  const y = tf.tensor2d([[1, 0, 0, 1], [0, 1, 0, 0]]);
  const vars = model.trainableWeights.map((w) => (w as unknown as { read(): tf.Variable }).read());
  const grads = () => tf.variableGrads(() => tf.losses.sigmoidCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, vars);
  const ref = grads();
  const firstConv = model.layers.find((l) => l.getClassName() === 'Conv2D')!;
  const got = withUnusedInputGradients([(firstConv as unknown as { kernel: { read(): tf.Tensor } }).kernel.read()], grads);
  assert.equal(got.value.dataSync()[0], ref.value.dataSync()[0]);
  for (const name of Object.keys(ref.grads)) assert.deepEqual(Array.from(got.grads[name].dataSync()), Array.from(ref.grads[name].dataSync()), name);
  tf.dispose([x, y, ref.value, got.value, ...Object.values(ref.grads), ...Object.values(got.grads)]);
  model.dispose();
});
