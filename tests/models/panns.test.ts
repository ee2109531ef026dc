/**
 * PANNs (Kong et al. 2020): the networks (lib/models/panns), their import by state_dict name
 * (lib/models/import/panns), the front end (PANNS_PREPROCESS: dB output, no trim), whole-clip
 * inference and `fat2019 import-weights` / `tag` on an imported run. Oracle: PyTorch and
 * torchaudio, through scripts/make-panns-fixtures.py (the paper's model code, random weights and
 * BatchNorm statistics, committed in tests/fixtures/panns).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadTorchFile } from '../../lib/io/torchFile';
import { readCheckpoint } from '../../lib/models/import/torchCheckpoint';
import { networkFromCheckpoint } from '../../lib/models/import/toNetwork';
import { audiosetClassNames } from '../../lib/models/import/audioset';
import { buildModel, countTrainableParams } from '../../lib/models/index';
import { PANNS_PREPROCESS, PREPROCESS_DEFAULTS, MODEL_DEFAULTS, checkPreprocessConfig } from '../../lib/config';
import { loadAudioFile } from '../../lib/audio/index';
import { clipImageFromSamples } from '../../lib/features/logmel';
import { decodeClipImage, encodeClipImage, FEATURE_CACHE_VERSION, preprocessConfigHash } from '../../lib/data/featureCache';
import { PANNS_INFER } from '../../lib/run/importWeights';
import { readRunInfo } from '../../lib/run/runFolder';
import { loadEnsemble, predictImages } from '../../lib/infer/index';
import { planWindows, windowBatches, fillWindowBatch } from '../../lib/infer/windows';
import { importWeightsCommand } from '../../lib/cli/importWeights';
import { tagCommand } from '../../lib/cli/tag';
import { runCommand } from '../../lib/cli/command';
import { exportModelBytes } from '../../lib/export/onnxFile';
import { ortNetwork } from '../../lib/infer/network';
import { loadOnnxRuntime } from '../../lib/runtime/onnxRuntime';
import type { ClipImage } from '../../lib/features/types';
import { scoreClipWindows } from '../../lib/web/windowScores';
import { INFER_DEFAULTS } from '../../lib/config';

const DIR = join(__dirname, '..', 'fixtures', 'panns');
const fixture = (name: string) => join(DIR, name);
interface ExpectedModel { file: string; arch: string; widthMultiplier: number; numClasses: number; logitsClip: number[]; logitsInput2: number[] }
interface Expected {
  sampleRate: number;
  clip: string;
  logmel: { file: string; mels: number; frames: number };
  input2: { file: string; mels: number; frames: number };
  models: ExpectedModel[];
  fullSizeParams: Record<string, number>;
}
const EXPECTED = JSON.parse(readFileSync(fixture('expected.json'), 'utf8')) as Expected;
const f32 = (name: string): Float32Array => {
  const b = readFileSync(fixture(name));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
};
const LOGMEL = f32(EXPECTED.logmel.file);
const INPUT2 = f32(EXPECTED.input2.file);
/** The tolerance on logits: float32 sums in another order. */
const TOL = 1e-4;
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

let root = '';
before(async () => {
  await tf.setBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'fat2019-panns-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function logitsOf(model: tf.LayersModel, db: Float32Array, frames: number): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor4d(db, [1, 64, frames, 1])) as tf.Tensor).dataSync() as Float32Array);
}

test('front end: PANNS_PREPROCESS on the test clip equals torchaudio\'s float64 Slaney mel spectrogram in dB (no trim, no clip)', async () => {
  checkPreprocessConfig(PANNS_PREPROCESS);
  const samples = await loadAudioFile(fixture(EXPECTED.clip), { sampleRate: PANNS_PREPROCESS.sampleRate });
  const img = clipImageFromSamples(samples, PANNS_PREPROCESS);
  assert.ok(img.data instanceof Float32Array, 'a dB matrix, not a uint8 image');
  assert.equal(img.nMels, EXPECTED.logmel.mels);
  assert.equal(img.frames, EXPECTED.logmel.frames, 'whole clip: 1 + floor(n / 320) frames, nothing trimmed');
  const err = maxDiff(img.data, LOGMEL);
  assert.ok(err < 1e-3, `max dB difference ${err}`);
  // the fade-in's quiet start is kept (a reference-config trim would cut it) and not clipped at max − 80 dB
  assert.ok(Math.min(...img.data) < Math.max(...img.data) - 80);
});

for (const m of EXPECTED.models) {
  test(`${m.arch} (${m.file}): imported by state_dict name, logits equal PyTorch's within ${TOL}`, () => {
    const ckpt = readCheckpoint(loadTorchFile(fixture(m.file)));
    const { model, config } = networkFromCheckpoint(ckpt, m.arch, m.file);
    try {
      assert.equal(config.widthMultiplier, m.widthMultiplier);
      assert.equal(config.numClasses, m.numClasses);
      const clip = logitsOf(model, LOGMEL, EXPECTED.logmel.frames);
      const other = logitsOf(model, INPUT2, EXPECTED.input2.frames);
      assert.ok(maxDiff(clip, m.logitsClip) < TOL, `clip: ${maxDiff(clip, m.logitsClip)}`);
      assert.ok(maxDiff(other, m.logitsInput2) < TOL, `input2 (${EXPECTED.input2.frames} frames): ${maxDiff(other, m.logitsInput2)}`);
      // the input path is live: bn0's γ × 1.1 moves the logits far beyond the tolerance
      const bn0 = model.getLayer('bn0');
      const w = bn0.getWeights();
      const scaled = w[0].mul(1.1);
      bn0.setWeights([scaled, ...w.slice(1)]);
      scaled.dispose();
      const moved = maxDiff(logitsOf(model, LOGMEL, EXPECTED.logmel.frames), clip);
      assert.ok(moved > 10 * TOL, `bn0 γ × 1.1 moves the logits by ${moved} only`);
    } finally {
      model.dispose();
    }
  });
}

test('PANNs import: a file of another variant or width is refused naming the key', () => {
  const cnn10 = readCheckpoint(loadTorchFile(fixture('Cnn10_w16.pth')));
  assert.throws(() => networkFromCheckpoint(cnn10, 'pannsCnn14', 'Cnn10_w16.pth'), /Cnn10_w16\.pth: no conv_block5\.conv1\.weight .*try --arch pannsCnn10/);
  assert.throws(() => networkFromCheckpoint(cnn10, 'pannsCnn6', 'Cnn10_w16.pth'), /Cnn10_w16\.pth: .*conv_block1\.conv2\.weight.*try --arch pannsCnn10/);
  const cnn14 = readCheckpoint(loadTorchFile(fixture('Cnn14_w32.pth')));
  assert.throws(() => networkFromCheckpoint(cnn14, 'pannsCnn10', 'Cnn14_w32.pth'), /state_dict key\(s\) that pannsCnn10 \(Cnn10\) does not have: conv_block5/);
});

test('PANNs networks at full size: PyTorch\'s trainable parameter counts (527 classes), any number of frames', () => {
  for (const [arch, want] of Object.entries(EXPECTED.fullSizeParams)) {
    const model = buildModel({ ...MODEL_DEFAULTS, arch, inputMels: 64, inputFrames: 1001, numClasses: 527 });
    try {
      assert.equal(countTrainableParams(model), want, arch);
      assert.equal(model.inputs[0].shape[2], null, `${arch} takes any number of frames`);
    } finally {
      model.dispose();
    }
  }
});

test('float images: the feature cache stores dB values exactly; the reference config\'s cache folder is unchanged', () => {
  const img: ClipImage = { nMels: 2, frames: 3, data: new Float32Array([-100, -20.5, 3.25, 0, -1e-3, 7]) };
  const back = decodeClipImage(encodeClipImage(img), 'x');
  assert.ok(back.data instanceof Float32Array);
  assert.deepEqual([...back.data], [...img.data]);
  const u8 = decodeClipImage(encodeClipImage({ nMels: 1, frames: 2, data: new Uint8Array([0, 255]) }), 'y');
  assert.ok(u8.data instanceof Uint8Array);
  // The hash of the reference config, computed as before `output` and `trim` existed.
  const old: Record<string, unknown> = { ...PREPROCESS_DEFAULTS };
  delete old.output;
  delete old.trim;
  const keys = Object.keys(old).sort();
  const oldHash = createHash('sha256').update(JSON.stringify({ featureCacheVersion: FEATURE_CACHE_VERSION, config: old }, ['featureCacheVersion', 'config', ...keys])).digest('hex').slice(0, 12);
  assert.equal(preprocessConfigHash(PREPROCESS_DEFAULTS), oldHash);
  assert.notEqual(preprocessConfigHash(PANNS_PREPROCESS), oldHash);
  assert.notEqual(preprocessConfigHash({ ...PREPROCESS_DEFAULTS, trim: false }), oldHash);
});

test('whole-clip windows: a short clip is one window of its own width; longer ones slide; batches keep one width', () => {
  const img = (frames: number, v: number): ClipImage => ({ nMels: 1, frames, data: new Float32Array(frames).fill(v) });
  const images = [img(40, -50), img(1500, -10), img(40, -60)];
  const windows = planWindows(images, 1001, 500, 'sliding', { minFrames: 32 });
  assert.deepEqual(windows, [{ clip: 0, start: 0, frames: 40 }, { clip: 1, start: 0 }, { clip: 1, start: 499 }, { clip: 2, start: 0, frames: 40 }]);
  // below the network's minimum width a clip is padded up to it, in either mode
  for (const mode of ['sliding', 'centre'] as const) assert.deepEqual(planWindows([img(20, -5)], 1001, 500, mode, { minFrames: 32 }), [{ clip: 0, start: 0, frames: 32 }]);
  assert.throws(() => planWindows(images, 1001, 500, 'sliding', { minFrames: 0 }), /minFrames must be an integer >= 1/);
  assert.deepEqual(windowBatches(windows, 1001, 8).map((b) => [b.frames, b.windows.length]), [[40, 1], [1001, 2], [40, 1]]);
  // without wholeShortClips a float clip is padded with its own minimum (silence in dB), not 0
  const padded = new Float32Array(60);
  fillWindowBatch([{ nMels: 1, frames: 3, data: new Float32Array([-70, -20, -30]) }], [{ clip: 0, start: 0 }], 60, padded);
  assert.equal(padded[0], -70);
  assert.equal(padded[29], -20);
  assert.equal(padded[59], -70);
});

test('import-weights --arch pannsCnn14 <one file>: stage 1 fold 0, the PANNs front end, AudioSet names; tag prints AudioSet labels with PyTorch\'s scores', async () => {
  const runDir = join(root, 'cnn14');
  const code = await runCommand(importWeightsCommand, ['--arch', 'pannsCnn14', '--run', runDir, '--quiet', fixture('Cnn14_w32.pth')]);
  assert.equal(code, 0);
  const info = readRunInfo(runDir);
  const names = audiosetClassNames();
  assert.equal(names.length, 527);
  assert.equal(names[0], 'Speech');
  assert.deepEqual(info.vocabulary, names);
  assert.deepEqual(info.config.preprocess, { ...PANNS_PREPROCESS });
  assert.equal(info.config.infer.windowFrames, PANNS_INFER.windowFrames);
  assert.deepEqual(info.config.pipeline.ensembleStages, [1]);
  assert.equal(info.config.model.arch, 'pannsCnn14');

  // the run's ensemble on the clip's dB matrix = sigmoid of PyTorch's logits (tfjs engine)
  const cnn14 = EXPECTED.models.find((m) => m.arch === 'pannsCnn14')!;
  const want = cnn14.logitsClip.map(sigmoid);
  const ensemble = await loadEnsemble(runDir, { engine: 'tfjs' });
  try {
    const probs = await predictImages(ensemble, [{ nMels: 64, frames: EXPECTED.logmel.frames, data: LOGMEL }]);
    assert.ok(maxDiff(probs, want) < 1e-5, `ensemble vs PyTorch: ${maxDiff(probs, want)}`);
  } finally {
    ensemble.dispose();
  }

  // `fat2019 tag` on the WAV: whole clip, the run's front end, AudioSet labels ranked as PyTorch's scores
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => { out.push(String(chunk)); return true; }) as typeof process.stdout.write;
  let tagCode: number;
  try {
    tagCode = await runCommand(tagCommand, ['--run', runDir, '--backend', 'cpu', '--engine', 'tfjs', '--quiet', '--json', fixture(EXPECTED.clip)]);
  } finally {
    process.stdout.write = write;
  }
  assert.equal(tagCode, 0);
  const tagged = JSON.parse(out.join('')) as Array<{ labels: Array<{ label: string; probability: number }> }>;
  const top = [...want.keys()].sort((a, b) => want[b] - want[a]).slice(0, tagged[0].labels.length);
  assert.deepEqual(tagged[0].labels.map((l) => l.label), top.map((i) => names[i]));
  tagged[0].labels.forEach((l, j) => assert.ok(Math.abs(l.probability - want[top[j]]) < 1e-4, `${l.label}: ${l.probability} vs ${want[top[j]]}`));
});

test('PANNs ONNX export: ONNX Runtime gives the tfjs logits at several clip lengths (bn0 over the mel axis)', async (t) => {
  const ort = loadOnnxRuntime();
  if (!ort.ort) { t.skip(`onnxruntime-node not loadable here: ${ort.reason}`); return; }
  const m = EXPECTED.models.find((x) => x.arch === 'pannsCnn14')!;
  const { model } = networkFromCheckpoint(readCheckpoint(loadTorchFile(fixture(m.file))), m.arch, m.file);
  const net = await ortNetwork(exportModelBytes(model), 'cnn14', { channels: 1, height: 64, width: null, numClasses: 527 }, { threads: 1 });
  try {
    const clip = await net.logits(LOGMEL, 1, 64, EXPECTED.logmel.frames);
    assert.ok(maxDiff(clip, m.logitsClip) < TOL, `clip: ${maxDiff(clip, m.logitsClip)}`);
    const other = await net.logits(INPUT2, 1, 64, EXPECTED.input2.frames);
    assert.ok(maxDiff(other, m.logitsInput2) < TOL, `input2: ${maxDiff(other, m.logitsInput2)}`);
  } finally {
    net.dispose();
    model.dispose();
  }
});

test('browser page scorer (lib/web/windowScores): a short clip whole, a long one in windows, as the ensemble', async () => {
  const m = EXPECTED.models.find((x) => x.arch === 'pannsCnn14')!;
  const { model } = networkFromCheckpoint(readCheckpoint(loadTorchFile(fixture(m.file))), m.arch, m.file);
  try {
    const infer = { ...INFER_DEFAULTS, ...PANNS_INFER };
    const clip = await scoreClipWindows([model], { nMels: 64, frames: EXPECTED.logmel.frames, data: LOGMEL }, infer, 527);
    assert.deepEqual(clip.starts, [0]);
    assert.ok(maxDiff(clip.clip, m.logitsClip.map(sigmoid)) < 1e-5);
    // 100-frame windows 50 apart over the 121 frames: 2 windows, each the network on its slice
    const small = { ...infer, windowFrames: 100, windowShift: 50 };
    const long = await scoreClipWindows([model], { nMels: 64, frames: EXPECTED.logmel.frames, data: LOGMEL }, small, 527);
    assert.deepEqual(long.starts, [0, 21]);
    const slice = (start: number) => {
      const out = new Float32Array(64 * 100);
      for (let r = 0; r < 64; r++) out.set(LOGMEL.subarray(r * EXPECTED.logmel.frames + start, r * EXPECTED.logmel.frames + start + 100), r * 100);
      return Array.from(logitsOf(model, out, 100), sigmoid);
    };
    const [a, b] = [slice(0), slice(21)];
    assert.ok(maxDiff(long.clip, a.map((v, i) => (v + b[i]) / 2)) < 1e-6);
  } finally {
    model.dispose();
  }
});

test('a clip shorter than Cnn14\'s minimum (32 frames, five 2×2 pools) is padded to it, not pooled to nothing: same scores on every predictor', async () => {
  const { predictClipImages, predictModelClips } = await import('../../lib/infer/modelPredict');
  const { minInputWidth } = await import('../../lib/infer/windowNetwork');
  const m = EXPECTED.models.find((x) => x.arch === 'pannsCnn14')!;
  const { model } = networkFromCheckpoint(readCheckpoint(loadTorchFile(fixture(m.file))), m.arch, m.file);
  try {
    assert.equal(minInputWidth(model), 32);
    // 20 frames of the test clip; by hand: centred in 32 frames, padded with its own minimum (silence in dB)
    const frames = 20;
    const short = new Float32Array(64 * frames);
    for (let b = 0; b < 64; b++) short.set(LOGMEL.subarray(b * EXPECTED.logmel.frames, b * EXPECTED.logmel.frames + frames), b * frames);
    const floor = short.reduce((a, v) => Math.min(a, v), Infinity);
    const padded = new Float32Array(64 * 32).fill(floor);
    for (let b = 0; b < 64; b++) padded.set(short.subarray(b * frames, (b + 1) * frames), b * 32 + 6);
    const want = tf.tidy(() => tf.sigmoid(model.predict(tf.tensor4d(padded, [1, 64, 32, 1])) as tf.Tensor).dataSync());
    assert.ok(want.every(Number.isFinite));
    const images = [{ nMels: 64, frames, data: short }];
    const probs = predictClipImages(model, images, { windowFrames: 1001, windowShift: 500 });
    assert.ok(maxDiff(probs, want) < 1e-5, `tfjs: ${maxDiff(probs, want)}`);
    const page = await scoreClipWindows([model], images[0], { ...INFER_DEFAULTS, ...PANNS_INFER }, 527);
    assert.ok(maxDiff(page.clip, want) < 1e-5, `page: ${maxDiff(page.clip, want)}`);
    if (loadOnnxRuntime().ort) {
      const ort = await predictModelClips(model, images, { windowFrames: 1001, windowShift: 500, engine: 'ort', threads: 1 });
      assert.ok(maxDiff(ort, want) < 1e-4, `ort: ${maxDiff(ort, want)}`);
    }
  } finally {
    model.dispose();
  }
});

test('training-side predictors (validation, out-of-fold) score a short clip whole too, on tfjs and ONNX Runtime', async () => {
  const { predictClipImages, predictModelClips } = await import('../../lib/infer/modelPredict');
  const m = EXPECTED.models.find((x) => x.arch === 'pannsCnn14')!;
  const { model } = networkFromCheckpoint(readCheckpoint(loadTorchFile(fixture(m.file))), m.arch, m.file);
  try {
    const images = [{ nMels: 64, frames: EXPECTED.logmel.frames, data: LOGMEL }];
    const want = m.logitsClip.map(sigmoid);
    for (const mode of ['sliding', 'centre'] as const) {
      const probs = predictClipImages(model, images, { windowFrames: 1001, windowShift: 500, mode });
      assert.ok(maxDiff(probs, want) < 1e-5, `${mode}: ${maxDiff(probs, want)}`);
    }
    if (loadOnnxRuntime().ort) {
      const probs = await predictModelClips(model, images, { windowFrames: 1001, windowShift: 500, engine: 'ort', threads: 1 });
      assert.ok(maxDiff(probs, want) < 1e-4, `ort: ${maxDiff(probs, want)}`);
    }
  } finally {
    model.dispose();
  }
});
