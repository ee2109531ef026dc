import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeWavPcm16 } from '../../lib/audio/index';
import { decodeAudio, loadAudioFile } from '../../lib/audio/load';
import { runCommand } from '../../lib/cli/command';
import { inferCommand } from '../../lib/cli/infer';
import { trainCommand } from '../../lib/cli/train';
import { webCommand } from '../../lib/cli/web';
import { detectLayout } from '../../lib/data/layout';
import { findClipProblems } from '../../lib/data/validateClips';
import { loadEnsemble } from '../../lib/infer/ensemble';
import { foldDonePath, jobLockPath, runInfoPath, writeRunInfo, RUN_INFO_VERSION } from '../../lib/run/runFolder';
import { writeFileAtomicSync } from '../../lib/util/atomicWrite';
import { checkOutputFile, checkOutputFolder, RUN_FOLDER, SUBMISSION_CSV } from '../../lib/util/outputPath';
import { TINY_CLASSES, tinyConfig, writeTinyData } from '../support/pipelineFixture';

/**
 * Issue 25, "safe by construction": each case the issue lists, tried as a user would. Every
 * test here failed on the code before the fix (see the note in each).
 */

function withTmp(run: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-safety-'));
  return Promise.resolve()
    .then(() => run(dir))
    .finally(() => rmSync(dir, { recursive: true, force: true }));
}

/** A run folder with run.json, folds/curated.csv and one member's model.json (what a user's run holds). */
function fakeRun(runDir: string, dataDir: string): { model: string; folds: string } {
  writeRunInfo(runDir, { version: RUN_INFO_VERSION, config: tinyConfig(), vocabulary: TINY_CLASSES, dataDir, createdAt: '2026-01-01T00:00:00.000Z' });
  const model = join(runDir, 'cnnModel1', 'stage2', 'fold0', 'last', 'model.json');
  mkdirSync(join(model, '..'), { recursive: true });
  writeFileSync(model, '{"modelTopology":{},"weightsManifest":[]}\n');
  const folds = join(runDir, 'folds', 'curated.csv');
  mkdirSync(join(folds, '..'), { recursive: true });
  writeFileSync(folds, 'fname,fold\nc000.wav,0\n');
  return { model, folds };
}

/** A test folder with two clips, listed in sample_submission.csv. */
function addTestSet(data: string): void {
  mkdirSync(join(data, 'test'), { recursive: true });
  const tone = Float32Array.from({ length: 8000 }, (_, i) => 0.3 * Math.sin(i / 5));
  for (const f of ['t0.wav', 't1.wav']) writeFileSync(join(data, 'test', f), encodeWavPcm16(tone, 8000));
  writeFileSync(join(data, 'sample_submission.csv'), `fname,${TINY_CLASSES.join(',')}\nt0.wav,0,0,0,0\nt1.wav,0,0,0,0\n`);
}

function setup(dir: string): { data: string; run: string; model: string; folds: string } {
  const data = join(dir, 'data');
  const run = join(dir, 'run');
  writeTinyData(data, 4, 4);
  addTestSet(data);
  return { data, run, ...fakeRun(run, data) };
}

// Case 1. Before: exit 0, the model replaced by a CSV (the run destroyed); the same for folds/curated.csv.
test('case 1: infer --out may not replace a file of the run (a model.json, folds/curated.csv); <run>/submission.csv stays allowed', () =>
  withTmp(async (dir) => {
    const { run, model, folds } = setup(dir);
    const before = [readFileSync(model, 'utf8'), readFileSync(folds, 'utf8')];
    await assert.rejects(inferCommand.run({ run, out: model, quiet: true }, []), /--out .*model\.json: inside the run folder .*submission\*\.csv/);
    await assert.rejects(inferCommand.run({ run, out: folds, quiet: true }, []), /--out .*curated\.csv: inside the run folder/);
    // A new file inside the run's subfolders is refused too (it is not the command's place).
    await assert.rejects(inferCommand.run({ run, out: join(run, 'cnnModel1', 'x.csv'), quiet: true }, []), /inside the run folder/);
    assert.deepEqual([readFileSync(model, 'utf8'), readFileSync(folds, 'utf8')], before);
    // The command's own place passes the rule (the error is about the missing models: work started).
    await assert.rejects(inferCommand.run({ run, out: join(run, 'submission_x.csv'), quiet: true }, []), /no finished ensemble member/);
    // An existing file outside any run or dataset: only a submission CSV this toolkit wrote may be replaced.
    const notes = join(dir, 'notes.csv');
    writeFileSync(notes, 'my,own\nnotes,here\n');
    await assert.rejects(inferCommand.run({ run, out: notes, quiet: true }, []), /notes\.csv: exists and is not a submission CSV/);
    assert.equal(readFileSync(notes, 'utf8'), 'my,own\nnotes,here\n');
    const old = join(dir, 'old.csv');
    writeFileSync(old, `fname,${TINY_CLASSES.join(',')}\nt0.wav,0.1,0.2,0.3,0.4\n`);
    assert.doesNotThrow(() => checkOutputFile(old, { option: '--out', kind: SUBMISSION_CSV }));
  }));

// Case 2. Before: as root, `--out /dev/full` printed "wrote /dev/full" and the rename replaced the device node.
test('case 2: a device or special file is never an output; the atomic write refuses to replace one', () =>
  withTmp(async (dir) => {
    const { run } = setup(dir);
    if (existsSync('/dev/full')) {
      await assert.rejects(inferCommand.run({ run, out: '/dev/full', quiet: true }, []), /--out \/dev\/full: is a character device/);
      assert.throws(() => checkOutputFile('/dev/full', { option: '--out', kind: SUBMISSION_CSV }), /is a character device/);
      assert.ok(lstatSync('/dev/full').isCharacterDevice());
    }
    // A refused output is an operator mistake: the command line exits 2, as for a bad option.
    assert.equal(await runCommand(inferCommand, ['--run', run, '--out', runInfoPath(run), '--quiet']), 2);
    assert.ok(existsSync(runInfoPath(run)), 'run.json is still there');
    // A socket made here stands in for any special file (a FIFO, a device): safe to try to replace.
    const sock = join(dir, 'out.sock');
    const server = createServer();
    await new Promise<void>((done) => server.listen(sock, done));
    try {
      await assert.rejects(inferCommand.run({ run, out: sock, quiet: true }, []), /out\.sock: is a socket, not a regular file/);
      assert.throws(() => writeFileAtomicSync(sock, 'fname\n'), /cannot write .*out\.sock: it is a device or special file/);
      assert.ok(lstatSync(sock).isSocket(), 'the socket is still a socket');
    } finally {
      await new Promise<void>((done) => server.close(() => done()));
    }
  }));

/** The committed FLAC fixture (scripts/make-flac-fixture.sh): 4.4 s, 8 kHz, 31 frames. */
const FLAC = join(__dirname, '..', 'fixtures', 'audio', 'steps.flac');

// Case 3. Before: a FLAC with a bad frame CRC decoded to the frames before it (1.3 s of 4.4 s), exit 0.
test('case 3: a FLAC with a bad frame CRC or a wrong MD5 is an error naming the file and what is wrong', async () => {
  const good = new Uint8Array(readFileSync(FLAC));
  const decoded = await decodeAudio(good, 'steps.flac');
  assert.equal(decoded.channelData[0].length, 35200, 'the intact file decodes whole (4.4 s at 8 kHz)');
  // One flipped byte inside a frame, about 30 % into the file: that frame's CRC fails.
  const crc = good.slice();
  crc[Math.floor(good.length * 0.3)] ^= 0x5a;
  await assert.rejects(decodeAudio(crc, 'crc.flac'), /crc\.flac: damaged FLAC: decoded \d+ of the 35200 samples its header declares \(\d\.\d\d s of 4\.40 s\): a frame failed its CRC/);
  // A changed MD5 signature in STREAMINFO (bytes 26..41): every frame decodes, the samples do not match it.
  const md5 = good.slice();
  md5[30] ^= 0x01;
  await assert.rejects(decodeAudio(md5, 'md5.flac'), /md5\.flac: damaged FLAC: the decoded audio does not match the MD5 signature/);
  // Through the file loader too (what preprocess and tag call), naming the path.
  await withTmp(async (dir) => {
    const path = join(dir, 'clip.flac');
    writeFileSync(path, crc);
    await assert.rejects(loadAudioFile(path, { sampleRate: null }), (err: Error) => err.message.startsWith(`${path}: damaged FLAC`));
  });
});

// Case 4. Before: `web --out` overwrote the user's index.html; into a run or dataset folder it mixed the site in.
test('case 4: web --out writes only into a new, empty or earlier web folder; never into a run or dataset folder', () =>
  withTmp(async (dir) => {
    const { run, data } = setup(dir);
    const mine = join(dir, 'mysite');
    mkdirSync(mine);
    writeFileSync(join(mine, 'index.html'), '<p>my page</p>\n');
    await assert.rejects(webCommand.run({ run, out: mine }, []), /--out .*mysite: not empty and not a site folder 'fat2019 web' wrote \(holds index\.html\)/);
    assert.equal(readFileSync(join(mine, 'index.html'), 'utf8'), '<p>my page</p>\n');
    await assert.rejects(webCommand.run({ run, out: run }, []), /--out .*run: not empty and not a site folder/);
    await assert.rejects(webCommand.run({ run, out: join(run, 'site') }, []), /inside the run folder/);
    await assert.rejects(webCommand.run({ run, out: join(data, 'site') }, []), /inside the data folder/);
    await assert.rejects(webCommand.run({ run, out: data }, []), /inside the data folder|not empty/);
    assert.equal(existsSync(join(run, 'site')) || existsSync(join(data, 'site')) || existsSync(join(run, 'index.html')), false);
    // An earlier site (site.json) and an empty folder pass the rule.
    const earlier = join(dir, 'earlier');
    mkdirSync(earlier);
    writeFileSync(join(earlier, 'site.json'), '{}');
    writeFileSync(join(earlier, 'index.html'), 'old page');
    const { WEB_SITE_FOLDER } = await import('../../lib/web/site');
    assert.doesNotThrow(() => checkOutputFolder(earlier, { option: '--out', kind: WEB_SITE_FOLDER }));
    mkdirSync(join(dir, 'empty'));
    assert.doesNotThrow(() => checkOutputFolder(join(dir, 'empty'), { option: '--out', kind: WEB_SITE_FOLDER }));
  }));

/** A folder-per-class data set: train/<class>/<n>.wav, `perClass` clips each. */
function writeFolderPerClass(root: string, classes: readonly string[], perClass = 2): void {
  const tone = Float32Array.from({ length: 4000 }, (_, i) => 0.2 * Math.sin(i / 3));
  for (const c of classes) {
    mkdirSync(join(root, 'train', c), { recursive: true });
    for (let i = 0; i < perClass; i++) writeFileSync(join(root, 'train', c, `${i}.wav`), encodeWavPcm16(tone, 8000));
  }
}

// Case 5. Before: a class folder that is a symbolic link was ignored ("3 classes"), its clips dropped.
test('case 5: a symlinked class folder is followed like a folder (its clips are that class)', () =>
  withTmp((dir) => {
    const data = join(dir, 'data');
    writeFolderPerClass(data, ['bark', 'meow', 'moo']);
    writeFolderPerClass(join(dir, 'elsewhere'), ['tweet']);
    symlinkSync(join(dir, 'elsewhere', 'train', 'tweet'), join(data, 'train', 'tweet'), 'dir');
    const layout = detectLayout(data);
    assert.deepEqual(layout.vocabulary, ['bark', 'meow', 'moo', 'tweet']);
    assert.deepEqual(layout.curated.clips.filter((c) => c.labels[0] === 'tweet').map((c) => c.fname), ['tweet/0.wav', 'tweet/1.wav']);
    // A link loop inside a class folder does not hang the scan.
    symlinkSync(join(data, 'train', 'bark'), join(data, 'train', 'bark', 'again'), 'dir');
    assert.equal(detectLayout(data).curated.clips.filter((c) => c.labels[0] === 'bark').length, 2);
  }));

// Case 6. Before: a one-class label CSV trained, reported accuracy 1.0000, and tag printed "1.0000 Dog" for any file.
test('case 6: a single-class data set is refused (unless some clips have no label: a detector)', () =>
  withTmp((dir) => {
    const tone = Float32Array.from({ length: 4000 }, (_, i) => 0.2 * Math.sin(i / 3));
    for (const f of ['a.wav', 'b.wav', 'c.wav']) writeFileSync(join(dir, f), encodeWavPcm16(tone, 8000));
    const csv = join(dir, 'labels.csv');
    writeFileSync(csv, 'fname,labels\na.wav,Dog\nb.wav,Dog\nc.wav,Dog\n');
    assert.throws(() => detectLayout(csv), /labels\.csv: only one class \("Dog"\), and every clip has it/);
    // Clips without the class make it a detector: accepted.
    writeFileSync(csv, 'fname,labels\na.wav,Dog\nb.wav,Dog\nc.wav,\n');
    assert.deepEqual(detectLayout(csv).vocabulary, ['Dog']);
  }));

// Case 7. Before: `--width 1e9` failed with "Invalid typed array length" after writing run.json, which then blocked the corrected command.
test('case 7: train --width 1e9 is refused before run.json is written; the corrected command runs', () =>
  withTmp(async (dir) => {
    const data = join(dir, 'data');
    const run = join(dir, 'run');
    writeTinyData(data, 8, 8);
    await assert.rejects(trainCommand.run({ run, data, folds: '2', width: '1e9', prepare: true, quiet: true }, []), /--width must be at most 8, got 1000000000/);
    await assert.rejects(trainCommand.run({ run, data, 'head-units': '100000000', prepare: true, quiet: true }, []), /--head-units must be at most 16384, got 100000000/);
    assert.equal(existsSync(runInfoPath(run)), false, 'no run.json after the refused command');
    assert.equal(await trainCommand.run({ run, data, folds: '2', width: '0.125', prepare: true, quiet: true }, []), 0);
    assert.equal(JSON.parse(readFileSync(runInfoPath(run), 'utf8')).config.model.widthMultiplier, 0.125);
  }));

// Unclear 1. Before: `tag x.mp3` said "not a WAV file: no RIFF/WAVE header".
test('unclear: an MP3 given to the decoder is named as MP3 (as preprocess names it)', async () => {
  const id3 = new Uint8Array([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 0, 0xff, 0xfb, 0x90, 0x64, 0, 0]);
  await assert.rejects(decodeAudio(id3, 'x.mp3'), /x\.mp3: MP3 is not supported \(only WAV and FLAC: convert it/);
  await assert.rejects(decodeAudio(new Uint8Array([0xff, 0xfb, 0x90, 0x64, 0, 0, 0, 0]), 'y.wav'), /y\.wav: MP3 is not supported/);
});

// Unclear 2. Before: `train --run <a file>` gave a raw "ENOTDIR ... recipe.json.<pid>.tmp".
test('unclear: train --run <a file> says it is a file; --run inside a dataset or another run is refused', () =>
  withTmp(async (dir) => {
    const data = join(dir, 'data');
    writeTinyData(data, 8, 8);
    const file = join(dir, 'notes.txt');
    writeFileSync(file, 'x');
    await assert.rejects(trainCommand.run({ run: file, data, prepare: true, quiet: true }, []), /--run .*notes\.txt: is a file, not a folder/);
    await assert.rejects(trainCommand.run({ run: join(data, 'run'), data, prepare: true, quiet: true }, []), /--run .*: inside the (data|dataset) folder/);
    const { run } = setup(join(dir, 'other'));
    await assert.rejects(trainCommand.run({ run: join(run, 'nested'), data, prepare: true, quiet: true }, []), /inside the run folder/);
    assert.doesNotThrow(() => checkOutputFolder(run, { option: '--run', kind: RUN_FOLDER }));
  }));

// Unclear 3. Before: `--out /proc/s.csv` said "its folder does not exist"; `--out ''` printed "cannot write : ENOENT".
test('unclear: infer --out "" and --out in a folder that takes no files are named before any work', () =>
  withTmp(async (dir) => {
    const { run } = setup(dir);
    await assert.rejects(inferCommand.run({ run, out: '', quiet: true }, []), /--out is empty: give a submission CSV/);
    if (existsSync('/proc/self')) {
      await assert.rejects(inferCommand.run({ run, out: '/proc/s.csv', quiet: true }, []), /--out \/proc\/s\.csv: cannot create files in \/proc/);
    }
  }));

// Unclear 4. Before: "../x.wav" was refused as "resolves to <data>/x.wav, outside <data>" (a path inside it).
test('unclear: a clip name with ".." or an absolute path is refused stating the rule, not a contradicting path', () =>
  withTmp((dir) => {
    const data = join(dir, 'data');
    mkdirSync(join(data, 'train_curated'), { recursive: true });
    writeFileSync(join(data, 'x.wav'), encodeWavPcm16(new Float32Array(800), 8000));
    const problems = findClipProblems([
      { name: '../x.wav', path: join(data, 'train_curated', '../x.wav') },
      { name: join(data, 'x.wav'), path: join(data, 'x.wav') },
    ], data);
    assert.match(problems[0].detail, /"\.\.\/x\.wav" leaves its set's folder with "\.\."/);
    assert.match(problems[1].detail, /is an absolute path; clip names are paths relative to their set's folder/);
    for (const p of problems) assert.doesNotMatch(p.detail, /outside/);
  }));

// Unclear 5. Before: infer on a run whose training still ran used the finished models without a word.
test('unclear: infer/tag refuse a run with jobs still training, unless partial', () =>
  withTmp(async (dir) => {
    const { run, data } = setup(dir);
    // One finished member (done.json + its model) and one job held by this live process.
    const done = foldDonePath(run, 'cnnModel1', 2, 0);
    writeFileSync(done, '{}');
    const lock = jobLockPath(run, 'cnnModel1', 2, 1);
    mkdirSync(join(lock, '..'), { recursive: true });
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z', job: 'cnnModel1 stage 2 fold 1' }));
    await assert.rejects(loadEnsemble(run, { lazy: true, engine: 'tfjs' }),
      /1 job\(s\) of this run are still training: cnnModel1\/stage2\/fold1 \(pid \d+ on .*\); the ensemble would use only 1 of its 2 models\. .*--partial/);
    await assert.rejects(inferCommand.run({ run, data, quiet: true }, []), /still training/);
    const lines: string[] = [];
    const ensemble = await loadEnsemble(run, { lazy: true, engine: 'tfjs', partial: true, log: (l) => lines.push(l) });
    assert.equal(ensemble.members.length, 1);
    assert.match(lines.join('\n'), /--partial: 1 finished model\(s\)/);
    ensemble.dispose();
    // A stale lock (its process gone) is not a running job.
    writeFileSync(lock, JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z', job: 'x' }));
    (await loadEnsemble(run, { lazy: true, engine: 'tfjs' })).dispose();
  }));

const TORCH = join(__dirname, '..', 'fixtures', 'torchimport');

// Unclear 6. Before: a second file whose normalisation differed was refused ("differs from the run"), and a wrong --arch never suggested the right one.
test('import: members keep their own input normalisation (PyTorch logits as oracle); a wrong --arch names the matching one', () =>
  withTmp(async (dir) => {
    const tf = await import('@tensorflow/tfjs');
    await tf.setBackend('cpu');
    const { importWeights } = await import('../../lib/run/importWeights');
    const { predictImages } = await import('../../lib/infer/index');
    const expected = JSON.parse(readFileSync(join(TORCH, 'expected.json'), 'utf8')) as {
      inputs: { file: string; count: number; height: number; width: number };
      cnnModel1: { logitsNormalized: number[][]; logitsRaw: number[][] };
    };
    const run = join(dir, 'run');
    const silent = { log: () => undefined };
    // The export carries fastai's normalisation; the state_dict of the same weights has none.
    await importWeights(run, [{ file: join(TORCH, 'cnnModel1_export.pkl'), stage: 2, fold: 0 }], { arch: 'cnnModel1', ...silent });
    await importWeights(run, [{ file: join(TORCH, 'cnnModel1_state_dict.pt'), stage: 2, fold: 1 }], { arch: 'cnnModel1', ...silent });
    const done = JSON.parse(readFileSync(foldDonePath(run, 'cnnModel1', 2, 1), 'utf8')) as { inputNormalization?: unknown };
    assert.equal(done.inputNormalization, null, 'the second member records that it has no normalisation');
    const { count: N, height: H, width: W } = expected.inputs;
    const u8 = readFileSync(join(TORCH, expected.inputs.file));
    const images = Array.from({ length: N }, (_, i) => ({ nMels: H, frames: W, data: u8.subarray(i * H * W, (i + 1) * H * W) }));
    const ensemble = await loadEnsemble(run, { engine: 'tfjs' });
    try {
      assert.equal(ensemble.members.length, 2);
      const probs = await predictImages(ensemble, images);
      const sig = (z: number) => 1 / (1 + Math.exp(-z));
      // Arithmetic mean of the two members, each fed as PyTorch fed it.
      const want = expected.cnnModel1.logitsNormalized.flatMap((row, i) => row.map((z, c) => (sig(z) + sig(expected.cnnModel1.logitsRaw[i][c])) / 2));
      const diff = Math.max(...want.map((w, k) => Math.abs(w - probs[k])));
      assert.ok(diff < 1e-5, `max difference ${diff}`);
    } finally {
      ensemble.dispose();
    }
    await assert.rejects(importWeights(join(dir, 'run2'), [{ file: join(TORCH, 'cnnModel1_export.pkl'), stage: 2, fold: 0 }], { arch: 'vgg16bn', ...silent }),
      /not vgg16bn .* It matches cnnModel1 layer for layer: import it with --arch cnnModel1/);
    assert.equal(existsSync(join(dir, 'run2')), false);
  }));

// Unclear 7. Before: a git-lfs pointer was "not a PyTorch file".
test('import: a git-lfs pointer file is named as such, with what to do', () =>
  withTmp(async (dir) => {
    const { loadTorchFile } = await import('../../lib/io/torchFile');
    const pointer = join(dir, 'stage-2_fold-0.pkl');
    writeFileSync(pointer, 'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345678\n');
    assert.throws(() => loadTorchFile(pointer), /a git-lfs pointer file \(\d+ bytes standing for 12345678 bytes\), not the checkpoint itself: fetch the real file with 'git lfs pull'/);
  }));

// Unclear 8. Before: every command's first tensor printed tfjs' "Hi, looks like you are running TensorFlow.js in Node.js" banner.
test('quiet start: the first tensor on the cpu backend prints no tfjs banner', () => {
  const code = "require('./lib/runtime/backend'); const tf = require('@tensorflow/tfjs'); tf.setBackend('cpu'); tf.tensor([1, 2]).dataSync(); console.log('done');";
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { cwd: join(__dirname, '..', '..'), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /done/);
  assert.doesNotMatch(r.stdout + r.stderr, /Hi, looks like you are running TensorFlow\.js/);
});

// Unclear 8b. Before: every `npx fat2019` printed npm's `Unknown project config "onnxruntime-node-install"` warning (.npmrc).
test('quiet start: npx fat2019 prints no npm warning, and no dependency install script is left to npm\'s default', () => {
  const root = join(__dirname, '..', '..');
  const r = spawnSync('npx', ['--no-install', 'fat2019', '--help'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Usage: fat2019 <command>/);
  assert.doesNotMatch(r.stderr, /npm warn/i);
  // The CUDA download of onnxruntime-node is denied by name, not by an .npmrc key npm warns about.
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
  assert.equal(pkg.allowScripts?.['onnxruntime-node'], false);
  assert.ok(!existsSync(join(root, '.npmrc')));
});

// Unclear 9. Before: two exports with different class orders in one command failed ("its classes differ") without a word about --vocabulary.
test('import: a second export with its classes in another order is reordered to the first file\'s order', () =>
  withTmp(async (dir) => {
    const tf = await import('@tensorflow/tfjs');
    await tf.setBackend('cpu');
    const { importWeights } = await import('../../lib/run/importWeights');
    const { predictImages } = await import('../../lib/infer/index');
    const expected = JSON.parse(readFileSync(join(TORCH, 'expected.json'), 'utf8')) as { classes: string[]; inputs: { file: string; count: number; height: number; width: number } };
    const classes = expected.classes;
    // The export pickles its classes as a numpy unicode array (UTF-32, fixed width): swapping
    // two entries gives a valid export of the same weights that names outputs 'Bark' and 'Bus' the other way round.
    const bytes = readFileSync(join(TORCH, 'cnnModel1_export.pkl'));
    const width = 4 * Math.max(...classes.map((c) => c.length));
    const entry = (c: string): Buffer => {
      const out = Buffer.alloc(width);
      Array.from(c).forEach((ch, i) => out.writeUInt32LE(ch.codePointAt(0)!, 4 * i));
      return out;
    };
    const base = bytes.indexOf(entry(classes[0]));
    assert.ok(base > 0, 'the class array is in the export');
    const a = classes.indexOf('Bark');
    const b = classes.indexOf('Bus');
    const swapped = Buffer.from(bytes);
    bytes.copy(swapped, base + a * width, base + b * width, base + (b + 1) * width);
    bytes.copy(swapped, base + b * width, base + a * width, base + (a + 1) * width);
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'stage-2_fold-0.pkl'), bytes);
    writeFileSync(join(src, 'stage-2_fold-1.pkl'), swapped);
    const run = join(dir, 'run');
    await importWeights(run, [{ file: join(src, 'stage-2_fold-0.pkl'), stage: 2, fold: 0 }, { file: join(src, 'stage-2_fold-1.pkl'), stage: 2, fold: 1 }], { arch: 'cnnModel1', log: () => undefined });
    const { count: N, height: H, width: W } = expected.inputs;
    const u8 = readFileSync(join(TORCH, expected.inputs.file));
    const images = Array.from({ length: N }, (_, i) => ({ nMels: H, frames: W, data: u8.subarray(i * H * W, (i + 1) * H * W) }));
    const probsOf = async (fold: number) => {
      const e = await loadEnsemble(run, { folds: [fold], engine: 'tfjs' });
      try {
        return await predictImages(e, images);
      } finally {
        e.dispose();
      }
    };
    const p0 = await probsOf(0);
    const p1 = await probsOf(1);
    const C = classes.length;
    for (let i = 0; i < N; i++) {
      for (let c = 0; c < C; c++) {
        const from = c === a ? b : c === b ? a : c;
        assert.ok(Math.abs(p1[i * C + c] - p0[i * C + from]) < 1e-6, `clip ${i} class ${classes[c]}`);
      }
    }
  }));

// The FLAC check's MD5 (plain TypeScript, for the browser page too) against node:crypto.
test('md5Hex equals node:crypto for lengths around the 64-byte block and padding boundaries', async () => {
  const { createHash } = await import('node:crypto');
  const { md5Hex } = await import('../../lib/util/md5');
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 70001]) {
    const data = Uint8Array.from({ length: n }, (_, i) => (i * 131 + (i >> 7)) & 0xff);
    assert.equal(md5Hex(data), createHash('md5').update(data).digest('hex'), `${n} bytes`);
  }
});
