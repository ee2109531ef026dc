/**
 * Model definitions (lib/models): parameter counts against SPEC, layer names, init statistics,
 * width scaling, input validation. Full-size models are built (not trained).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { MODEL_DEFAULTS, ModelConfig } from '../../lib/config';
import { trainCommand, trainConfig } from '../../lib/cli/train';
import { inferCommand } from '../../lib/cli/infer';
import { tagCommand } from '../../lib/cli/tag';
import { demoCommand } from '../../lib/cli/demo';
import { architectureNames, buildModel, countTrainableParams, getArchitecture, isArchitecture, registerArchitecture, unregisterArchitecture } from '../../lib/models/index';
import { UsageError } from '../../lib/cli/command';

const tiny = (over: Partial<ModelConfig> = {}): ModelConfig =>
  ({ ...MODEL_DEFAULTS, numClasses: 4, inputMels: 32, inputFrames: 32, widthMultiplier: 1 / 16, ...over });

function paramsOf(model: tf.LayersModel, prefix: string): number {
  return model.trainableWeights
    .filter((w) => w.originalName.startsWith(prefix))
    .reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b as number), 1), 0);
}

test('cnnModel1 at 3x128x128, 80 classes has the SPEC parameter counts (5,258,128 = 4,685,376 conv + 3,840 BN + 568,912 head)', async () => {
  await tf.setBackend('cpu');
  const model = buildModel({ ...MODEL_DEFAULTS });
  try {
    assert.equal(countTrainableParams(model), 5_258_128);
    const convs = model.trainableWeights.filter((w) => /^block\d_\d_conv\//.test(w.originalName));
    assert.equal(convs.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b as number), 1), 0), 4_685_376);
    const bns = model.trainableWeights.filter((w) => /^block\d_\d_bn\//.test(w.originalName));
    assert.equal(bns.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b as number), 1), 0), 3_840);
    assert.equal(paramsOf(model, 'head_'), 568_912);
    assert.deepEqual(model.outputs[0].shape, [null, 80]);
    assert.deepEqual(model.inputs[0].shape, [null, 128, 128, 3]);
  } finally {
    model.dispose();
  }
});

test('vgg16bn at 3x128x128, 80 classes has 15,292,048 trainable parameters (14,723,136 + 568,912 head)', () => {
  const model = buildModel({ ...MODEL_DEFAULTS, arch: 'vgg16bn' });
  try {
    assert.equal(countTrainableParams(model), 15_292_048);
    assert.equal(paramsOf(model, 'head_'), 568_912);
    assert.equal(model.layers.filter((l) => l.getClassName() === 'Conv2D').length, 13);
    assert.equal(model.layers.filter((l) => l.getClassName() === 'MaxPooling2D').length, 5);
    const last = model.getLayer('stage5_pool');
    assert.deepEqual(last.outputShape, [null, 4, 4, 512]);
  } finally {
    model.dispose();
  }
});

test('head layout: maxpool ‖ avgpool → BN → Dropout 0.25 → Dense 512 → ReLU → BN → Dropout 0.5 → Dense', () => {
  const model = buildModel(tiny({ widthMultiplier: 1 }));
  try {
    const names = model.layers.map((l) => l.name);
    const head = names.slice(names.indexOf('head_maxpool'));
    assert.deepEqual(head, ['head_maxpool', 'head_avgpool', 'head_concat', 'head_bn1', 'head_drop1', 'head_fc1', 'head_relu', 'head_bn2', 'head_drop2', 'head_fc2']);
    const cfg = (name: string) => model.getLayer(name).getConfig() as Record<string, unknown>;
    assert.equal(cfg('head_drop1').rate, 0.25);
    assert.equal(cfg('head_drop2').rate, 0.5);
    assert.equal(cfg('head_fc1').units, 512);
    assert.equal(cfg('head_bn1').momentum, 0.9);
    assert.equal(cfg('head_bn1').epsilon, 1e-5);
    // Max pool comes first in the concatenation (fastai AdaptiveConcatPool2d order is [max, avg]).
    const x = tf.tidy(() => tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 3));
    const sub = tf.model({ inputs: model.inputs, outputs: model.getLayer('head_concat').output as tf.SymbolicTensor });
    const feats = tf.model({ inputs: model.inputs, outputs: model.getLayer('block4_pool').output as tf.SymbolicTensor });
    const [c, f] = [sub.predict(x) as tf.Tensor, feats.predict(x) as tf.Tensor];
    const C = f.shape[3] as number;
    const cv = c.dataSync();
    const maxv = tf.tidy(() => f.max([1, 2]).dataSync());
    const avgv = tf.tidy(() => f.mean([1, 2]).dataSync());
    for (let i = 0; i < C; i++) {
      assert.ok(Math.abs(cv[i] - maxv[i]) < 1e-6);
      assert.ok(Math.abs(cv[C + i] - avgv[i]) < 1e-6);
    }
    tf.dispose([x, c, f]);
  } finally {
    model.dispose();
  }
});

test('Kaiming-normal init: conv/dense kernels ~ N(0, 2/fanIn), biases 0, BN gamma 1 beta 0; same seed same weights', () => {
  const a = buildModel(tiny({ widthMultiplier: 1 }), { seed: 7 });
  const b = buildModel(tiny({ widthMultiplier: 1 }), { seed: 7 });
  const c = buildModel(tiny({ widthMultiplier: 1 }), { seed: 8 });
  try {
    const kernel = a.getLayer('block4_2_conv').getWeights()[0]; // [3, 3, 512, 512]
    const v = kernel.dataSync();
    let sum = 0;
    let sq = 0;
    for (const x of v) { sum += x; sq += x * x; }
    const mean = sum / v.length;
    const std = Math.sqrt(sq / v.length - mean * mean);
    const expected = Math.sqrt(2 / (3 * 3 * 512));
    assert.ok(Math.abs(std / expected - 1) < 0.01, `std ${std} vs ${expected}`);
    assert.ok(Math.abs(mean) < 0.01 * expected);
    // Not truncated: values beyond 2 std exist (≈4.6% of a normal sample).
    const beyond = v.filter((x) => Math.abs(x) > 2 * expected).length / v.length;
    assert.ok(beyond > 0.04 && beyond < 0.052, `fraction beyond 2 std ${beyond}`);
    const fc = a.getLayer('head_fc2').getWeights();
    assert.ok(Math.abs(Math.sqrt(tf.tidy(() => fc[0].square().mean().dataSync()[0])) / Math.sqrt(2 / 512) - 1) < 0.05);
    assert.deepEqual(Array.from(fc[1].dataSync()), [0, 0, 0, 0]);
    const [gamma, beta, mm, mv] = a.getLayer('head_bn1').getWeights().map((t) => Array.from(t.dataSync()));
    assert.ok(gamma.every((x) => x === 1) && beta.every((x) => x === 0) && mm.every((x) => x === 0) && mv.every((x) => x === 1));
    const wa = a.getWeights().map((t) => t.dataSync());
    const wb = b.getWeights().map((t) => t.dataSync());
    const wc = c.getWeights().map((t) => t.dataSync());
    wa.forEach((x, i) => assert.deepEqual(x, wb[i]));
    assert.notDeepEqual(wa[0], wc[0]);
  } finally {
    a.dispose(); b.dispose(); c.dispose();
  }
});

test('widthMultiplier scales conv widths, the head keeps headUnits (512) hidden units; output is [B, numClasses] logits', () => {
  const model = buildModel(tiny({ widthMultiplier: 0.25 }));
  try {
    assert.equal((model.getLayer('block1_1_conv').getConfig() as { filters: number }).filters, 16);
    assert.equal((model.getLayer('block4_2_conv').getConfig() as { filters: number }).filters, 128);
    assert.equal((model.getLayer('head_fc1').getConfig() as { units: number }).units, 512);
    const narrowHead = buildModel(tiny({ widthMultiplier: 0.25, headUnits: 32 }));
    assert.equal((narrowHead.getLayer('head_fc1').getConfig() as { units: number }).units, 32);
    narrowHead.dispose();
    const out = tf.tidy(() => model.predict(tf.zeros([2, 32, 32, 3])) as tf.Tensor);
    assert.deepEqual(out.shape, [2, 4]);
    out.dispose();
  } finally {
    model.dispose();
  }
});

test('bad model configs fail with the field name and value', () => {
  assert.throws(() => buildModel(tiny({ numClasses: 0 })), /numClasses must be a positive integer, got 0/);
  assert.throws(() => buildModel(tiny({ widthMultiplier: -1 })), /widthMultiplier must be > 0, got -1/);
  assert.throws(() => buildModel(tiny({ headUnits: 0 })), /headUnits must be a positive integer, got 0/);
  const old = tiny() as Partial<ModelConfig>;
  delete old.headUnits;
  delete old.xresnetActivation;
  assert.throws(() => buildModel(old as ModelConfig), /lacks "headUnits", "xresnetActivation" \(a run.json from an older version\? add "headUnits": 512, "xresnetActivation": "relu" to its "model" section/);
  assert.throws(() => buildModel(tiny({ headDropout1: 1 })), /headDropout1 must be in \[0, 1\), got 1/);
  assert.throws(() => buildModel(tiny({ arch: 'vgg16bn', inputMels: 16 })), /at least 32×32 for vgg16bn/);
  assert.throws(() => buildModel(tiny({ arch: 'resnet' })), /unknown architecture 'resnet' \(known: cnnModel1, vgg16bn/);
});

test('the registry lists every family, rejects unknown names with the known ones, and builds what is registered', () => {
  const names = architectureNames();
  assert.deepEqual(names.slice(0, 2), ['cnnModel1', 'vgg16bn']);
  assert.ok(isArchitecture('vgg16bn') && !isArchitecture('VGG16') && !isArchitecture(undefined));
  assert.throws(() => getArchitecture('nope'), (err: Error) => err.message.includes(`unknown architecture 'nope' (known: ${names.join(', ')})`));
  assert.throws(() => registerArchitecture({ ...getArchitecture('cnnModel1'), name: 'a/b' }), /folder name/);
  // A network registered from outside lib/models is buildable, listed, and validated by its pools.
  registerArchitecture({ ...getArchitecture('cnnModel1'), name: 'testOnlyCnn', description: 'test copy', pools: 6 });
  try {
    assert.ok(architectureNames().includes('testOnlyCnn'));
    assert.throws(() => buildModel(tiny({ arch: 'testOnlyCnn' })), /at least 64×64 for testOnlyCnn \(6 pools\)/);
    const model = buildModel(tiny({ arch: 'testOnlyCnn', inputMels: 64, inputFrames: 64 }));
    assert.equal(model.outputs[0].shape[1], 4);
    model.dispose();
  } finally {
    assert.ok(unregisterArchitecture('testOnlyCnn'));
  }
});

test('`fat2019 train --help`, infer, tag and demo list every registered architecture', () => {
  for (const command of [trainCommand, inferCommand, tagCommand, demoCommand]) {
    for (const name of architectureNames()) assert.ok(command.help.includes(name), `${command.name} --help lacks ${name}`);
  }
});

test('`fat2019 train` model flags: --arch from the registry, --head-units, --mish, --channel-stem', () => {
  const none = '/nonexistent-fat2019-run';
  const model = trainConfig(none, none, { arch: 'xresnet50', 'head-units': '256', mish: true, 'channel-stem': true }).model;
  assert.equal(model.arch, 'xresnet50');
  assert.equal(model.headUnits, 256);
  assert.equal(model.xresnetActivation, 'mish');
  assert.equal(model.mobilenetChannelStem, true);
  const plain = trainConfig(none, none, {}).model;
  assert.deepEqual([plain.arch, plain.headUnits, plain.xresnetActivation, plain.mobilenetChannelStem], ['cnnModel1', 512, 'relu', false]);
  assert.throws(() => trainConfig(none, none, { arch: 'resnet50' }), (e: Error) => e instanceof UsageError && /--arch must be one of cnnModel1, vgg16bn, resnet18/.test(e.message));
  assert.throws(() => trainConfig(none, none, { 'head-units': '0' }), /--head-units must be an integer >= 1, got 0/);
});
