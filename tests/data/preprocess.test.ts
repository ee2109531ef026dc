import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PREPROCESS_DEFAULTS, withDefaults } from '../../lib/config';
import { encodeWavPcm16 } from '../../lib/audio';
import {
  cacheEntryPath,
  decodeClipImage,
  encodeClipImage,
  featureCacheDir,
  isValidCacheEntry,
  preprocessConfigHash,
  readCachedImage,
} from '../../lib/data/featureCache';
import { loadClipImages, loadClipWaveform, preprocessDatasets, type PreprocessReport } from '../../lib/data/preprocess';
import { Rng } from '../../lib/util/rng';

const ROOT = join(__dirname, '..', '..');
const G = join(__dirname, '..', 'fixtures', 'golden');
const CFG = withDefaults(PREPROCESS_DEFAULTS);
const GOOD = ['burst_silence', 'short_0p6s', 'real_snare_elec_mid_snare', 'stereo_48k_24bit'];

const goldenImg = (name: string) => new Uint8Array(readFileSync(join(G, name, 'img.u8')));

/** A dataset folder: golden WAVs (+ a FLAC) in train_curated, corrupt files among them in test. */
function makeData(root: string): { corrupt: string[] } {
  const cur = join(root, 'train_curated');
  const tst = join(root, 'test');
  mkdirSync(cur, { recursive: true });
  mkdirSync(tst, { recursive: true });
  for (const name of GOOD) copyFileSync(join(G, 'audio', `${name}.wav`), join(cur, `${name}.wav`));
  copyFileSync(join(ROOT, 'node_modules', 'supersonic-scsynth-samples', 'samples', 'elec_tick.flac'), join(tst, 'tick.flac'));
  copyFileSync(join(G, 'audio', 'short_0p6s.wav'), join(tst, 'good.wav'));
  const chirp = readFileSync(join(G, 'audio', 'chirp_3s.wav'));
  const rng = new Rng(5);
  writeFileSync(join(tst, 'random.wav'), Uint8Array.from({ length: 5000 }, () => rng.int(256)));
  writeFileSync(join(tst, 'empty.wav'), new Uint8Array(0));
  writeFileSync(join(tst, 'truncated.wav'), chirp.subarray(0, 20000));
  writeFileSync(join(cur, 'header_cut.wav'), chirp.subarray(0, 30));
  writeFileSync(join(tst, 'notes.txt'), 'not audio: ignored');
  return { corrupt: ['test/truncated.wav', 'train_curated/header_cut.wav'] };
}

/** The two files of makeData's test folder that the check at start refuses (empty, not audio). */
function removeUnusable(root: string): void {
  rmSync(join(root, 'test', 'random.wav'));
  rmSync(join(root, 'test', 'empty.wav'));
}

const failedFiles = (r: PreprocessReport) => r.failures.map((f) => `${f.dataset}/${f.fname}`).sort();

test('preprocess: corrupt files are listed with reasons, good ones cached; a second run recomputes nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-pre-'));
  try {
    const data = join(dir, 'data');
    const cache = join(dir, 'cache');
    const { corrupt } = makeData(data);
    // Files that are not audio at all are refused together before any work; the rest are
    // decoded, and those whose decoding fails are listed with their reasons.
    await assert.rejects(preprocessDatasets({ dataDir: data, cacheDir: cache, config: CFG, workers: 2 }), (err: Error) => {
      assert.match(err.message, /2 of 10 clip\(s\) listed in .* cannot be used/);
      assert.match(err.message, /unreadable \(1\):\n\s+empty\.wav: .*empty \(0 bytes\)/);
      assert.match(err.message, /unsupported format \(1\):\n\s+random\.wav: .*not a WAV or FLAC file/);
      return true;
    });
    assert.equal(existsSync(join(featureCacheDir(cache, CFG), 'preprocess-report.json')), false, 'nothing was done');
    removeUnusable(data);
    const progress: number[] = [];
    const r1 = await preprocessDatasets({ dataDir: data, cacheDir: cache, config: CFG, workers: 2, onProgress: (p) => progress.push(p.done) });
    assert.deepEqual(Object.keys(r1.datasets), ['train_curated', 'test'], 'default datasets: those present, in Kaggle order');
    assert.equal(r1.total, 8);
    assert.equal(r1.computed, 6);
    assert.equal(r1.skipped, 0);
    assert.equal(r1.failed, 2);
    assert.deepEqual(r1.ignoredFiles, ['test/notes.txt']);
    assert.equal(r1.aborted, false);
    assert.deepEqual(failedFiles(r1), corrupt);
    const reasons = Object.fromEntries(r1.failures.map((f) => [f.fname, f.reason]));
    assert.match(reasons['truncated.wav'], /truncated WAV: data chunk declares/);
    assert.match(reasons['header_cut.wav'], /truncated WAV: header cut/);
    for (const f of r1.failures) assert.equal(f.file, join(data, f.dataset, f.fname));
    assert.equal(progress.at(-1), 8);
    assert.deepEqual(progress, [...progress].sort((a, b) => a - b), 'progress only grows');

    const written = JSON.parse(readFileSync(join(featureCacheDir(cache, CFG), 'preprocess-report.json'), 'utf8'));
    assert.equal(written.failed, 2);
    assert.deepEqual(written.failures.map((f: { fname: string }) => f.fname).sort(), ['header_cut.wav', 'truncated.wav']);

    // Images computed on worker threads equal the golden images.
    for (const name of GOOD) {
      const img = readCachedImage(cacheEntryPath(cache, CFG, 'train_curated', `${name}.wav`), 128);
      assert.ok(img, name);
      assert.deepEqual(img.data, goldenImg(name), name);
    }
    assert.ok(isValidCacheEntry(cacheEntryPath(cache, CFG, 'test', 'tick.flac'), 128), 'FLAC preprocessed');

    const r2 = await preprocessDatasets({ dataDir: data, cacheDir: cache, config: CFG, workers: 2 });
    assert.equal(r2.computed, 0);
    assert.equal(r2.skipped, 6);
    assert.equal(r2.failed, 2);
    assert.deepEqual(failedFiles(r2), corrupt);

    // A truncated cache entry is recomputed, not served or fatal.
    const entry = cacheEntryPath(cache, CFG, 'train_curated', 'short_0p6s.wav');
    truncateSync(entry, 1000);
    assert.equal(readCachedImage(entry, 128), null);
    const r3 = await preprocessDatasets({ dataDir: data, cacheDir: cache, config: CFG, workers: 0, datasets: ['train_curated'] });
    assert.equal(r3.computed, 1);
    assert.equal(r3.skipped, 3);
    assert.deepEqual(readCachedImage(entry, 128)?.data, goldenImg('short_0p6s'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('preprocess: a run stopped midway resumes and completes only the rest (in-process and workers)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-pre-'));
  try {
    const data = join(dir, 'data');
    makeData(data);
    for (const workers of [0, 2]) {
      const cache = join(dir, `cache${workers}`);
      const ac = new AbortController();
      const r1 = await preprocessDatasets({
        dataDir: data, datasets: ['train_curated'], cacheDir: cache, config: CFG, workers, signal: ac.signal,
        onProgress: (p) => { if (p.computed >= 1) ac.abort(); },
      });
      assert.equal(r1.aborted, true, `workers=${workers}`);
      assert.ok(r1.computed >= 1 && r1.computed + r1.failed < 5, `workers=${workers}: ${r1.computed} computed before stopping`);
      const r2 = await preprocessDatasets({ dataDir: data, datasets: ['train_curated'], cacheDir: cache, config: CFG, workers });
      assert.equal(r2.aborted, false);
      assert.equal(r2.skipped, r1.computed, 'finished clips are not recomputed');
      assert.equal(r2.computed + r2.skipped, 4);
      assert.deepEqual(failedFiles(r2), ['train_curated/header_cut.wav']);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('preprocess: a CLI process killed midway leaves a cache the next run completes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-pre-'));
  try {
    const data = join(dir, 'data');
    const cache = join(dir, 'cache');
    mkdirSync(join(data, 'test'), { recursive: true });
    const rng = new Rng(11);
    const n = 24;
    for (let i = 0; i < n; i++) {
      const x = Float32Array.from({ length: 3 * 44100 }, () => 0.2 * rng.normal());
      writeFileSync(join(data, 'test', `c${String(i).padStart(2, '0')}.wav`), encodeWavPcm16(x, 44100));
    }
    const entries = join(featureCacheDir(cache, CFG), 'test');
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'fat2019.cjs'), 'preprocess', '--data', data, '--cache', cache, '--workers', '1', '--quiet'], { stdio: 'ignore' });
    const exited = new Promise<void>((res) => child.on('exit', () => res()));
    // Kill as soon as a few entries exist (if it finishes first, the rerun simply skips all).
    await new Promise<void>((res) => {
      const poll = setInterval(() => {
        const done = existsSync(entries) ? readdirSync(entries).filter((f) => f.endsWith('.u8')).length : 0;
        if (done >= 3 || child.exitCode !== null) {
          clearInterval(poll);
          child.kill('SIGKILL');
          res();
        }
      }, 20);
    });
    await exited;
    const before = readdirSync(entries).filter((f) => f.endsWith('.u8')).length;
    const r = await preprocessDatasets({ dataDir: data, cacheDir: cache, config: CFG, workers: 0 });
    assert.equal(r.failed, 0);
    assert.equal(r.skipped, before);
    assert.equal(r.computed + r.skipped, n);
    for (let i = 0; i < n; i++) assert.ok(isValidCacheEntry(join(entries, `c${String(i).padStart(2, '0')}.wav.u8`), 128));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('feature cache: the config hash changes with any parameter; entries round-trip and are validated', () => {
  const h = preprocessConfigHash(CFG);
  assert.match(h, /^[0-9a-f]{12}$/);
  assert.equal(preprocessConfigHash(withDefaults(PREPROCESS_DEFAULTS)), h, 'stable');
  assert.equal(preprocessConfigHash({ ...CFG, hopLength: CFG.hopLength }), h, 'key order and copies do not matter');
  for (const [k, v] of Object.entries({ hopLength: 347, nMels: 64, trimTopDb: 50, fMin: 0, imageEps: 1e-5, sampleRate: 32000 })) {
    const other = { ...CFG, [k]: v };
    assert.notEqual(preprocessConfigHash(other), h, k);
    assert.notEqual(featureCacheDir('c', other), featureCacheDir('c', CFG), k);
  }
  const img = { nMels: 2, frames: 3, data: new Uint8Array([1, 2, 3, 4, 5, 6]) };
  const bytes = encodeClipImage(img);
  assert.deepEqual(decodeClipImage(bytes, 'x'), img);
  assert.throws(() => decodeClipImage(bytes.subarray(0, 44), "x.u8"), /x\.u8: cache entry truncated or padded: 44 bytes, expected 46/);
  assert.throws(() => decodeClipImage(bytes, 'x.u8', 128), /nMels 2, expected 128/);
  assert.throws(() => cacheEntryPath('c', CFG, 'test', '../evil.wav'), /fname must be a relative path/);
});

test('a cache entry made from another version of the audio file is recomputed, not served stale', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-pre-'));
  try {
    const data = join(dir, 'data');
    const cache = join(dir, 'cache');
    makeData(data);
    const clip = join(data, 'train_curated', 'short_0p6s.wav');
    const first = await loadClipImages({ dataDir: data, dataset: 'train_curated', fnames: ['short_0p6s.wav'], cacheDir: cache, config: CFG });
    assert.deepEqual(first[0].data, goldenImg('short_0p6s'));
    // The same file name now holds another recording (a regenerated dataset): both the bulk
    // preprocessing and the loader must see the change.
    copyFileSync(join(G, 'audio', 'burst_silence.wav'), clip);
    const report = await preprocessDatasets({ dataDir: data, datasets: ['train_curated'], cacheDir: cache, config: CFG, workers: 0 });
    assert.ok(report.computed >= 1, 'the changed clip is recomputed');
    const again = await loadClipImages({ dataDir: data, dataset: 'train_curated', fnames: ['short_0p6s.wav'], cacheDir: cache, config: CFG });
    assert.deepEqual(again[0].data, goldenImg('burst_silence'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadClipImages returns images in fnames order, computing missing ones; errors name the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-pre-'));
  try {
    const data = join(dir, 'data');
    const cache = join(dir, 'cache');
    makeData(data);
    const fnames = ['short_0p6s.wav', 'burst_silence.wav', 'short_0p6s.wav'];
    const imgs = await loadClipImages({ dataDir: data, dataset: 'train_curated', fnames, cacheDir: cache, config: CFG });
    assert.deepEqual(imgs.map((i) => i.data), [goldenImg('short_0p6s'), goldenImg('burst_silence'), goldenImg('short_0p6s')]);
    assert.ok(isValidCacheEntry(cacheEntryPath(cache, CFG, 'train_curated', 'burst_silence.wav'), 128), 'cached');
    await assert.rejects(
      loadClipImages({ dataDir: data, dataset: 'test', fnames: ['good.wav', 'random.wav'], cacheDir: cache, config: CFG }),
      /test[/\\]random\.wav: not a WAV file/,
    );
    await assert.rejects(loadClipImages({ dataDir: data, dataset: 'test', fnames: ['nope.wav'], cacheDir: cache, config: CFG }), /nope\.wav: audio file not found/);
    const w = await loadClipWaveform(join(data, 'train_curated', 'burst_silence.wav'), CFG);
    assert.equal(w.length, 76288 - 43520); // golden trim indices
    await assert.rejects(preprocessDatasets({ dataDir: join(dir, 'nothing'), cacheDir: cache }), /dataDir not found/);
    await assert.rejects(preprocessDatasets({ dataDir: data, datasets: ['train_noisy'], cacheDir: cache }), /dataset folder not found: .*train_noisy/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CLI: fat2019 preprocess exits 1 when a file failed, 0 when all succeeded; --help', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-pre-'));
  try {
    const data = join(dir, 'data');
    makeData(data);
    const cli = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'fat2019.cjs'), 'preprocess', ...args], { encoding: 'utf8' });
    const help = cli(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--workers/);
    const bad = cli(['--data', data, '--cache', join(dir, 'cache'), '--workers', '0', '--datasets', 'test']);
    assert.equal(bad.status, 1, bad.stderr);
    assert.match(bad.stderr, /2 of 5 clip\(s\) listed in .* cannot be used/);
    assert.match(bad.stderr, /random\.wav: .*not a WAV or FLAC file/);
    removeUnusable(data);
    const failed = cli(['--data', data, '--cache', join(dir, 'cache'), '--workers', '0', '--datasets', 'test']);
    assert.equal(failed.status, 1, failed.stderr);
    assert.match(failed.stdout, /1 file\(s\) failed/);
    assert.match(failed.stdout, /truncated\.wav: truncated WAV/);
    assert.match(failed.stdout, /1 file\(s\) that are not audio were left alone: test\/notes\.txt/);
    rmSync(join(data, 'train_curated', 'header_cut.wav'));
    const ok = cli(['--data', data, '--cache', join(dir, 'cache'), '--workers', '1', '--datasets', 'train_curated']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /train_curated\s+4\s+4\s+0\s+0/);
    const usage = cli(['--data', data, '--workers', 'two']);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /--workers must be a number, got "two"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
