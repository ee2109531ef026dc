/**
 * The model zoo (lib/models registry): every registered network's trainable parameter count
 * equals its PyTorch reference (tests/fixtures/param-counts.json, written by
 * scripts/torch-param-counts.py from bench/torch_models.py); reference initialisation and
 * options; every network trains on wasm (20 steps on a fixed batch, one epoch of fit); a run
 * folder of mixed architectures is one ensemble.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CONFIG_DEFAULTS, MODEL_DEFAULTS, OPTIMIZER_DEFAULTS, TRAIN_DEFAULTS, withDefaults, type ModelConfig } from '../../lib/config';
import type { TrainingClip } from '../../lib/data/types';
import { loadEnsemble, predictImages } from '../../lib/infer/index';
import { architectureNames, buildModel, countTrainableParams, getArchitecture, inputChannelsOf, Mish } from '../../lib/models/index';
import { foldDir, writeFoldDone, writeRunInfo } from '../../lib/run/runFolder';
import type { BackendInfo } from '../../lib/runtime/backend';
import { initWasmBackend } from '../fixtures/wasmBackend';
import { loadModel, saveModel } from '../../lib/runtime/modelFile';
import { AdamW, fit, trainableVariables, trainStep } from '../../lib/train';
import { Rng } from '../../lib/util/rng';

interface FixtureRow { arch: string; width: number; options: { channel_stem?: boolean; mish?: boolean }; trainableParams: number }
const FIXTURE = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'param-counts.json'), 'utf8')) as {
  numClasses: number; input: [number, number, number]; networks: FixtureRow[];
};

test('every registered network has a PyTorch reference count in the fixture, and the fixture only names registered ones', () => {
  const names = architectureNames();
  for (const name of ['cnnModel1', 'vgg16bn', 'resnet18', 'resnet34', 'mobilenetv2', 'cnn7th', 'xresnet18', 'xresnet50']) {
    assert.ok(names.includes(name), `${name} is registered`);
  }
  for (const name of names) assert.ok(FIXTURE.networks.some((r) => r.arch === name && r.width === 1), `${name} has a width-1 reference`);
  for (const row of FIXTURE.networks) assert.ok(names.includes(row.arch), `fixture row ${row.arch} is registered`);
});

for (const row of FIXTURE.networks) {
  const label = `${row.arch} width ${row.width}${Object.keys(row.options).length ? ` ${JSON.stringify(row.options)}` : ''}`;
  test(`${label}: ${row.trainableParams.toLocaleString('en')} trainable parameters at 128x128 (3 channels; the PANNs 1), 80 classes, as PyTorch`, async () => {
    await tf.setBackend('cpu');
    const cfg: ModelConfig = {
      ...MODEL_DEFAULTS, arch: row.arch, numClasses: FIXTURE.numClasses,
      inputMels: FIXTURE.input[1], inputFrames: FIXTURE.input[2], widthMultiplier: row.width,
      mobilenetChannelStem: row.options.channel_stem ?? false, xresnetActivation: row.options.mish ? 'mish' : 'relu',
    };
    const model = buildModel(cfg);
    try {
      assert.equal(countTrainableParams(model), row.trainableParams);
      assert.deepEqual(model.outputs[0].shape, [null, FIXTURE.numClasses]);
      assert.equal(model.inputs[0].shape[3], inputChannelsOf(getArchitecture(row.arch), cfg));
      assert.equal(model.inputs[0].shape[3], row.options.channel_stem || row.arch.startsWith('panns') ? 1 : 3);
    } finally {
      model.dispose();
    }
  });
}

/** A tiny network of `arch` (32×32 input, 4 classes, width 1/16, no head dropout). */
function tinyConfig(arch: string, over: Partial<ModelConfig> = {}): ModelConfig {
  return {
    ...MODEL_DEFAULTS, arch, numClasses: 4, inputMels: 32, inputFrames: 32, widthMultiplier: 1 / 16,
    headUnits: 32, headDropout1: 0, headDropout2: 0, ...over,
  };
}

test('Mish = x·tanh(softplus(x)) and its gradient, against the closed forms', async () => {
  await tf.setBackend('cpu');
  const xs = [-20, -3, -1.19, -0.5, 0, 0.5, 2, 10];
  const layer = new Mish({ name: 'm' });
  const mish = (v: number) => v * Math.tanh(Math.log1p(Math.exp(v)));
  const dmish = (v: number) => {
    const sp = Math.log1p(Math.exp(v));
    const t = Math.tanh(sp);
    return t + v * (1 - t * t) / (1 + Math.exp(-v));
  };
  const x = tf.tensor1d(xs);
  const y = layer.apply(x) as tf.Tensor;
  const g = tf.grad((a: tf.Tensor) => tf.sum(layer.apply(a) as tf.Tensor))(x);
  const yv = y.dataSync();
  const gv = g.dataSync();
  xs.forEach((v, i) => {
    assert.ok(Math.abs(yv[i] - mish(v)) < 1e-5, `mish(${v}) = ${yv[i]}, want ${mish(v)}`);
    assert.ok(Math.abs(gv[i] - dmish(v)) < 1e-5, `mish'(${v}) = ${gv[i]}, want ${dmish(v)}`);
  });
  tf.dispose([x, y, g]);
});

test('reference initialisation: torchvision fan_out for ResNet, zero γ in the last BN of each XResNet block, options validated', async () => {
  await tf.setBackend('cpu');
  const resnet = buildModel({ ...MODEL_DEFAULTS, arch: 'resnet18', numClasses: 80 }, { seed: 3 });
  const xres = buildModel({ ...MODEL_DEFAULTS, arch: 'xresnet18', numClasses: 80, widthMultiplier: 0.5 }, { seed: 3 });
  const mobile = buildModel({ ...MODEL_DEFAULTS, arch: 'mobilenetv2', numClasses: 80 }, { seed: 3 });
  try {
    const std = (t: tf.Tensor) => Math.sqrt(tf.tidy(() => t.square().mean().dataSync()[0]));
    // layer4_0_2_conv: 3×3, 512 → 512: fan_out = 9·512.
    assert.ok(Math.abs(std(resnet.getLayer('layer4_0_2_conv').getWeights()[0]) / Math.sqrt(2 / (9 * 512)) - 1) < 0.02);
    // nn.Linear default: U(±1/√512) for kernel and bias.
    const [fc, fcBias] = resnet.getLayer('head_fc').getWeights().map((t) => t.dataSync());
    const bound = 1 / Math.sqrt(512);
    assert.ok(fc.every((v) => Math.abs(v) <= bound) && Math.abs(Math.max(...fc) / bound - 1) < 0.01);
    assert.ok(fcBias.every((v) => Math.abs(v) <= bound) && fcBias.some((v) => v !== 0));
    // MobileNetV2: depthwise fan_out = 9·C (PyTorch weight [C, 1, 3, 3]); Dense N(0, 0.01²).
    const dw = mobile.getLayer('block16_dw_conv').getWeights()[0];
    assert.ok(Math.abs(std(dw) / Math.sqrt(2 / (9 * (dw.shape[2] as number))) - 1) < 0.05);
    assert.ok(Math.abs(std(mobile.getLayer('head_fc').getWeights()[0]) / 0.01 - 1) < 0.02);
    // XResNet: fan_in (fastai init_cnn); the branch's last BN starts at γ = 0, the others at 1.
    assert.ok(Math.abs(std(xres.getLayer('layer4_1_1_conv').getWeights()[0]) / Math.sqrt(2 / (9 * 256)) - 1) < 0.03);
    for (const layer of xres.layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
      const gamma = layer.getWeights()[0].dataSync();
      const zero = /^layer\d_\d_2_bn$/.test(layer.name);
      assert.ok(gamma.every((v) => v === (zero ? 0 : 1)), `${layer.name}: γ ${zero ? 0 : 1}`);
    }
  } finally {
    resnet.dispose(); xres.dispose(); mobile.dispose();
  }
  assert.throws(() => buildModel(tinyConfig('xresnet18', { xresnetActivation: 'gelu' as 'mish' })), /xresnetActivation must be 'relu' or 'mish', got 'gelu'/);
  // The per-family options leave the other networks as they are (a run may mix them).
  const plain = buildModel(tinyConfig('resnet18'));
  const withOptions = buildModel(tinyConfig('resnet18', { xresnetActivation: 'mish', mobilenetChannelStem: true }));
  assert.deepEqual(withOptions.layers.map((l) => l.getClassName()), plain.layers.map((l) => l.getClassName()));
  plain.dispose(); withOptions.dispose();
  assert.throws(() => buildModel(tinyConfig('cnn7th', { inputFrames: 8 })), /at least 16×9 for cnn7th/);
});

/**
 * Every network, and each option (the options on the fixed batch only, to keep this file fast).
 * The epoch's clips (24–53 frames) include some narrower than Cnn14's minimum input (32 frames):
 * its validation pads them to that width (lib/infer/windows planWindows) instead of pooling
 * them to nothing.
 */
const TRAIN_CASES: Array<{ arch: string; over?: Partial<ModelConfig>; epoch: boolean }> = [
  ...architectureNames().map((arch) => ({ arch, epoch: true })),
  { arch: 'mobilenetv2', over: { mobilenetChannelStem: true }, epoch: false },
  { arch: 'xresnet18', over: { xresnetActivation: 'mish' }, epoch: false },
];

let wasm: BackendInfo | null = null;
async function onWasm(): Promise<BackendInfo> {
  wasm ??= await initWasmBackend();
  await tf.setBackend(wasm.name);
  return wasm;
}

for (const { arch, over, epoch } of TRAIN_CASES) {
  const label = `${arch}${over ? ` ${JSON.stringify(over)}` : ''}`;
  test(`${label} trains on wasm: loss falls over 20 steps on a fixed batch${epoch ? '; one epoch of fit on a tiny set' : ''}`, async () => {
    await onWasm();
    const cfg = tinyConfig(arch, over);
    const model = buildModel(cfg, { seed: 1 });
    const rng = new Rng(5);
    const B = 4;
    const bx = new Float32Array(B * 32 * 32).map(() => rng.uniform());
    const by = new Float32Array(B * 4).map((_, i) => (i % 5 === 0 ? 1 : 0));
    const opt = new AdamW(trainableVariables(model), { ...OPTIMIZER_DEFAULTS, weightDecay: 0 });
    const losses: number[] = [];
    try {
      for (let s = 0; s < 20; s++) losses.push(trainStep(model, opt, { x: bx, y: by }, B, B, { lr: 3e-3, beta1: 0.9 }, rng));
      assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
      assert.ok(losses[19] < 0.7 * losses[0], `loss ${losses[0]} → ${losses[19]}`);
    } finally {
      opt.dispose();
      model.dispose();
    }
    if (!epoch) return;
    // One epoch of the real fit loop (crops, mixup, validation) on 8 + 4 clips of varied length.
    const data = new Rng(3);
    const clips: TrainingClip[] = Array.from({ length: 12 }, (_, i) => {
      const frames = 24 + data.int(30);
      const target = new Float32Array(4);
      target[i % 4] = 1;
      if (i % 3 === 0) target[(i + 1) % 4] = 1; // multi-label clips too
      return { fname: `c${i}.wav`, image: { nMels: 32, frames, data: new Uint8Array(32 * frames).map(() => data.int(256)) }, target };
    });
    const fitModel = buildModel(cfg, { seed: 2 });
    try {
      const res = await fit({
        model: fitModel, trainClips: clips.slice(0, 8), validClips: clips.slice(8), cropFrames: cfg.inputFrames,
        train: { ...TRAIN_DEFAULTS, epochs: 1, batchSize: 4, microBatchSize: 4, seed: 1 }, optimizer: OPTIMIZER_DEFAULTS,
      });
      assert.equal(res.steps, 2);
      assert.equal(res.history.length, 1);
      const log = res.history[0];
      assert.ok([log.trainLoss, log.validLoss, log.validLwlrap].every((v) => Number.isFinite(v ?? NaN)), JSON.stringify(log));
    } finally {
      fitModel.dispose();
    }
  });
}

test('a run folder with mixed architectures (1- and 3-channel inputs, a custom Mish layer) is one ensemble', async () => {
  await tf.setBackend('cpu');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fat2019-zoo-'));
  const runDir = path.join(root, 'run');
  const vocab = ['A', 'B', 'C', 'D'];
  const config = withDefaults(CONFIG_DEFAULTS, {
    model: tinyConfig('cnnModel1'),
    pipeline: { ensembleStages: [2] },
    infer: { windowFrames: 32, windowShift: 16, batchSize: 3 },
  });
  const members: Array<[string, Partial<ModelConfig>]> = [
    ['cnnModel1', {}], ['resnet18', {}], ['mobilenetv2', { mobilenetChannelStem: true }], ['xresnet18', { xresnetActivation: 'mish' }], ['cnn7th', {}],
  ];
  try {
    writeRunInfo(runDir, { version: 1, config, vocabulary: vocab, dataDir: root, createdAt: new Date(0).toISOString() });
    for (const [i, [arch, over]] of members.entries()) {
      const model = buildModel(tinyConfig(arch, over), { seed: 10 + i });
      await saveModel(model, path.join(foldDir(runDir, arch, 2, 0), 'best'));
      model.dispose();
      writeFoldDone(runDir, { arch, stage: 2, fold: 0, epochs: 1, bestValidLwlrap: 0.5, trainClips: 1, validClips: 1, seconds: 1, finishedAt: new Date(0).toISOString() });
    }
    const images = [0, 1].map((seed) => {
      const r = new Rng(seed);
      const frames = 32 + 20 * seed;
      return { nMels: 32, frames, data: new Uint8Array(32 * frames).map(() => r.int(256)) };
    });
    const ensemble = await loadEnsemble(runDir);
    try {
      assert.deepEqual(ensemble.members.map((m) => m.arch).sort(), members.map(([a]) => a).sort());
      const mixed = await predictImages(ensemble, images);
      // The arithmetic mean of the five members = the mean of each member alone.
      const singles = await Promise.all(members.map(async ([arch]) => {
        const one = await loadEnsemble(runDir, { archs: [arch] });
        try { return await predictImages(one, images); } finally { one.dispose(); }
      }));
      for (let i = 0; i < mixed.length; i++) {
        const mean = singles.reduce((s, p) => s + p[i], 0) / singles.length;
        assert.ok(Math.abs(mixed[i] - mean) < 1e-6, `[${i}] ${mixed[i]} vs ${mean}`);
      }
      // The 1-channel member gets the image itself: its window score is its own forward pass.
      const stem = await loadModel(path.join(foldDir(runDir, 'mobilenetv2', 2, 0), 'best'));
      assert.deepEqual(stem.inputs[0].shape, [null, 32, 32, 1]);
      const direct = tf.tidy(() => tf.sigmoid(stem.predict(tf.tensor4d(Float32Array.from(images[0].data, (v) => v / 255), [1, 32, 32, 1])) as tf.Tensor).dataSync());
      stem.dispose();
      const stemIndex = members.findIndex(([a]) => a === 'mobilenetv2');
      direct.forEach((p, c) => assert.ok(Math.abs(singles[stemIndex][c] - p) < 1e-6, `class ${c}: ${singles[stemIndex][c]} vs ${p}`));
    } finally {
      ensemble.dispose();
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
