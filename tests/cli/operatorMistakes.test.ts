import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { decodeWav, encodeWavPcm16 } from '../../lib/audio/index';
import { PREPROCESS_DEFAULTS, withDefaults } from '../../lib/config';
import { inferCommand } from '../../lib/cli/infer';
import { trainCommand } from '../../lib/cli/train';
import { cacheEntryPath, readCachedImage } from '../../lib/data/featureCache';
import { loadClipImages, preprocessDatasets } from '../../lib/data/preprocess';
import { ClipValidationError, findClipProblems, validateClips } from '../../lib/data/validateClips';
import { acquireJobLock, JobLockedError } from '../../lib/run/jobLock';
import { jobLockPath, runInfoPath, writeRunInfo, RUN_INFO_VERSION } from '../../lib/run/runFolder';
import { trainStageFold } from '../../lib/train/pipeline/trainStageFold';
import { writeFileAtomicSync } from '../../lib/util/atomicWrite';
import { TINY_CLASSES, tinyConfig, writeTinyData } from '../support/pipelineFixture';

/**
 * The ten operator mistakes of issue 12, each refused (or handled) with a clear message before
 * any long work: every test here failed on the code before the fix.
 */

const PRE = withDefaults(PREPROCESS_DEFAULTS, { sampleRate: 8000, nFft: 256, hopLength: 128, nMels: 32, fMax: 4000, minSamples: 8000, trimFrameLength: 512, trimHopLength: 128 });

function withTmp(run: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-mistakes-'));
  return Promise.resolve()
    .then(() => run(dir))
    .finally(() => rmSync(dir, { recursive: true, force: true }));
}

/** A run folder with run.json only (what infer reads before anything else). */
function fakeRun(runDir: string, dataDir: string): void {
  writeRunInfo(runDir, { version: RUN_INFO_VERSION, config: tinyConfig(), vocabulary: TINY_CLASSES, dataDir, createdAt: '2026-01-01T00:00:00.000Z' });
}

/** A test folder with two clips, listed in sample_submission.csv. */
function addTestSet(data: string): void {
  mkdirSync(join(data, 'test'), { recursive: true });
  const tone = Float32Array.from({ length: 8000 }, (_, i) => 0.3 * Math.sin(i / 5));
  for (const f of ['t0.wav', 't1.wav']) writeFileSync(join(data, 'test', f), encodeWavPcm16(tone, 8000));
  writeFileSync(join(data, 'sample_submission.csv'), `fname,${TINY_CLASSES.join(',')}\nt0.wav,0,0,0,0\nt1.wav,0,0,0,0\n`);
}

test('mistake 1: infer --out may not overwrite a label file of the data folder nor the truth file', () =>
  withTmp(async (dir) => {
    const data = join(dir, 'data');
    const run = join(dir, 'run');
    writeTinyData(data, 4, 4);
    addTestSet(data);
    fakeRun(run, data);
    const labels = join(data, 'train_curated.csv');
    const before = readFileSync(labels, 'utf8');
    await assert.rejects(inferCommand.run({ run, out: labels }, []), /--out .*train_curated\.csv: inside the data folder/);
    assert.equal(readFileSync(labels, 'utf8'), before);
    const truth = join(dir, 'truth.csv');
    writeFileSync(truth, 'fname,labels\nt0.wav,Noise\n');
    await assert.rejects(inferCommand.run({ run, score: true, truth, out: truth }, []), /--out .*truth\.csv: that is an input of this run/);
    await assert.rejects(inferCommand.run({ run, out: runInfoPath(run) }, []), /that is an input of this run/);
    assert.equal(readFileSync(truth, 'utf8'), 'fname,labels\nt0.wav,Noise\n');
  }));

test('mistake 2: clips listed but missing, or outside the data folder, are all reported at the start of train, infer and preprocess', () =>
  withTmp(async (dir) => {
    const data = join(dir, 'data');
    writeTinyData(data, 4, 4);
    writeFileSync(join(dir, 'outside.wav'), readFileSync(join(data, 'train_curated', 'c000.wav')));
    appendFileSync(join(data, 'train_curated.csv'), 'gone.wav,Noise\n../../outside.wav,Noise\n');
    appendFileSync(join(data, 'train_noisy.csv'), 'also_gone.wav,Noise\n');
    const expectAll = (err: Error) => {
      assert.ok(err instanceof ClipValidationError, err.message);
      assert.match(err.message, /missing \(2\):\n\s+gone\.wav: .*does not exist\n\s+also_gone\.wav/);
      assert.match(err.message, /outside the data folder \(1\):\n\s+\.\.\/\.\.\/outside\.wav/);
      return true;
    };
    // preprocess reads the label files too (it used to read folders only and exit 0).
    await assert.rejects(preprocessDatasets({ dataDir: data, cacheDir: join(dir, 'cache'), config: PRE, workers: 0 }), expectAll);
    // train refuses before run.json, backend or preprocessing.
    const run = join(dir, 'run');
    await assert.rejects(trainCommand.run({ run, data, folds: '2', prepare: true }, []), expectAll);
    await assert.rejects(trainCommand.run({ run, data, folds: '2', quick: true, quiet: true }, []), expectAll);
    assert.equal(existsSync(runInfoPath(run)), false);
    // infer: a test clip listed in sample_submission.csv but missing, before models load.
    addTestSet(data);
    rmSync(join(data, 'test', 't1.wav'));
    fakeRun(run, data);
    await assert.rejects(inferCommand.run({ run, quiet: true }, []), /1 of 2 clip\(s\) listed in .*test cannot be used:\n\s+missing \(1\):\n\s+t1\.wav/);
  }));

test('mistake 3: MP3 and OGG files are named as such, at the start of preprocess', () =>
  withTmp(async (dir) => {
    const data = join(dir, 'data');
    writeTinyData(data, 4, 4);
    writeFileSync(join(data, 'train_curated', 'song.mp3'), Buffer.concat([Buffer.from('ID3\x03\x00\x00\x00\x00\x00\x00'), Buffer.alloc(100)]));
    writeFileSync(join(data, 'train_curated', 'voice.ogg'), Buffer.concat([Buffer.from('OggS\x00\x02'), Buffer.alloc(100)]));
    // An MP3 stream saved under a .wav name (frame sync 0xFFFB: MPEG-1 layer III).
    writeFileSync(join(data, 'train_noisy', 'n000.wav'), Buffer.concat([Buffer.from([0xff, 0xfb, 0x90, 0x64]), Buffer.alloc(400)]));
    await assert.rejects(preprocessDatasets({ dataDir: data, cacheDir: join(dir, 'cache'), config: PRE, workers: 0 }), (err: Error) => {
      assert.match(err.message, /unsupported format \(3\):/);
      assert.match(err.message, /song\.mp3: .*MP3 is not supported/);
      assert.match(err.message, /voice\.ogg: .*OGG is not supported/);
      assert.match(err.message, /n000\.wav: .*MP3 is not supported/);
      return true;
    });
    const problems = findClipProblems([{ name: 'a.wav', path: join(data, 'train_curated', 'song.mp3') }], data);
    assert.deepEqual(problems.map((p) => p.kind), ['unsupported format']);
  }));

test('mistake 4: a WAV whose data chunk declares fewer (or more) bytes than the file holds is an error, not a 1-sample clip', () => {
  const wav = encodeWavPcm16(Float32Array.from({ length: 4000 }, (_, i) => Math.sin(i / 9) / 2), 8000);
  assert.equal(decodeWav(wav, 'ok.wav').frames, 4000);
  const fewer = new Uint8Array(wav);
  new DataView(fewer.buffer).setUint32(40, 2, true);
  assert.throws(() => decodeWav(fewer, 'fewer.wav'), /fewer\.wav: WAV header disagrees with the file: the data chunk declares 2 bytes but 8000 bytes of audio data follow/);
  const more = new Uint8Array(wav);
  new DataView(more.buffer).setUint32(40, 9000, true);
  assert.throws(() => decodeWav(more, 'more.wav'), /more\.wav: truncated WAV: data chunk declares 9000 bytes but only 8000/);
  // A legitimate chunk after the data (LIST metadata) is fine.
  const list = new Uint8Array(wav.length + 12);
  list.set(wav);
  list.set(new TextEncoder().encode('LIST'), wav.length);
  new DataView(list.buffer).setUint32(wav.length + 4, 4, true);
  list.set(new TextEncoder().encode('INFO'), wav.length + 8);
  assert.equal(decodeWav(list, 'list.wav').frames, 4000);
});

/** A 32-bit float mono WAV of `samples`. */
function floatWav(samples: number[], rate = 8000): Uint8Array {
  const out = new Uint8Array(44 + 4 * samples.length);
  const v = new DataView(out.buffer);
  const str = (o: number, s: string) => [...s].forEach((c, i) => (out[o + i] = c.charCodeAt(0)));
  str(0, 'RIFF'); v.setUint32(4, 36 + 4 * samples.length, true); str(8, 'WAVE');
  str(12, 'fmt '); v.setUint32(16, 16, true); v.setUint16(20, 3, true); v.setUint16(22, 1, true);
  v.setUint32(24, rate, true); v.setUint32(28, rate * 4, true); v.setUint16(32, 4, true); v.setUint16(34, 32, true);
  str(36, 'data'); v.setUint32(40, 4 * samples.length, true);
  samples.forEach((s, i) => v.setFloat32(44 + 4 * i, s, true));
  return out;
}

test('mistake 5: non-finite samples are named (count, first frame), not "trimmed waveform must not be empty"', () => {
  assert.equal(decodeWav(floatWav([0, 0.5, -0.5]), 'fine.wav').frames, 3);
  assert.throws(() => decodeWav(floatWav([0, 0.1, 0.2, NaN, Infinity, 0]), 'nan.wav'), /nan\.wav: 2 non-finite sample\(s\) \(NaN or ±Infinity\).*first NaN at frame 3 of channel 0/);
});

test('mistake 6: a 250-character file name is preprocessed and cached (the cache name is bounded)', () =>
  withTmp(async (dir) => {
    const data = join(dir, 'data');
    const cache = join(dir, 'cache');
    mkdirSync(join(data, 'test'), { recursive: true });
    const long = `${'x'.repeat(246)}.wav`;
    assert.equal(long.length, 250);
    writeFileSync(join(data, 'test', long), encodeWavPcm16(Float32Array.from({ length: 8000 }, (_, i) => Math.sin(i / 3) / 3), 8000));
    const r = await preprocessDatasets({ dataDir: data, cacheDir: cache, config: PRE, workers: 0 });
    assert.deepEqual(r.failures, []);
    assert.equal(r.computed, 1);
    const entry = cacheEntryPath(cache, PRE, 'test', long);
    assert.ok(Buffer.byteLength(basename(entry)) <= 160, basename(entry));
    assert.ok(readCachedImage(entry, PRE.nMels), 'entry readable');
    // Distinct long names stay distinct.
    assert.notEqual(cacheEntryPath(cache, PRE, 'test', `${'x'.repeat(246)}.wa2`), entry);
    // An atomic write to a 250-character name works (its temp name is bounded too).
    writeFileAtomicSync(join(dir, long), 'ok');
    assert.equal(readFileSync(join(dir, long), 'utf8'), 'ok');
  }));

test('mistake 7: a failed --prepare leaves no run.json behind, so the corrected command runs', () =>
  withTmp(async (dir) => {
    const data = join(dir, 'data');
    const run = join(dir, 'run');
    writeTinyData(data, 8, 8);
    const csv = join(data, 'train_curated.csv');
    const good = readFileSync(csv, 'utf8');
    writeFileSync(csv, good.replace('c001.wav,"High_tone"', 'c001.wav,"Hihg_tone"'));
    await assert.rejects(trainCommand.run({ run, data, folds: '3', prepare: true }, []), /Hihg_tone/);
    assert.equal(existsSync(runInfoPath(run)), false, 'no run.json after a failed --prepare');
    writeFileSync(csv, good);
    // The corrected command, with other settings than the failed one: not blocked.
    assert.equal(await trainCommand.run({ run, data, folds: '2', prepare: true }, []), 0);
    assert.equal(JSON.parse(readFileSync(runInfoPath(run), 'utf8')).config.pipeline.folds, 2);
  }));

test('mistake 8: --out is checked before any work: missing folders are not created; write errors name the file, never a temp file', () =>
  withTmp(async (dir) => {
    const data = join(dir, 'data');
    const run = join(dir, 'run');
    writeTinyData(data, 4, 4);
    addTestSet(data);
    fakeRun(run, data);
    const out = join(dir, 'no', 'such', 'folder', 'sub.csv');
    // No model exists in this run: an error about the models would mean the work had started.
    await assert.rejects(inferCommand.run({ run, out, quiet: true }, []), /--out .*sub\.csv: its folder .*folder does not exist/);
    assert.equal(existsSync(join(dir, 'no')), false);
    mkdirSync(join(dir, 'adir'));
    await assert.rejects(inferCommand.run({ run, out: join(dir, 'adir'), quiet: true }, []), /is a folder/);
    // A write that fails names the target, not `<target>.<pid>.<time>.tmp`.
    mkdirSync(join(dir, 'target.csv'));
    assert.throws(
      () => writeFileAtomicSync(join(dir, 'target.csv'), 'x'),
      (err: Error) => /cannot write .*target\.csv: EISDIR/.test(err.message) && !/\.tmp/.test(err.message),
    );
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp file left');
  }));

test('mistake 9: --workers 1000 starts at most one worker per core', () =>
  withTmp(async (dir) => {
    const data = join(dir, 'data');
    writeTinyData(data, availableParallelism() + 2, 0);
    const r = await preprocessDatasets({ dataDir: data, datasets: ['train_curated'], cacheDir: join(dir, 'cache'), config: PRE, workers: 1000 });
    assert.equal(r.failed, 0);
    assert.ok(r.workers >= 1 && r.workers <= availableParallelism(), `${r.workers} workers on ${availableParallelism()} cores`);
  }));

/** A pid that no longer runs: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

test('mistake 10a: a second job on the same (arch, stage, fold) exits naming the holder; a stale lock is taken over', () =>
  withTmp(async (dir) => {
    const lock = join(dir, 'fold0', 'lock.json');
    const release = acquireJobLock(lock, 'cnnModel1 stage 1 fold 0');
    assert.throws(() => acquireJobLock(lock, 'cnnModel1 stage 1 fold 0'), (err: Error) => {
      assert.ok(err instanceof JobLockedError);
      assert.match(err.message, new RegExp(`cnnModel1 stage 1 fold 0 is already being run by pid ${process.pid} on this host \\(${hostname()}\\)`));
      return true;
    });
    release();
    assert.equal(existsSync(lock), false, 'released');
    // Another host's lock cannot be checked from here: refused, with how to remove it.
    writeFileSync(lock, JSON.stringify({ pid: 1, host: 'other-machine', startedAt: '2026-01-01T00:00:00Z', job: 'x' }));
    assert.throws(() => acquireJobLock(lock, 'job'), /pid 1 on host other-machine.*delete .*lock\.json/);
    // A lock of a process of this host that is gone (killed) is stale: taken over.
    const dead = deadPid();
    writeFileSync(lock, JSON.stringify({ pid: dead, host: hostname(), startedAt: '2026-01-01T00:00:00Z', job: 'x' }));
    const notes: string[] = [];
    const again = acquireJobLock(lock, 'job', (m) => notes.push(m));
    assert.equal(JSON.parse(readFileSync(lock, 'utf8')).pid, process.pid);
    assert.match(notes.join('\n'), new RegExp(`stale lock of pid ${dead}`));
    again();
    // trainStageFold takes the lock: a held one stops it before it trains.
    const run = join(dir, 'run');
    const config = tinyConfig();
    const held = jobLockPath(run, config.model.arch, 1, 0);
    mkdirSync(join(held, '..'), { recursive: true });
    writeFileSync(held, JSON.stringify({ pid: process.pid, host: hostname(), startedAt: '2026-01-01T00:00:00Z', job: 'other' }));
    await assert.rejects(trainStageFold({ runDir: run, dataDir: join(dir, 'data'), stage: 1, fold: 0, config }), /cnnModel1 stage 1 fold 0 is already being run by pid/);
  }));

test('mistake 10b: a cache entry whose bytes changed on disk is detected and recomputed', () =>
  withTmp(async (dir) => {
    const data = join(dir, 'data');
    const cache = join(dir, 'cache');
    writeTinyData(data, 2, 0);
    const opts = { dataDir: data, dataset: 'train_curated', fnames: ['c000.wav'], cacheDir: cache, config: PRE };
    const [first] = await loadClipImages(opts);
    const entry = cacheEntryPath(cache, PRE, 'train_curated', 'c000.wav');
    const bytes = readFileSync(entry);
    bytes[bytes.length - 7] ^= 0xff;
    writeFileSync(entry, bytes);
    assert.equal(readCachedImage(entry, PRE.nMels), null, 'a flipped pixel byte is detected');
    const [again] = await loadClipImages(opts);
    assert.deepEqual(again.data, first.data, 'recomputed, not served corrupted');
    assert.ok(readCachedImage(entry, PRE.nMels), 'and rewritten');
  }));

test('validateClips: one error lists every problem, grouped by kind', () =>
  withTmp((dir) => {
    writeFileSync(join(dir, 'ok.wav'), encodeWavPcm16(new Float32Array(100), 8000));
    writeFileSync(join(dir, 'empty.wav'), '');
    mkdirSync(join(dir, 'folder.wav'));
    const clips = ['ok.wav', 'empty.wav', 'folder.wav', 'nope.wav', '../x.wav', '/etc/passwd'].map((name) => ({ name, path: name.startsWith('/') ? name : join(dir, name) }));
    assert.throws(() => validateClips(clips, dir, 'list.csv'), (err: Error) => {
      assert.ok(err instanceof ClipValidationError);
      assert.deepEqual(err.problems.map((p) => [p.name, p.kind]), [
        ['empty.wav', 'unreadable'],
        ['folder.wav', 'not a file'],
        ['nope.wav', 'missing'],
        ['../x.wav', 'outside the data folder'],
        ['/etc/passwd', 'outside the data folder'],
      ]);
      assert.match(err.message, /^5 of 6 clip\(s\) listed in list\.csv cannot be used:\n {2}outside the data folder \(2\):/);
      return true;
    });
    validateClips(clips.slice(0, 1), dir);
  }));
