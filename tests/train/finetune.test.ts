/**
 * Fine-tuning from a pretrained run (lib/train/finetune, `fat2019 train --from`): weights moved
 * by name (head kept only for the same classes), the body frozen with BatchNorm trainable
 * (fastai's train_bn), discriminative learning rates in AdamW, the fine_tune schedule in the
 * pipeline (phase 1 in <fold>/frozen/, then every layer), the linear probe, and the config the
 * new run inherits (preprocessing, network).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { encodeWavPcm16 } from '../../lib/audio/index';
import { buildModel } from '../../lib/models/index';
import { OPTIMIZER_DEFAULTS, PANNS_PREPROCESS } from '../../lib/config';
import { AdamW } from '../../lib/train/adamw';
import { discriminativeLr, freezeBody, isHeadLayer, transferWeights } from '../../lib/train/finetune';
import { trainConfig } from '../../lib/train/pipeline/trainConfig';
import { runPipeline } from '../../lib/train/pipeline/runPipeline';
import { findRunMembers, readRunInfo } from '../../lib/run/runFolder';
import { readModelArtifacts, saveModel } from '../../lib/runtime/modelFile';
import { Rng } from '../../lib/util/rng';
import { tinyConfig } from '../support/pipelineFixture';

const SR = 8000;
const TONES: Record<string, number> = { cat: 300, dog: 900, bird: 2400 };
let root = '';
let cacheDir = '';

function writeFolderPerClass(dir: string, classes: string[], perClass: number, seed: number): void {
  const rng = new Rng(seed);
  for (const label of classes) {
    for (let i = 0; i < perClass; i++) {
      const n = Math.round((0.4 + 0.1 * i) * SR);
      const x = new Float32Array(n);
      const phase = rng.uniform() * 2 * Math.PI;
      for (let k = 0; k < n; k++) x[k] = 0.3 * Math.sin(2 * Math.PI * TONES[label] * (k / SR) + phase) + 0.01 * (rng.uniform() - 0.5);
      fs.mkdirSync(path.join(dir, 'train', label), { recursive: true });
      fs.writeFileSync(path.join(dir, 'train', label, `${label}${i}.wav`), encodeWavPcm16(x, SR));
    }
  }
}

/** name → values of every weight saved in a model folder. */
function savedWeights(dir: string): Map<string, Float32Array> {
  const a = readModelArtifacts(dir);
  const named = tf.io.decodeWeights(a.weightData!, a.weightSpecs!);
  const out = new Map<string, Float32Array>();
  for (const [k, t] of Object.entries(named)) { out.set(k, Float32Array.from(t.dataSync())); t.dispose(); }
  return out;
}

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => v === b[i]);
const tiny = (numClasses: number) => tinyConfig({ model: { numClasses } }).model;

before(async () => {
  await tf.setBackend('cpu');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fat2019-finetune-'));
  cacheDir = path.join(root, 'cache');
});
after(() => { if (root) fs.rmSync(root, { recursive: true, force: true }); });

test('transferWeights: the body by name; the head too for the same classes, fresh for others', async () => {
  const source = buildModel(tiny(3), { seed: 1 });
  const dir = path.join(root, 'src-model');
  await saveModel(source, dir);
  const saved = savedWeights(dir);
  const same3 = buildModel(tiny(3), { seed: 2 });
  const r3 = transferWeights(same3, dir, 'cnnModel1');
  assert.equal(r3.keptHead, true);
  for (const w of same3.weights) assert.ok(same(w.read().dataSync() as Float32Array, saved.get(w.originalName)!), w.originalName);
  const other = buildModel(tiny(2), { seed: 2 });
  const fresh = buildModel(tiny(2), { seed: 2 });
  const r2 = transferWeights(other, dir, 'cnnModel1');
  assert.equal(r2.keptHead, false);
  assert.ok(r2.newHead.includes('head_fc2/kernel'));
  other.weights.forEach((w, i) => {
    const want = isHeadLayer('cnnModel1', w.originalName.split('/')[0]) ? fresh.weights[i].read().dataSync() as Float32Array : saved.get(w.originalName)!;
    assert.ok(same(w.read().dataSync() as Float32Array, want), w.originalName);
  });
  // another width: the body does not fit, named
  const wide = buildModel({ ...tiny(3), widthMultiplier: 0.125 });
  assert.throws(() => transferWeights(wide, dir, 'cnnModel1'), /weights\.bin: the source has block1_1_conv\/kernel of shape \[3,3,3,4\], the network needs \[3,3,3,8\]/);
  [source, same3, other, fresh, wide].forEach((m) => m.dispose());
});

test('freezeBody keeps BatchNorm and the head trainable (fastai train_bn); PANNs\' head is fc_audioset', () => {
  const model = buildModel(tiny(3));
  const all = model.trainableWeights.length;
  const unfreeze = freezeBody(model, 'cnnModel1');
  const names = model.trainableWeights.map((w) => w.originalName);
  assert.ok(names.length < all);
  assert.ok(names.every((n) => n.startsWith('head_') || /_bn\//.test(n)), names.join(' '));
  assert.ok(names.some((n) => /block1_1_bn\/gamma/.test(n)) && names.includes('head_fc2/kernel'));
  unfreeze();
  assert.equal(model.trainableWeights.length, all);
  model.dispose();
  assert.equal(isHeadLayer('pannsCnn14', 'fc_audioset'), true);
  assert.equal(isHeadLayer('pannsCnn14', 'fc1'), false);
});

test('AdamW lrScale: a parameter at lr / 100 moves 100 times less (discriminative learning rates)', () => {
  const a = tf.variable(tf.tensor1d([1, 1]));
  const b = tf.variable(tf.tensor1d([1, 1]));
  const opt = new AdamW([{ name: 'body/kernel', variable: a }, { name: 'head/kernel', variable: b }], { ...OPTIMIZER_DEFAULTS, weightDecay: 0.01 });
  opt.lrScale = Float64Array.from([0.01, 1]);
  const g = tf.tensor1d([0.5, -2]);
  opt.step([g, g], { lr: 1e-2, beta1: 0.9 });
  const da = a.dataSync().map((v) => v - 1);
  const db = b.dataSync().map((v) => v - 1);
  for (let i = 0; i < 2; i++) assert.ok(Math.abs(da[i] / db[i] - 0.01) < 1e-4, `${da[i]} vs ${db[i]}`);
  const model = buildModel(tiny(3));
  const mult = discriminativeLr(model, 'cnnModel1', 100);
  assert.equal(mult('head_fc2/kernel'), 1);
  assert.equal(mult('block1_1_conv/kernel'), 0.01);
  model.dispose();
  opt.dispose();
  tf.dispose([a, b, g]);
});

test('train --from <run>: inherits the source\'s preprocessing and network; a new head for 2 classes; phase 1 trains only BN and head; the linear probe never moves the body', async () => {
  const srcData = path.join(root, 'src-data');
  writeFolderPerClass(srcData, ['cat', 'dog', 'bird'], 4, 1);
  const srcRun = path.join(root, 'src-run');
  const srcConfig = tinyConfig({ task: { name: 'singleLabel' }, model: { numClasses: 3 }, pipeline: { recipe: 'single', folds: 1, stageEpochs: [1, 1, 1, 1], ensembleStages: [1] } });
  await runPipeline({ runDir: srcRun, dataDir: srcData, cacheDir, config: srcConfig });
  const srcWeights = savedWeights(findRunMembers(srcRun)[0].modelDir);

  const dstData = path.join(root, 'dst-data');
  writeFolderPerClass(dstData, ['cat', 'dog'], 4, 2);
  const { detectLayout } = await import('../../lib/data/layout');
  const layout = detectLayout(dstData);
  // trainConfig: --from takes the source's preprocessing and network, the data's classes
  const cfg = trainConfig(path.join(root, 'dst-run'), dstData, { from: srcRun, recipe: 'single', folds: '1', epochs: '1' }, layout);
  assert.deepEqual(cfg.preprocess, readRunInfo(srcRun).config.preprocess);
  assert.equal(cfg.model.widthMultiplier, srcConfig.model.widthMultiplier);
  assert.equal(cfg.model.inputMels, 32);
  assert.equal(cfg.model.numClasses, 2);
  assert.equal(cfg.finetune.from, srcRun);
  assert.throws(() => trainConfig(path.join(root, 'x'), dstData, { from: srcRun, arch: 'vgg16bn' }, layout), /--arch vgg16bn differs from the --from run's network cnnModel1/);
  assert.throws(() => trainConfig(path.join(root, 'x'), dstData, { 'freeze-body': true }, layout), /go with --from/);
  assert.throws(() => trainConfig(path.join(root, 'x'), dstData, { from: path.join(root, 'nope') }, layout), /not a run folder/);

  // fine_tune: phase 1 (frozen/) moves only BatchNorm and the head, phase 2 everything
  const dstRun = path.join(root, 'dst-run');
  const config = { ...cfg, task: { ...cfg.task, name: 'singleLabel' as const }, pipeline: { ...cfg.pipeline, ensembleStages: [1] }, train: { ...cfg.train, batchSize: 4 } };
  await runPipeline({ runDir: dstRun, dataDir: dstData, cacheDir, config });
  const frozen = savedWeights(path.join(dstRun, 'cnnModel1', 'stage1', 'fold0', 'frozen', 'last'));
  const final = savedWeights(findRunMembers(dstRun)[0].modelDir);
  let convs = 0;
  for (const [name, src] of srcWeights) {
    if (/_conv\/kernel$/.test(name)) {
      convs++;
      assert.ok(same(frozen.get(name)!, src), `${name} unchanged while frozen`);
      assert.ok(!same(final.get(name)!, src), `${name} trained in phase 2`);
    }
  }
  assert.ok(convs >= 4);
  assert.ok(!same(frozen.get('block1_1_bn/gamma')!, srcWeights.get('block1_1_bn/gamma')!), 'BatchNorm trains while the body is frozen');
  assert.equal(final.get('head_fc2/bias')!.length, 2);
  assert.deepEqual(readRunInfo(dstRun).vocabulary, ['cat', 'dog']);

  // --freeze-body: a linear probe; the body is the source's at the end
  const probeRun = path.join(root, 'probe-run');
  const probeCfg = trainConfig(probeRun, dstData, { from: srcRun, 'freeze-body': true, recipe: 'single', folds: '1', epochs: '1' }, layout);
  await runPipeline({ runDir: probeRun, dataDir: dstData, cacheDir, config: { ...probeCfg, task: { ...probeCfg.task, name: 'singleLabel' }, pipeline: { ...probeCfg.pipeline, ensembleStages: [1] } } });
  const probe = savedWeights(findRunMembers(probeRun)[0].modelDir);
  for (const [name, src] of srcWeights) if (/_conv\/kernel$/.test(name)) assert.ok(same(probe.get(name)!, src), `${name} is the source's`);
  assert.equal(fs.existsSync(path.join(probeRun, 'cnnModel1', 'stage1', 'fold0', 'frozen')), false, 'no separate phase 1');
});

test('a PANNs source keeps its front end: inheritFromSource copies PANNS_PREPROCESS', async () => {
  const { inheritFromSource } = await import('../../lib/train/finetune');
  const { importWeights } = await import('../../lib/run/importWeights');
  const src = path.join(root, 'panns-src');
  await importWeights(src, [{ file: path.join(__dirname, '..', 'fixtures', 'panns', 'Cnn10_w16.pth'), stage: 1, fold: 0 }], { arch: 'pannsCnn10', vocabulary: Array.from({ length: 10 }, (_, i) => `c${i}`) });
  const cfg = inheritFromSource(tinyConfig({ model: { numClasses: 4 } }), src, src);
  assert.deepEqual(cfg.preprocess, { ...PANNS_PREPROCESS });
  assert.equal(cfg.model.arch, 'pannsCnn10');
  assert.equal(cfg.model.numClasses, 4);
  assert.equal(cfg.model.inputMels, 64);
});

test('train --from a PANNs checkpoint: dB inputs train (crop, no lighting), the body moves, a new head for the data\'s classes', async () => {
  const { resolveFinetuneSource } = await import('../../lib/train/finetune');
  const dstData = path.join(root, 'panns-dst');
  writeFolderPerClass(dstData, ['cat', 'dog'], 3, 4);
  const runDir = path.join(root, 'panns-ft');
  const file = path.join(__dirname, '..', 'fixtures', 'panns', 'Cnn10_w16.pth');
  await assert.rejects(resolveFinetuneSource(file, runDir, undefined), /a PyTorch file needs --arch/);
  const src = await resolveFinetuneSource(file, runDir, 'pannsCnn10');
  assert.equal(src, path.join(runDir, 'source'));
  const { detectLayout } = await import('../../lib/data/layout');
  const cfg = trainConfig(runDir, dstData, { from: src, recipe: 'single', folds: '1', epochs: '1', arch: 'pannsCnn10' }, detectLayout(dstData));
  assert.equal(cfg.preprocess.output, 'db');
  assert.equal(cfg.augment.lighting.enabled, false);
  // short crops and windows keep the test fast (the imported run's are 10 s)
  const config = {
    ...cfg, task: { ...cfg.task, name: 'singleLabel' as const }, model: { ...cfg.model, inputFrames: 48 },
    infer: { ...cfg.infer, windowFrames: 48, windowShift: 24 }, train: { ...cfg.train, batchSize: 3 }, pipeline: { ...cfg.pipeline, ensembleStages: [1] },
  };
  await runPipeline({ runDir, dataDir: dstData, cacheDir, config });
  const srcWeights = savedWeights(findRunMembers(src)[0].modelDir);
  const final = savedWeights(findRunMembers(runDir, { archs: ['pannsCnn10'] })[0].modelDir);
  assert.equal(final.get('fc_audioset/bias')!.length, 2);
  assert.ok(!same(final.get('conv_block1_conv1/kernel')!, srcWeights.get('conv_block1_conv1/kernel')!));
  assert.ok(final.get('fc_audioset/kernel')!.every(Number.isFinite));
});
