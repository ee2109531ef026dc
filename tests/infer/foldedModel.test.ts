/**
 * lib/infer/foldedModel: the inference graph with BatchNorm folded into the convs and Dense
 * layers gives the unfolded model's logits within float32 rounding, on wasm (the project's C
 * conv kernels, Winograd included) and against the cpu backend, for every registered network;
 * patterns it does not recognise run as layers; models it cannot compile give null; no tensors
 * are left behind.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { MODEL_DEFAULTS, type ModelConfig } from '../../lib/config';
import { foldModel } from '../../lib/infer/foldedModel';
import { tfjsNetwork } from '../../lib/infer/windowNetwork';
import { architectureNames, buildModel, getArchitecture, minInputOf, Mish } from '../../lib/models/index';
import { initWasmBackend } from '../fixtures/wasmBackend';

before(async () => {
  await initWasmBackend();
});

/** Gives every rank-1 weight (biases, BN γ, β, moving mean and variance) values away from the identity, deterministically. */
function perturbVectors(model: tf.LayersModel): void {
  let k = 0;
  for (const w of model.weights) {
    const v = w.read();
    if (v.rank !== 1) continue;
    k++;
    const r = Array.from({ length: v.size }, (_, i) => Math.sin(i * 7.1 + k));
    const name = w.originalName;
    const values = name.endsWith('moving_variance') ? r.map((x) => 0.5 + x * x) : name.endsWith('gamma') ? r.map((x) => 1 + 0.3 * x) : r.map((x) => 0.2 * x);
    w.write(tf.tensor1d(values));
  }
}

function input(shape: number[], seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, (_, i) => (Math.sin(i * 0.37 + seed) + 1) / 2), shape);
}

/** max |a − b| and max |b|. */
function compare(a: Float32Array | Int32Array | Uint8Array, b: Float32Array | Int32Array | Uint8Array): { diff: number; scale: number } {
  assert.equal(a.length, b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { diff, scale };
}

/** Plain logits on `backend` (model.predict, inference mode). */
function plainLogits(model: tf.LayersModel, x: tf.Tensor, backend: string): Float32Array {
  tf.setBackend(backend);
  try {
    return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
  } finally {
    tf.setBackend('wasm');
  }
}

/** Conv2D / DepthwiseConv2D layers whose output goes to a BatchNormalization layer alone. */
function convThenBatchNorm(model: tf.LayersModel): number {
  let n = 0;
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'Conv2D' && layer.getClassName() !== 'DepthwiseConv2D') continue;
    const out = layer.inboundNodes[0].outputTensors[0];
    const readers = model.layers.filter((l) => l.inboundNodes.some((node) => node.inputTensors.includes(out)));
    if (readers.length === 1 && readers[0].getClassName() === 'BatchNormalization') n++;
  }
  return n;
}

const variants: Array<{ arch: string; extra?: Partial<ModelConfig> }> = [
  ...architectureNames().map((arch) => ({ arch })),
  { arch: 'xresnet18', extra: { xresnetActivation: 'mish' } },
  { arch: 'mobilenetv2', extra: { mobilenetChannelStem: true } },
];

for (const { arch, extra } of variants) {
  test(`${arch}${extra ? ` ${JSON.stringify(extra)}` : ''}: folded logits equal the unfolded model's on wasm and cpu, every conv → BN folded`, () => {
    tf.setBackend('wasm');
    const base: ModelConfig = { ...MODEL_DEFAULTS, arch, numClasses: 7, widthMultiplier: 0.25, ...extra };
    const min = minInputOf(getArchitecture(arch), { ...base, inputMels: 64, inputFrames: 64 });
    const size = Math.max(32, min.mels, min.frames);
    const cfg: ModelConfig = { ...base, inputMels: size, inputFrames: size };
    const model = buildModel(cfg, { seed: 3 });
    try {
      perturbVectors(model);
      const channels = model.inputs[0].shape[3]!;
      const x = input([3, size, size, channels], 1);
      const before = tf.memory().numTensors;
      const folded = foldModel(model);
      const afterFold = tf.memory().numTensors;
      assert.ok(folded, `${arch} compiles`);
      assert.equal(folded.foldedBatchNorms >= convThenBatchNorm(model), true, `${folded.foldedBatchNorms} BNs folded, ${convThenBatchNorm(model)} follow a conv`);
      assert.ok(folded.foldedBatchNorms > 0);
      const got = tf.tidy(() => folded.predict(x).dataSync() as Float32Array);
      assert.equal(tf.memory().numTensors, afterFold, 'predict leaves no tensors');
      const wasm = compare(got, plainLogits(model, x, 'wasm'));
      const cpu = compare(got, plainLogits(model, x, 'cpu'));
      assert.ok(wasm.scale > 1e-3, `${arch}: logits not all ~0 (max ${wasm.scale})`);
      assert.ok(wasm.diff <= 1e-4 * wasm.scale + 1e-6, `${arch} vs unfolded on wasm: max diff ${wasm.diff} (max |y| ${wasm.scale})`);
      assert.ok(cpu.diff <= 2e-4 * cpu.scale + 1e-6, `${arch} vs unfolded on cpu: max diff ${cpu.diff} (max |y| ${cpu.scale})`);
      folded.dispose();
      assert.equal(tf.memory().numTensors, before, 'dispose frees the folded weights');
      x.dispose();
    } finally {
      model.dispose();
    }
  });
}

test('cnnModel1 and vgg16bn: each conv block is one fused conv step, the head two matMuls', () => {
  for (const arch of ['cnnModel1', 'vgg16bn']) {
    const model = buildModel({ ...MODEL_DEFAULTS, arch, numClasses: 5, widthMultiplier: 0.125, inputMels: 32, inputFrames: 32 }, { seed: 1 });
    const folded = foldModel(model)!;
    const convs = model.layers.filter((l) => l.getClassName() === 'Conv2D').length;
    assert.equal(folded.steps.filter((s) => s.startsWith('Conv2D+BatchNormalization+ReLU ')).length, convs);
    assert.ok(!folded.steps.some((s) => /^(BatchNormalization|ReLU|Dropout) /.test(s)), folded.steps.join('\n'));
    assert.deepEqual(folded.steps.filter((s) => s.includes('Dense')), ['BatchNormalization+Dropout+Dense+ReLU head_fc1', 'BatchNormalization+Dropout+Dense head_fc2']);
    assert.equal(folded.foldedBatchNorms, convs + 2);
    folded.dispose();
    model.dispose();
  }
});

test('patterns: pad → strided conv → BN → ReLU6 as one step; BN after an activation, on another axis, or before Mish stays a layer', () => {
  tf.setBackend('wasm');
  const inp = tf.input({ shape: [9, 11, 4] });
  let y = tf.layers.zeroPadding2d({ padding: 1 }).apply(inp) as tf.SymbolicTensor;
  y = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'valid', useBias: false }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization({ epsilon: 1e-5 }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.reLU({ maxValue: 6 }).apply(y) as tf.SymbolicTensor;
  // conv with its own activation: the BN after it cannot fold.
  y = tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization({ axis: -1 }).apply(y) as tf.SymbolicTensor;
  // BN over axis 1 after a conv: not per output channel, stays a layer.
  y = tf.layers.conv2d({ filters: 8, kernelSize: 1, padding: 'same' }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization({ axis: 1 }).apply(y) as tf.SymbolicTensor;
  // depthwise → BN → Mish: folded depthwise, Mish as a layer.
  y = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization({}).apply(y) as tf.SymbolicTensor;
  y = new Mish({}).apply(y) as tf.SymbolicTensor;
  y = tf.layers.globalAveragePooling2d({}).apply(y) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization({}).apply(y) as tf.SymbolicTensor;
  y = tf.layers.dropout({ rate: 0.5 }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.dense({ units: 6, activation: 'relu' }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.dense({ units: 3 }).apply(y) as tf.SymbolicTensor;
  const model = tf.model({ inputs: inp, outputs: y });
  for (const w of model.weights) {
    const v = w.read();
    if (v.rank > 1) w.write(tf.tidy(() => tf.mul(tf.sin(tf.range(0, v.size).mul(1.37)).reshape(v.shape), 0.4)));
  }
  perturbVectors(model);
  const folded = foldModel(model)!;
  assert.deepEqual(folded.steps.map((s) => s.split(' ')[0]), [
    'ZeroPadding2D+Conv2D+BatchNormalization+ReLU', 'Conv2D', 'BatchNormalization', 'Conv2D', 'BatchNormalization',
    'DepthwiseConv2D+BatchNormalization', 'Mish', 'GlobalAveragePooling2D', 'BatchNormalization+Dropout+Dense', 'Dense',
  ]);
  assert.equal(folded.foldedBatchNorms, 3);
  const x = input([2, 9, 11, 4], 2);
  const got = tf.tidy(() => folded.predict(x).dataSync() as Float32Array);
  for (const backend of ['wasm', 'cpu']) {
    const r = compare(got, plainLogits(model, x, backend));
    assert.ok(r.scale > 1e-3 && r.diff <= 1e-5 * r.scale + 1e-6, `${backend}: max diff ${r.diff} (max |y| ${r.scale})`);
  }
  folded.dispose();
  x.dispose();
  model.dispose();
});

test('a model with a shared layer is not compiled: tfjsNetwork keeps model.predict, same logits', () => {
  const inp = tf.input({ shape: [4, 4, 2] });
  const conv = tf.layers.conv2d({ filters: 2, kernelSize: 1 });
  const y = conv.apply(conv.apply(inp)) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3 }).apply(tf.layers.flatten().apply(y)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: inp, outputs: out });
  assert.equal(foldModel(model), null);
  const x = Float32Array.from({ length: 2 * 16 }, (_, i) => i / 32);
  const net = tfjsNetwork(model, 'shared', null, { ownsModel: false });
  const got = net.logitsSync!(x, 2, 4, 4);
  const ref = tf.tidy(() => (model.predict(tf.tensor4d(x, [2, 4, 4, 1]).tile([1, 1, 1, 2])) as tf.Tensor).dataSync());
  assert.deepEqual(Array.from(got), Array.from(ref));
  net.dispose();
  model.dispose();
});

test('tfjsNetwork: folded by default, same logits as fold: false; ownsModel: false leaves the model and frees the folded weights', () => {
  tf.setBackend('wasm');
  const model = buildModel({ ...MODEL_DEFAULTS, arch: 'cnnModel1', numClasses: 4, widthMultiplier: 0.125, inputMels: 32, inputFrames: 32 }, { seed: 2 });
  perturbVectors(model);
  const x = Float32Array.from({ length: 5 * 32 * 32 }, (_, i) => (Math.cos(i * 0.11) + 1) / 2);
  const before = tf.memory().numTensors;
  const folded = tfjsNetwork(model, 'm', null, { ownsModel: false });
  const plain = tfjsNetwork(model, 'm', null, { ownsModel: false, fold: false });
  const r = compare(folded.logitsSync!(x, 5, 32, 32), plain.logitsSync!(x, 5, 32, 32));
  assert.ok(r.scale > 1e-3 && r.diff <= 1e-4 * r.scale, `max diff ${r.diff} (max |y| ${r.scale})`);
  // With a per-channel input normalisation the channels differ: the first conv keeps them.
  const norm = { mean: [0.1, 0.2, 0.3], std: [0.5, 1, 2] };
  const foldedNorm = tfjsNetwork(model, 'm', norm, { ownsModel: false });
  const plainNorm = tfjsNetwork(model, 'm', norm, { ownsModel: false, fold: false });
  const rn = compare(foldedNorm.logitsSync!(x, 5, 32, 32), plainNorm.logitsSync!(x, 5, 32, 32));
  assert.ok(rn.scale > 1e-3 && rn.diff <= 1e-4 * rn.scale, `normalised: max diff ${rn.diff} (max |y| ${rn.scale})`);
  for (const net of [folded, plain, foldedNorm, plainNorm]) net.dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.ok(!model.layers[1].weights[0].read().isDisposed, 'the model is still usable');
  const owning = tfjsNetwork(model, 'm');
  owning.dispose();
  assert.throws(() => model.layers[1].weights[0].read(), /disposed/, 'an owning network frees the model');
});

test('repeatedInput: the first conv sums its filter over the identical input channels and takes one channel; same logits', () => {
  tf.setBackend('wasm');
  for (const arch of ['cnnModel1', 'resnet18', 'xresnet18', 'cnn7th']) {
    const model = buildModel({ ...MODEL_DEFAULTS, arch, numClasses: 5, widthMultiplier: 0.25, inputMels: 32, inputFrames: 32 }, { seed: 4 });
    perturbVectors(model);
    const folded = foldModel(model, { repeatedInput: true })!;
    assert.equal(folded.inputChannels, 1, arch);
    assert.equal(folded.steps.filter((s) => s.endsWith('(channels summed)')).length, 1, folded.steps.join('\n'));
    const one = input([3, 32, 32, 1], 5);
    const got = tf.tidy(() => folded.predict(one).dataSync() as Float32Array);
    const three = tf.tile(one, [1, 1, 1, 3]);
    for (const backend of ['wasm', 'cpu']) {
      const r = compare(got, plainLogits(model, three, backend));
      assert.ok(r.scale > 1e-3 && r.diff <= 1e-4 * r.scale + 1e-6, `${arch} ${backend}: max diff ${r.diff} (max |y| ${r.scale})`);
    }
    tf.dispose([one, three]);
    folded.dispose();
    model.dispose();
  }
  // A 1-channel model, or an input read by two layers, is left as it is.
  const pann = buildModel({ ...MODEL_DEFAULTS, arch: 'pannsCnn6', numClasses: 5, widthMultiplier: 0.25, inputMels: 32, inputFrames: 32 }, { seed: 1 });
  const f = foldModel(pann, { repeatedInput: true })!;
  assert.equal(f.inputChannels, 1);
  assert.ok(!f.steps.some((s) => s.endsWith('(channels summed)')));
  f.dispose();
  pann.dispose();
  const inp = tf.input({ shape: [8, 8, 3] });
  const a = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }).apply(inp) as tf.SymbolicTensor;
  const b = tf.layers.conv2d({ filters: 8, kernelSize: 1 }).apply(inp) as tf.SymbolicTensor;
  const two = tf.model({ inputs: inp, outputs: tf.layers.add().apply([a, b]) as tf.SymbolicTensor });
  const f2 = foldModel(two, { repeatedInput: true })!;
  assert.equal(f2.inputChannels, 3);
  f2.dispose();
  two.dispose();
});
