/**
 * The web page's Node-testable parts (lib/web): window scores against lib/infer's prediction,
 * the timeline's time axis, the site `fat2019 web` writes and the static server. The page in
 * a real browser is tests/browser/web.browser.ts (`npm run test:browser`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { INFER_DEFAULTS, PREPROCESS_DEFAULTS } from '../../lib/config';
import { clipImageFromSamples, trimClip } from '../../lib/features/logmel';
import { trimSilence } from '../../lib/features/trim';
import { ensembleFromModels, loadEnsemble, predictImages } from '../../lib/infer/index';
import { readRunInfo } from '../../lib/run/runFolder';
import { slidingWindowStarts } from '../../lib/runtime/windows';
import { loadModel } from '../../lib/runtime/modelFile';
import { runCommand } from '../../lib/cli/command';
import { webCommand } from '../../lib/cli/web';
import { buildTimeline, frameSeconds, tagResult } from '../../lib/web/timeline';
import { scoreClipWindows } from '../../lib/web/windowScores';
import { buildSite, runActivation } from '../../lib/web/site';
import { serveFolder } from '../../lib/web/serve';
import type { SiteManifest } from '../../lib/web/protocol';
import { TINY_VOCABULARY, writeTinyRun } from '../browser/tinyRun';
import { Rng } from '../../lib/util/rng';

const CFG = PREPROCESS_DEFAULTS;
let root = '';
let runDir = '';

function tone(seconds: number, seed: number, silenceBefore = 0): Float32Array {
  const rng = new Rng(seed);
  const n = Math.round(seconds * CFG.sampleRate);
  const lead = Math.round(silenceBefore * CFG.sampleRate);
  const x = new Float32Array(lead + n);
  for (let i = 0; i < n; i++) x[lead + i] = 0.3 * Math.sin((2 * Math.PI * 440 * i) / CFG.sampleRate) + 0.05 * (rng.uniform() - 0.5);
  return x;
}

before(async () => {
  await tf.setBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'fat2019-web-'));
  runDir = join(root, 'run');
  await writeTinyRun(runDir);
});

after(() => rmSync(root, { recursive: true, force: true }));

test('scoreClipWindows: clip scores = lib/infer predictImages (arithmetic, geometric, softmax, input normalisation); one row per sliding window', async () => {
  const ensemble = await loadEnsemble(runDir, { engine: 'tfjs' });
  const models = await Promise.all(ensemble.members.map((m) => loadModel(m.modelDir)));
  try {
    const image = clipImageFromSamples(tone(5, 1), CFG);
    const C = TINY_VOCABULARY.length;
    for (const mean of ['arithmetic', 'geometric'] as const) {
      const infer = { ...INFER_DEFAULTS, ensembleMean: mean, batchSize: 3 };
      const expected = await predictImages(ensemble, [image], { infer });
      const progress: number[] = [];
      const before = tf.memory().numTensors;
      const scores = await scoreClipWindows(models, image, infer, C, { onProgress: (p) => progress.push(p.done / p.total) });
      assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
      const starts = slidingWindowStarts(image.frames, infer.windowFrames, infer.windowShift);
      assert.deepEqual(scores.starts, starts);
      assert.equal(scores.windows.length, starts.length * C);
      for (let c = 0; c < C; c++) assert.ok(Math.abs(scores.clip[c] - expected[c]) < 1e-6, `${mean} class ${c}: ${scores.clip[c]} vs ${expected[c]}`);
      assert.equal(progress[progress.length - 1], 1);
      assert.ok(progress.every((p, i) => i === 0 || p > progress[i - 1]));
      if (mean === 'arithmetic') {
        for (let c = 0; c < C; c++) {
          let s = 0;
          for (let w = 0; w < starts.length; w++) s += scores.windows[w * C + c];
          assert.ok(Math.abs(s / starts.length - scores.clip[c]) < 1e-6, 'clip = mean of the windows');
        }
      }
    }
    const softmax = await scoreClipWindows(models, image, INFER_DEFAULTS, C, { activation: 'softmax' });
    const expectedSoftmax = await predictImages(ensemble, [image], { activation: 'softmax' });
    for (let c = 0; c < C; c++) assert.ok(Math.abs(softmax.clip[c] - expectedSoftmax[c]) < 1e-6, `softmax class ${c}`);
    for (let w = 0; w < softmax.starts.length; w++) {
      const row = softmax.windows.subarray(w * C, (w + 1) * C).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(row - 1) < 1e-5, `softmax window ${w} sums to ${row}`);
    }

    // An imported run's input normalisation reaches the models as in lib/infer.
    const normalization = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
    const config = readRunInfo(runDir).config;
    const normalized = ensembleFromModels(
      await Promise.all(ensemble.members.map((m) => loadModel(m.modelDir))),
      TINY_VOCABULARY,
      { ...config, model: { ...config.model, inputNormalization: normalization } },
    );
    try {
      const expectedNormalized = await predictImages(normalized, [image]);
      const plain = await scoreClipWindows(models, image, INFER_DEFAULTS, C);
      const withNormalization = await scoreClipWindows(models, image, INFER_DEFAULTS, C, { normalization });
      for (let c = 0; c < C; c++) assert.ok(Math.abs(withNormalization.clip[c] - expectedNormalized[c]) < 1e-6, `normalised class ${c}`);
      assert.ok(plain.clip.some((p, c) => Math.abs(p - withNormalization.clip[c]) > 1e-4), 'the normalisation changes the scores');
    } finally {
      normalized.dispose();
    }
    await assert.rejects(scoreClipWindows(models, image, INFER_DEFAULTS, C + 1), /outputs 6 classes, the run's vocabulary has 7/);
  } finally {
    ensemble.dispose();
    for (const m of models) m.dispose();
  }
});

test('timeline: windows on the decoded audio time axis (silence trimmed, short clips padded)', () => {
  // 1.5 s of silence then 6 s of sound: the first window starts where the sound starts.
  const samples = tone(6, 2, 1.5);
  const trim = trimSilence(samples, { topDb: CFG.trimTopDb, frameLength: CFG.trimFrameLength, hopLength: CFG.trimHopLength });
  assert.deepEqual(trim.trimmed, trimClip(samples, CFG));
  const image = clipImageFromSamples(samples, CFG);
  const starts = slidingWindowStarts(image.frames, 128, 48);
  const C = 2;
  const scores = { starts, windows: new Float32Array(starts.length * C).fill(0.25), clip: Float32Array.from([0.2, 0.7]) };
  const seconds = samples.length / CFG.sampleRate;
  const timeline = buildTimeline('a.wav', seconds, scores, ['A', 'B'], { trimStart: trim.start, trimmedLength: trim.trimmed.length }, CFG, 128);
  assert.equal(timeline.windows.length, starts.length);
  assert.ok(Math.abs(timeline.windows[0].start - 1.5) < 0.02, `first window at ${timeline.windows[0].start} s`);
  assert.ok(Math.abs(timeline.windows[0].end - (1.5 + (128 * CFG.hopLength) / CFG.sampleRate)) < 0.02);
  assert.ok(Math.abs(timeline.windows[timeline.windows.length - 1].end - seconds) < 0.02, 'the last window ends with the sound');
  assert.deepEqual(timeline.windows[0].scores, [0.25, 0.25]);
  assert.deepEqual(tagResult('a.wav', seconds, scores, ['A', 'B'], 1), { file: 'a.wav', seconds, labels: [{ label: 'B', probability: Math.fround(0.7) }] });

  // 0.5 s clip, centre-padded to 2 s: its one window covers the whole clip, clamped to [0, 0.5].
  const placement = { trimStart: 0, trimmedLength: CFG.sampleRate / 2 };
  assert.equal(frameSeconds(0, placement, CFG, 0.5), 0);
  assert.equal(frameSeconds(128, placement, CFG, 0.5), 0.5);
  const padLeftSamples = (CFG.minSamples - CFG.sampleRate / 2) / 2;
  const f = padLeftSamples / CFG.hopLength + 10;
  assert.ok(Math.abs(frameSeconds(f, placement, CFG, 0.5) - (10 * CFG.hopLength) / CFG.sampleRate) < 1e-9);
});

test('buildSite: site.json, the members\' model files, bundles and wasm binaries; activation from run.json', async () => {
  const out = join(root, 'site');
  const report = await buildSite({ runDir, outDir: out, topK: 3, minify: false });
  assert.deepEqual(report.members, ['cnnModel1/stage2/fold0', 'cnnModel1/stage2/fold1', 'xresnet18/stage2/fold0']);
  const manifest = JSON.parse(readFileSync(join(out, 'site.json'), 'utf8')) as SiteManifest;
  assert.deepEqual(manifest.vocabulary, TINY_VOCABULARY);
  assert.equal(manifest.activation, 'sigmoid');
  assert.equal(manifest.topK, 3);
  assert.deepEqual(manifest.preprocess, CFG);
  assert.deepEqual(manifest.infer, INFER_DEFAULTS);
  assert.equal(manifest.inputNormalization, null);
  for (const m of manifest.members) {
    const src = join(runDir, m.name, 'best');
    const dest = join(out, m.modelUrl.replace(/model\.json$/, ''));
    assert.deepEqual(readFileSync(join(dest, 'weights.bin')), readFileSync(join(src, 'weights.bin')));
    assert.deepEqual(readFileSync(join(dest, 'model.json')), readFileSync(join(src, 'model.json')));
  }
  for (const f of ['index.html', 'style.css', 'recorder-worklet.js', 'app.js', 'worker.js', 'wasm/tfjs-backend-wasm-simd.wasm']) assert.ok(existsSync(join(out, f)), f);
  assert.doesNotMatch(readFileSync(join(out, 'index.html'), 'utf8'), /https?:\/\//, 'the page loads nothing from elsewhere');

  const info = readRunInfo(runDir);
  assert.equal(runActivation({ ...info.config, task: { name: 'singleLabel', labelSmoothing: 0 } }), 'softmax');
  assert.equal(runActivation(info.config), 'sigmoid');
  assert.throws(() => runActivation({ ...info.config, task: { name: 'relu' } } as unknown as typeof info.config), /task\.name must be one of multiLabel, singleLabel, got 'relu'/);

  // A truncated member is refused before anything is served, naming the file.
  const broken = join(root, 'broken-run');
  await writeTinyRun(broken);
  const weights = join(broken, 'cnnModel1', 'stage2', 'fold1', 'best', 'weights.bin');
  writeFileSync(weights, readFileSync(weights).subarray(0, 100));
  await assert.rejects(buildSite({ runDir: broken, outDir: join(root, 'site2') }), (err: Error) => err.message.includes(weights) && /truncated or corrupt/.test(err.message));
  await assert.rejects(buildSite({ runDir: join(root, 'nowhere'), outDir: join(root, 'site3') }), /no run\.json/);
});

function fetchStatus(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString('latin1')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    }).on('error', reject);
  });
}

test('serveFolder: files with their types on 127.0.0.1, nothing outside the folder', async () => {
  const dir = join(root, 'static');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(dir, 'wasm'), { recursive: true });
  writeFileSync(join(dir, 'index.html'), '<p>hi</p>');
  writeFileSync(join(dir, 'wasm', 'a.wasm'), Buffer.from([0, 97, 115, 109]));
  writeFileSync(join(root, 'secret.txt'), 'secret');
  const site = await serveFolder(dir, 0);
  try {
    assert.match(site.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const index = await fetchStatus(site.url);
    assert.deepEqual([index.status, index.body], [200, '<p>hi</p>']);
    assert.match(index.type, /text\/html/);
    assert.equal((await fetchStatus(`${site.url}wasm/a.wasm`)).type, 'application/wasm');
    assert.equal((await fetchStatus(`${site.url}missing.js`)).status, 404);
    for (const path of ['%2e%2e/secret.txt', '..%2fsecret.txt', 'wasm/..%2f..%2fsecret.txt']) {
      const escape = await fetchStatus(`${site.url}${path}`);
      assert.ok(escape.status === 403 || escape.status === 404, `${path}: ${escape.status}`);
      assert.notEqual(escape.body, 'secret');
    }
  } finally {
    await site.close();
  }
});

test('fat2019 web: usage errors exit 2', async () => {
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    assert.equal(await runCommand(webCommand, []), 2);
    assert.equal(await runCommand(webCommand, ['--run', runDir, '--port', '9000']), 2, '--port without --serve');
    assert.equal(await runCommand(webCommand, ['--run', runDir, '--serve', '--port', '70000']), 2);
    assert.equal(await runCommand(webCommand, ['--run', runDir, '--top', '0']), 2);
  } finally {
    process.stderr.write = write;
  }
});
