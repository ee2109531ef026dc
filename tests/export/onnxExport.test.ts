/**
 * ONNX export (lib/export): every registered architecture and a zoo of the layer types the
 * networks use, exported and run back in ONNX Runtime (the file is standard ONNX), outputs equal
 * to tfjs's within 1e-4 on fixed inputs; BatchNorm folded; errors name the layer.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { CONFIG_DEFAULTS, withDefaults, type ModelConfig } from '../../lib/config';
import { architectureNames, buildModel, getArchitecture, minInputOf } from '../../lib/models/index';
import { decodeModel, encodeModel } from '../../lib/export/onnxProto';
import { tfjsToOnnx } from '../../lib/export/onnxGraph';
import { loadOnnxRuntime } from '../../lib/runtime/onnxRuntime';
import { Rng } from '../../lib/util/rng';

const { ort, reason } = loadOnnxRuntime();
const needsOrt = ort ? {} : { skip: reason };

before(async () => {
  await tf.setBackend('cpu');
});

/** Deterministic inputs in 0..1, NHWC. */
function fixedInput(n: number, h: number, w: number, c: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * h * w * c }, () => rng.uniform());
}

function nhwcToNchw(x: Float32Array, n: number, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let k = 0; k < c; k++) {
    out[((b * c + k) * h + i) * w + j] = x[((b * h + i) * w + j) * c + k];
  }
  return out;
}

/** BatchNorm layers get non-trivial statistics (as after training), so folding is really tested. */
function randomizeBatchNorms(model: tf.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const weights = layer.getWeights().map((w, i) => {
      const isVariance = layer.weights[i].originalName.endsWith('moving_variance');
      return tf.tensor(Float32Array.from({ length: w.size }, () => (isVariance ? 0.5 + rng.uniform() * 1.5 : rng.normal() * 0.5)), w.shape);
    });
    layer.setWeights(weights);
    tf.dispose(weights);
  }
}

/** Max |ONNX Runtime − tfjs| over a batch of `n` fixed inputs; also returns the op types of the file. */
async function compare(model: tf.LayersModel, n: number, seed: number, activation: 'none' | 'sigmoid' | 'softmax' = 'none', frames?: number): Promise<{ diff: number; ops: string[] }> {
  const [, h, width, c] = model.inputs[0].shape as number[];
  const w = width ?? frames!; // a network of any width (PANNs) at `frames`
  const x = fixedInput(n, h, w, c, seed);
  const ref = tf.tidy(() => {
    const y = model.predict(tf.tensor4d(x, [n, h, w, c])) as tf.Tensor;
    return (activation === 'sigmoid' ? tf.sigmoid(y) : activation === 'softmax' ? tf.softmax(y) : y).dataSync();
  });
  const bytes = encodeModel(tfjsToOnnx(model, { activation }));
  const session = await ort!.InferenceSession.create(bytes);
  const out = await session.run({ input: new ort!.Tensor('float32', nhwcToNchw(x, n, h, w, c), [n, c, h, w]) });
  await session.release();
  const got = out.output.data as Float32Array;
  assert.equal(got.length, ref.length, 'output size');
  let diff = 0;
  for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs(got[i] - ref[i]));
  return { diff, ops: decodeModel(bytes, 'test').graph.node.map((nd) => nd.op_type) };
}

const SMALL: Partial<ModelConfig> = { numClasses: 7, widthMultiplier: 0.0625, inputMels: 32, inputFrames: 40 };

/** Each registered network (and its options: Mish, channel stem) at a small width and its smallest input. */
function smallConfigs(): Array<{ label: string; cfg: ModelConfig }> {
  const out: Array<{ label: string; cfg: ModelConfig }> = [];
  for (const arch of architectureNames()) {
    const base = withDefaults(CONFIG_DEFAULTS.model, { ...SMALL, arch });
    const min = minInputOf(getArchitecture(arch), base);
    const cfg = { ...base, inputMels: Math.max(32, min.mels), inputFrames: Math.max(40, min.frames + 8) };
    out.push({ label: arch, cfg });
    if (arch.startsWith('xresnet')) out.push({ label: `${arch} (Mish)`, cfg: { ...cfg, activation: 'mish' } as ModelConfig });
    if (arch === 'mobilenetv2') out.push({ label: `${arch} (channel stem, 1-channel input)`, cfg: { ...cfg, channelStem: true } as ModelConfig });
  }
  return out;
}

for (const { label, cfg } of smallConfigs()) {
  test(`${label}: ONNX Runtime output = tfjs within 1e-4 (BatchNorm folded, batch 3 then 1: dynamic batch)`, needsOrt, async () => {
    const model = buildModel(cfg, { seed: 5 });
    randomizeBatchNorms(model, 6);
    const r3 = await compare(model, 3, 1, 'none', cfg.inputFrames);
    const r1 = await compare(model, 1, 2, 'sigmoid', cfg.inputFrames + 3);
    model.dispose();
    assert.ok(r3.diff < 1e-4, `max diff ${r3.diff}`);
    assert.ok(r1.diff < 1e-4, `max diff ${r1.diff}`);
    assert.equal(r1.ops[r1.ops.length - 1], 'Sigmoid');
    // PANNs' bn0 normalises the mel bands between two transposes: the one BatchNorm left standing.
    const standing = r3.ops.filter((op) => op === 'BatchNormalization').length;
    assert.equal(standing, label.startsWith('panns') ? 1 : 0, `every other BatchNorm folded into a convolution or dense layer: ${r3.ops.join(' ')}`);
  });
}

/**
 * Every layer type the registry's networks use (ResNet Add, MobileNetV2 DepthwiseConv2D + ReLU6,
 * max+avg pooling, Mish, SE-style Multiply/Reshape...) in one small functional graph.
 */
function layerZoo(): tf.LayersModel {
  const L = tf.layers;
  const input = tf.input({ shape: [21, 19, 3] });
  const st = (l: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => l.apply(x) as tf.SymbolicTensor;
  let x = st(L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false }), input);
  x = st(L.batchNormalization({ epsilon: 1e-5 }), x);
  x = st(L.reLU({ maxValue: 6 }), x);
  // Inverted residual: 1×1 expand, depthwise 3×3 + BN + relu6, 1×1 project + BN, Add.
  let y = st(L.conv2d({ filters: 16, kernelSize: 1, padding: 'valid' }), x);
  y = st(L.activation({ activation: 'relu6' }), y);
  y = st(L.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 1, useBias: false }), y);
  y = st(L.batchNormalization({}), y);
  y = st(L.activation({ activation: 'mish' }), y);
  y = st(L.conv2d({ filters: 8, kernelSize: 1, useBias: false }), y);
  y = st(L.batchNormalization({}), y);
  x = st(L.add(), [x, y]);
  // Unfoldable BatchNorm (after an activation), swish, dilated valid conv, depthwise multiplier 2, separable conv.
  x = st(L.activation({ activation: 'swish' }), x);
  x = st(L.batchNormalization({}), x);
  x = st(L.conv2d({ filters: 6, kernelSize: [3, 2], dilationRate: 2, padding: 'valid', activation: 'relu' }), x);
  x = st(L.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', depthMultiplier: 2 }), x);
  x = st(L.separableConv2d({ filters: 10, kernelSize: 3, padding: 'same' }), x);
  x = st(L.batchNormalization({}), x);
  x = st(L.leakyReLU({ alpha: 0.1 }), x);
  x = st(L.zeroPadding2d({ padding: [[1, 0], [0, 2]] }), x);
  // Two pools side by side (cnn7th), odd sizes with 'same' padding, concatenated on channels.
  const mp = st(L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }), x);
  const ap = st(L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }), x);
  x = st(L.concatenate({ axis: -1 }), [mp, ap]);
  // Squeeze-excitation: global pool → dense → reshape → multiply.
  let se = st(L.globalAveragePooling2d({}), x);
  se = st(L.dense({ units: 20, activation: 'sigmoid' }), se);
  se = st(L.reshape({ targetShape: [1, 1, 20] }), se);
  x = st(L.multiply(), [x, se]);
  x = st(L.activation({ activation: 'gelu' }), x);
  const both = [st(L.globalMaxPooling2d({}), x), st(L.globalAveragePooling2d({}), x)];
  const flat = st(L.flatten(), st(L.averagePooling2d({ poolSize: 2, padding: 'valid' }), x));
  let h = st(L.concatenate({}), [...both, st(L.dense({ units: 40 }), flat)]);
  h = st(L.batchNormalization({}), h);
  h = st(L.dropout({ rate: 0.5 }), h);
  h = st(L.dense({ units: 12 }), h);
  h = st(L.batchNormalization({}), h);
  h = st(L.elu({}), h);
  const avg = st(L.average(), [h, st(L.activation({ activation: 'tanh' }), h)]);
  const out = st(L.dense({ units: 5 }), st(L.maximum(), [avg, st(L.activation({ activation: 'softplus' }), h)]));
  const model = tf.model({ inputs: input, outputs: out });
  const rng = new Rng(11);
  for (const layer of model.layers) {
    const ws = layer.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, () => rng.normal() * 0.4), w.shape));
    if (ws.length > 0) layer.setWeights(ws);
    tf.dispose(ws);
  }
  randomizeBatchNorms(model, 12);
  return model;
}

test('layer zoo (Conv2D, DepthwiseConv2D, SeparableConv2D, BatchNorm folded and not, ReLU6, Mish, Swish, GELU, pools, Add, Multiply, Reshape, Flatten, Dense...): ONNX = tfjs within 1e-4', needsOrt, async () => {
  const model = layerZoo();
  const { diff, ops } = await compare(model, 4, 3);
  const soft = await compare(model, 2, 4, 'softmax');
  model.dispose();
  assert.ok(diff < 1e-4, `max diff ${diff}`);
  assert.ok(soft.diff < 1e-4, `softmax: max diff ${soft.diff}`);
  assert.equal(ops.filter((o) => o === 'BatchNormalization').length, 1, `only the BatchNorm after an activation stays: ${ops.join(' ')}`);
  for (const op of ['Conv', 'Clip', 'Add', 'Mul', 'Reshape', 'Concat', 'MaxPool', 'AveragePool', 'Gemm', 'Pad', 'Erf', 'Softplus']) assert.ok(ops.includes(op), `op ${op} in the graph`);
});

test('the file is an ONNX model: opset 17, NCHW input with a symbolic batch, metadata; unsupported layers and shared layers are named', () => {
  const model = buildModel(withDefaults(CONFIG_DEFAULTS.model, SMALL), { seed: 1 });
  const proto = decodeModel(encodeModel(tfjsToOnnx(model, { metadata: { 'fat2019.classes': '["a"]' } })), 'm.onnx');
  model.dispose();
  assert.equal(proto.ir_version, 8);
  assert.deepEqual(proto.opset_import.map((o) => [o.domain ?? '', o.version]), [['', 17]]);
  const dims = proto.graph.input[0].type.tensor_type.shape.dim;
  assert.deepEqual(dims.map((d) => d.dim_param ?? Number(d.dim_value)), ['batch', 3, 32, 40]);
  assert.deepEqual(proto.graph.output[0].type.tensor_type.shape.dim.map((d) => d.dim_param ?? Number(d.dim_value)), ['batch', 7]);
  const meta = Object.fromEntries(proto.metadata_props.map((p) => [p.key, p.value]));
  assert.equal(meta['fat2019.input_layout'], 'NCHW');
  assert.equal(meta['fat2019.classes'], '["a"]');

  const input = tf.input({ shape: [8, 8, 3] });
  const up = tf.layers.upSampling2d({ name: 'up', size: [2, 2] }).apply(input) as tf.SymbolicTensor;
  const bad = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2 }).apply(tf.layers.globalAveragePooling2d({}).apply(up)) as tf.SymbolicTensor });
  assert.throws(() => tfjsToOnnx(bad), /layer up of class UpSampling2D has no converter \(supported: .*Conv2D.*\)/);
  const conv = tf.layers.conv2d({ name: 'shared', filters: 3, kernelSize: 1 });
  const twice = conv.apply(conv.apply(input)) as tf.SymbolicTensor;
  const shared = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2 }).apply(tf.layers.flatten().apply(twice)) as tf.SymbolicTensor });
  assert.throws(() => tfjsToOnnx(shared), /layer shared is applied 2 times/);
  assert.throws(() => decodeModel(new Uint8Array([0xff, 0xff, 0xff, 0xff]), 'junk.onnx'), /junk\.onnx: not an ONNX model/);
});
