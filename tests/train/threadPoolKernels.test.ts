/**
 * Training steps with the C kernels that replaced XNNPACK's thread-pool ones on wasm (Relu, Neg,
 * Abs: lib/runtime/kernels/unary.ts; MaxPool, AvgPool: poolForward.ts; BatchMatMul, _FusedMatMul:
 * matMul.ts; the Mean gradient: meanGrad.ts) against the same steps with tfjs' stock kernels and
 * gradient: the same losses and weights, bit for bit (resnet18: the stem's max pool, the ReLUs,
 * the head's global average pool and products, the loss's Neg, Abs and mean; cnnModel1: its
 * average pools and Dense layers; pannsCnn14: its pools down to one pixel, which stay stock).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL_DEFAULTS, OPTIMIZER_DEFAULTS, type ModelConfig } from '../../lib/config';
import { buildModel } from '../../lib/models';
import { AdamW, trainableVariables, trainStep } from '../../lib/train';
import { registerCustomKernels, restoreStockKernels, type CustomKernelOptions } from '../../lib/runtime/kernels';
import { setBatchNormReluFusion } from '../../lib/runtime/kernels/batchNormTraining';
import { initWasmBackend } from '../fixtures/wasmBackend';
import { Rng } from '../../lib/util/rng';

before(async () => {
  await initWasmBackend();
});

/** Every option but these four false: restoreStockKernels then puts back only their stock kernels. */
const ONLY_NEW = Object.fromEntries(['conv2dBackpropInput', 'depthwiseForward', 'reductions', 'batchNormGrad', 'avgPoolGrad',
  'maxPoolGrad', 'reluGrad', 'clipGrad', 'padSlice', 'identity', 'cast', 'equal', 'convForward', 'batchNormTraining']
  .map((k) => [k, false])) as Omit<CustomKernelOptions, 'conv2dBackpropFilter' | 'depthwiseGrads'>;

function train(arch: string, stock: boolean): { losses: number[]; weights: number[][] } {
  if (stock) restoreStockKernels(ONLY_NEW);
  try {
    const cfg = { ...MODEL_DEFAULTS, arch, numClasses: 7, inputMels: 32, inputFrames: 32, widthMultiplier: 1 / 8 } as ModelConfig;
    const model = buildModel(cfg, { seed: 5 });
    const opt = new AdamW(trainableVariables(model), OPTIMIZER_DEFAULTS);
    const rng = new Rng(11);
    const B = 4;
    const batch = { x: Float32Array.from({ length: B * 32 * 32 }, () => rng.uniform()), y: Float32Array.from({ length: B * 7 }, (_, i) => (i % 3 === 0 ? 1 : 0)) };
    const losses = [0, 1].map(() => trainStep(model, opt, batch, B, B, { lr: 1e-2, beta1: 0.9 }, rng));
    const weights = model.weights.map((w) => Array.from(w.read().dataSync()));
    opt.dispose();
    model.dispose();
    return { losses, weights };
  } finally {
    registerCustomKernels();
  }
}

test('training steps with the C Relu, Neg, Abs, pools, matrix products and Mean gradient equal the stock ones bit for bit (resnet18, cnnModel1, pannsCnn14)', () => {
  // Without the BatchNorm fusions, so that every ReLU layer runs a Relu kernel.
  const was = setBatchNormReluFusion(false);
  try {
    for (const arch of ['resnet18', 'cnnModel1', 'pannsCnn14']) {
      const ref = train(arch, true);
      const got = train(arch, false);
      assert.deepEqual(got.losses, ref.losses, `${arch}: losses`);
      got.weights.forEach((w, i) => assert.deepEqual(w, ref.weights[i], `${arch}: weight ${i}`));
    }
  } finally {
    setBatchNormReluFusion(was);
  }
});
