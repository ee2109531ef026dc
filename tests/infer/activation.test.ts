/**
 * The task's output activation (sigmoid / softmax, log forms) and the in-memory predictor
 * training calls (predictClipImages): compared with a direct per-window tfjs computation and
 * with the ensemble predictor on the same model.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { CONFIG_DEFAULTS, withDefaults } from '../../lib/config';
import type { ClipImage } from '../../lib/features/types';
import { buildModel } from '../../lib/models/index';
import { activate, activateRow, chooseEngine, ensembleFromModels, predictClipImages, predictImages, predictModelClips, windowStarts } from '../../lib/infer/index';
import { centreStart } from '../../lib/runtime/windows';
import { Rng } from '../../lib/util/rng';

const CONFIG = withDefaults(CONFIG_DEFAULTS, { model: { numClasses: 4, widthMultiplier: 0.0625, inputMels: 32 }, infer: { batchSize: 3 } });

before(async () => {
  await tf.setBackend('cpu');
});

function image(frames: number, seed: number, nMels = 32): ClipImage {
  const rng = new Rng(seed);
  const data = new Uint8Array(nMels * frames);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { nMels, frames, data };
}

/** Logits of one window of `img` at `start` (one forward pass, tfjs ops only). */
function windowLogits(model: tf.LayersModel, img: ClipImage, start: number): Float32Array {
  const x = new Float32Array(img.nMels * 128);
  const pad = img.frames < 128 ? Math.floor((128 - img.frames) / 2) : 0;
  for (let m = 0; m < img.nMels; m++) {
    for (let t = 0; t < Math.min(128, img.frames); t++) x[m * 128 + pad + t] = img.data[m * img.frames + start + t] / 255;
  }
  return tf.tidy(() => (model.predict(tf.tensor4d(x, [1, img.nMels, 128, 1]).tile([1, 1, 1, 3])) as tf.Tensor).dataSync() as Float32Array);
}

test('activate: sigmoid and softmax agree with tfjs; log forms stay finite for extreme logits', () => {
  const logits = new Float32Array([-3, 0, 2.5, 7, 1, -1, 0.5, 40]);
  const sig = activate(logits, 4, 'sigmoid');
  const soft = activate(logits, 4, 'softmax');
  const tfSig = tf.tidy(() => tf.sigmoid(tf.tensor2d(logits, [2, 4])).dataSync());
  const tfSoft = tf.tidy(() => tf.softmax(tf.tensor2d(logits, [2, 4])).dataSync());
  for (let i = 0; i < logits.length; i++) {
    assert.ok(Math.abs(sig[i] - tfSig[i]) < 1e-6, `sigmoid ${i}`);
    assert.ok(Math.abs(soft[i] - tfSoft[i]) < 1e-6, `softmax ${i}`);
  }
  assert.ok(Math.abs(soft[0] + soft[1] + soft[2] + soft[3] - 1) < 1e-6);
  const row = new Float64Array(2);
  activateRow([-800, 800], 0, 2, 'sigmoid', true, row);
  assert.ok(Math.abs(row[0] + 800) < 1e-9 && Math.abs(row[1]) < 1e-9, `log σ: ${row}`);
  activateRow([-800, 800], 0, 2, 'softmax', true, row);
  assert.ok(Math.abs(row[0] + 1600) < 1e-9 && Math.abs(row[1]) < 1e-9, `log softmax: ${row}`);
  assert.throws(() => activate(logits, 4, 'relu' as never), /activation must be 'sigmoid' or 'softmax', got 'relu'/);
});

test('predictClipImages: sliding and centre windows, sigmoid and softmax, = direct computation and = the ensemble predictor; no leaks', async () => {
  const model = buildModel(CONFIG.model, { seed: 3 });
  const images = [image(300, 1), image(90, 2), image(129, 3)];
  const before = tf.memory().numTensors;
  const C = 4;
  for (const activation of ['sigmoid', 'softmax'] as const) {
    const sliding = predictClipImages(model, images, { windowShift: 48, batchSize: 4, activation });
    const centre = predictClipImages(model, images, { mode: 'centre', activation });
    images.forEach((img, i) => {
      const perWindow = windowStarts(img.frames, 128, 48).map((s) => activate(windowLogits(model, img, s), C, activation));
      const c = activate(windowLogits(model, img, centreStart(img.frames, 128)), C, activation);
      for (let k = 0; k < C; k++) {
        const mean = perWindow.reduce((a, p) => a + p[k], 0) / perWindow.length;
        assert.ok(Math.abs(sliding[i * C + k] - mean) < 1e-5, `${activation} sliding clip ${i} class ${k}: ${sliding[i * C + k]} vs ${mean}`);
        assert.ok(Math.abs(centre[i * C + k] - c[k]) < 1e-5, `${activation} centre clip ${i} class ${k}`);
      }
    });
    const ensemble = ensembleFromModels([model], ['a', 'b', 'c', 'd'], CONFIG);
    const viaEnsemble = await predictImages(ensemble, images, { activation });
    for (let j = 0; j < sliding.length; j++) assert.ok(Math.abs(viaEnsemble[j] - sliding[j]) < 1e-6);
  }
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  assert.throws(() => predictClipImages(model, [image(200, 1, 16)], { names: ['x.wav'] }), /x\.wav: image has 16 mel bands, the model expects 32/);
  assert.throws(() => predictClipImages(model, images, { windowFrames: 100 }), /windowFrames \(100\) must equal the model input width 128/);
  assert.equal(predictClipImages(model, []).length, 0);
  model.dispose();
});

test('predictModelClips (out-of-fold predictor): ONNX Runtime on the model exported in memory = predictClipImages within 1e-4; tfjs engine = exactly it', async () => {
  const model = buildModel(CONFIG.model, { seed: 4 });
  const images = [image(260, 5), image(100, 6)];
  const ref = predictClipImages(model, images, { activation: 'softmax', batchSize: 2 });
  const viaTfjs = await predictModelClips(model, images, { activation: 'softmax', batchSize: 2, engine: 'tfjs' });
  assert.deepEqual([...viaTfjs], [...ref]);
  if (chooseEngine('auto').engine === 'ort') {
    const viaOrt = await predictModelClips(model, images, { activation: 'softmax', batchSize: 2, engine: 'ort' });
    for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(viaOrt[i] - ref[i]) < 1e-4, `[${i}] ${viaOrt[i]} vs ${ref[i]}`);
  }
  model.dispose();
});
