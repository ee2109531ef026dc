/**
 * The model zoo (lib/models registry): every registered network's trainable parameter count
 * equals its PyTorch reference (tests/fixtures/param-counts.json, written by
 * scripts/torch-param-counts.py from bench/torch_models.py), reference initialisation, options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { MODEL_DEFAULTS, type ModelConfig } from '../lib/config';
import { architectureNames, buildModel, countTrainableParams } from '../lib/models';

interface FixtureRow { arch: string; width: number; options: { channel_stem?: boolean; mish?: boolean }; trainableParams: number }
const FIXTURE = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'param-counts.json'), 'utf8')) as {
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
  test(`${label}: ${row.trainableParams.toLocaleString('en')} trainable parameters at 3x128x128, 80 classes, as PyTorch`, async () => {
    await tf.setBackend('cpu');
    const cfg: ModelConfig = {
      ...MODEL_DEFAULTS, arch: row.arch, numClasses: FIXTURE.numClasses,
      inputMels: FIXTURE.input[1], inputFrames: FIXTURE.input[2], widthMultiplier: row.width,
      channelStem: row.options.channel_stem ?? false, activation: row.options.mish ? 'mish' : 'relu',
    };
    const model = buildModel(cfg);
    try {
      assert.equal(countTrainableParams(model), row.trainableParams);
      assert.deepEqual(model.outputs[0].shape, [null, FIXTURE.numClasses]);
      assert.equal(model.inputs[0].shape[3], row.options.channel_stem ? 1 : 3);
    } finally {
      model.dispose();
    }
  });
}
