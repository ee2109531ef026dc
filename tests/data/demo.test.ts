import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { readWavInfo } from '../../lib/audio/index';
import { parseCsv, readLabelCsv, readVocabulary } from '../../lib/data/labels';
import {
  DEMO_CLASSES,
  DEMO_SETS,
  DEMO_SIZES,
  DEMO_VOCABULARY,
  corruptLabels,
  generateDemoDataset,
  type DemoClipPlan,
  type DemoSummary,
} from '../../lib/data/demo/index';
import { Rng } from '../../lib/util/rng';

const tmp = mkdtempSync(join(tmpdir(), 'fat2019-demo-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const dirA = join(tmp, 'a');
const dirB = join(tmp, 'b');
const dirC = join(tmp, 'c');
let a: DemoSummary;
let b: DemoSummary;
let c: DemoSummary;

/** Every file under `dir` (relative path → sha256). */
function hashes(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p), createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

function mtimes(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of hashes(dir).keys()) out.set(f, statSync(join(dir, f)).mtimeMs);
  return out;
}

before(async () => {
  a = await generateDemoDataset({ outDir: dirA, size: 'tiny', seed: 11 });
  b = await generateDemoDataset({ outDir: dirB, size: 'tiny', seed: 11 });
  c = await generateDemoDataset({ outDir: dirC, size: 'tiny', seed: 12 });
});

test('same seed → byte-identical CSVs and WAVs; another seed → different data', () => {
  const ha = hashes(dirA);
  const hb = hashes(dirB);
  assert.deepEqual([...ha.keys()].sort(), [...hb.keys()].sort());
  for (const [f, h] of ha) assert.equal(hb.get(f), h, `${f} differs between two runs with the same seed`);
  assert.ok([...ha.keys()].filter((f) => f.endsWith('.wav')).length > 50);
  assert.ok(!ha.has('demo.json.tmp') && ![...ha.keys()].some((f) => f.endsWith('.tmp')), 'no temp files left');

  const hc = hashes(dirC);
  assert.notEqual(readFileSync(join(dirA, 'train_curated.csv'), 'utf8'), readFileSync(join(dirC, 'train_curated.csv'), 'utf8'));
  const wavsA = new Set([...ha.keys()].filter((f) => f.endsWith('.wav')));
  const shared = [...hc.keys()].filter((f) => wavsA.has(f));
  assert.ok(shared.length < 3, `seeds 11 and 12 share ${shared.length} file names`);
  assert.equal(c.seed, 12);
  assert.deepEqual(a, { ...b, outDir: a.outDir, elapsedSec: a.elapsedSec });
});

test('the Kaggle layout is complete and consistent with the summary', () => {
  const spec = DEMO_SIZES.tiny;
  const V = DEMO_VOCABULARY.length;
  assert.ok(V >= 10 && V <= 12, `${V} classes`);
  assert.deepEqual([...DEMO_VOCABULARY], [...DEMO_VOCABULARY].sort());
  assert.deepEqual(a.vocabulary, [...DEMO_VOCABULARY]);
  assert.deepEqual(a.counts, { train_curated: spec.curatedPerClass * V, train_noisy: spec.noisyPerClass * V, test: spec.testPerClass * V });
  assert.equal(a.skipped, false);
  assert.deepEqual(readVocabulary(join(dirA, 'sample_submission.csv')), [...DEMO_VOCABULARY]);

  const csvOf: Record<string, string> = { train_curated: 'train_curated.csv', train_noisy: 'train_noisy.csv', test: 'test_post_competition.csv' };
  for (const set of DEMO_SETS) {
    // readLabelCsv with the vocabulary throws on any label outside it.
    const rows = readLabelCsv(join(dirA, csvOf[set]), DEMO_VOCABULARY);
    const files = readdirSync(join(dirA, set)).sort();
    assert.deepEqual(rows.map((r) => r.fname).sort(), files, `${set}: CSV rows = WAV files`);
    assert.equal(files.length, a.counts[set]);
    for (const f of files) assert.match(f, /^[0-9a-f]{8}\.wav$/);
    for (const r of rows) assert.ok(r.labels.length >= 1 && r.labels.length <= 4, `${r.fname}: ${r.labels}`);
    for (const label of DEMO_VOCABULARY) assert.ok(rows.some((r) => r.labels.includes(label)), `${set} has no ${label} clip`);
  }
  const curated = readLabelCsv(join(dirA, 'train_curated.csv'), DEMO_VOCABULARY);
  const multi = curated.filter((r) => r.labels.length > 1).length;
  assert.equal(multi, Math.round(spec.multiLabelRate * curated.length));
  assert.equal(multi, a.multiLabelClips.train_curated);
  // Labels of multi-label clips sit comma-separated in one quoted field.
  assert.match(readFileSync(join(dirA, 'train_curated.csv'), 'utf8'), /^[0-9a-f]{8}\.wav,"[^"]+,[^"]+"$/m);

  const post = parseCsv(readFileSync(join(dirA, 'test_post_competition.csv'), 'utf8'));
  assert.deepEqual(post[0], ['fname', 'labels', 'usage']);
  const usage = post.slice(1).map((r) => r[2]);
  assert.ok(usage.every((u) => u === 'Public' || u === 'Private'));
  assert.equal(usage.filter((u) => u === 'Public').length, Math.ceil(usage.length / 2));
  const sub = parseCsv(readFileSync(join(dirA, 'sample_submission.csv'), 'utf8'));
  assert.deepEqual(sub.slice(1).map((r) => r[0]), post.slice(1).map((r) => r[0]));
  assert.ok(sub.slice(1).every((r) => r.length === V + 1 && r.slice(1).every((v) => v === '0')));
});

test('clips are 44.1 kHz 16-bit mono WAVs within the size duration range', () => {
  const spec = DEMO_SIZES.tiny;
  let total = 0;
  for (const set of DEMO_SETS) {
    let seconds = 0;
    for (const f of readdirSync(join(dirA, set))) {
      const info = readWavInfo(join(dirA, set, f));
      assert.equal(info.sampleRate, 44100);
      assert.equal(info.channels, 1);
      assert.equal(info.bitsPerSample, 16);
      assert.ok(info.durationSec >= spec.minSeconds - 1e-4 && info.durationSec <= spec.maxSeconds + 1e-4, `${set}/${f}: ${info.durationSec} s`);
      seconds += info.durationSec;
    }
    assert.ok(Math.abs(seconds - a.seconds[set]) < 1e-6, `${set}: ${seconds} s vs summary ${a.seconds[set]} s`);
    total += seconds;
  }
  assert.ok(Math.abs(total - a.totalSeconds) < 1e-6);
});

test('test clips use only held-out recordings, training clips only training ones', () => {
  for (const cls of DEMO_CLASSES) {
    assert.ok(cls.train.length + cls.test.length >= 3, `${cls.label}: fewer than 3 recordings`);
    assert.ok(cls.train.length >= 1 && cls.test.length >= 1, `${cls.label}: empty side of the split`);
    for (const r of cls.test) assert.ok(!cls.train.includes(r), `${cls.label}: ${r} on both sides`);
  }
  const allTrain = new Set(DEMO_CLASSES.flatMap((k) => k.train));
  for (const k of DEMO_CLASSES) for (const r of k.test) assert.ok(!allTrain.has(r), `${r} is a test recording and a train one`);

  const events = parseCsv(readFileSync(join(dirA, 'demo_events.csv'), 'utf8'));
  assert.deepEqual(events[0], ['fname', 'set', 'label', 'recording', 'onset_s', 'duration_s', 'gain_db', 'semitones']);
  const used: Record<string, Set<string>> = { train: new Set(), test: new Set() };
  const eventLabels = new Map<string, Set<string>>();
  const perClip = new Map<string, number>();
  for (const [fname, set, label, recording, , , gainDb, semitones] of events.slice(1)) {
    const side = set === 'test' ? 'test' : 'train';
    assert.ok(a.recordings[label][side].includes(recording), `${set}/${fname}: ${label} event from ${recording}, not a ${side} recording`);
    used[side].add(recording);
    if (!eventLabels.has(fname)) eventLabels.set(fname, new Set());
    eventLabels.get(fname)!.add(label);
    perClip.set(fname, (perClip.get(fname) ?? 0) + 1);
    assert.ok(Number(gainDb) >= -12 && Number(gainDb) <= 0 && Math.abs(Number(semitones)) <= 2);
  }
  for (const r of used.test) assert.ok(!used.train.has(r), `${r} used by test and training clips`);
  for (const n of perClip.values()) assert.ok(n >= 1 && n <= 3, `${n} events in a clip`);
  // True labels = the labels of the clip's events (curated and test CSVs; the noisy truth file).
  for (const file of ['train_curated.csv', 'test_post_competition.csv', 'train_noisy_truth.csv']) {
    for (const r of readLabelCsv(join(dirA, file), DEMO_VOCABULARY)) {
      assert.deepEqual([...eventLabels.get(r.fname)!].sort(), [...r.labels].sort(), `${file} ${r.fname}`);
    }
  }
});

test('train_noisy labels are wrong for exactly round(rate · n) clips', () => {
  const listed = readLabelCsv(join(dirA, 'train_noisy.csv'), DEMO_VOCABULARY);
  const truth = new Map(readLabelCsv(join(dirA, 'train_noisy_truth.csv'), DEMO_VOCABULARY).map((r) => [r.fname, r.labels.join(',')]));
  const wrong = listed.filter((r) => truth.get(r.fname) !== [...r.labels].sort().join(',')).length;
  assert.equal(a.noisyLabelErrorRate, 0.4);
  assert.equal(wrong, Math.round(0.4 * listed.length));
  assert.equal(wrong, a.noisyWrongLabelClips);

  // corruptLabels on its own: other rates, replace-or-add, never a no-op.
  const plans = Array.from({ length: 200 }, (_, i) => ({ fname: `${i}`, labels: ['Tabla'], listedLabels: ['Tabla'] }) as DemoClipPlan);
  assert.equal(corruptLabels(plans, 0.25, DEMO_VOCABULARY, new Rng(3)), 50);
  const changed = plans.filter((p) => p.listedLabels.join() !== 'Tabla');
  assert.equal(changed.length, 50);
  assert.ok(changed.some((p) => p.listedLabels.length === 2 && p.listedLabels.includes('Tabla')), 'some wrong labels are added');
  assert.ok(changed.some((p) => p.listedLabels.length === 1), 'some wrong labels replace the true one');
  assert.throws(() => corruptLabels(plans, 1.5, DEMO_VOCABULARY, new Rng(3)), /noisyLabelErrorRate must be in \[0, 1\], got 1.5/);
});

test('a second call with the same parameters skips: files untouched', async () => {
  const before = mtimes(dirA);
  const again = await generateDemoDataset({ outDir: dirA, size: 'tiny', seed: 11 });
  assert.equal(again.skipped, true);
  assert.deepEqual({ ...again, skipped: false, elapsedSec: 0 }, { ...a, elapsedSec: 0 });
  assert.deepEqual(mtimes(dirA), before);
});

test('a half-written folder is regenerated; another size or seed replaces the old clips', async () => {
  const want = hashes(dirB);
  // Interrupted run: manifest marked incomplete, one clip missing, a stray temp file.
  const manifest = JSON.parse(readFileSync(join(dirB, 'demo.json'), 'utf8'));
  writeFileSync(join(dirB, 'demo.json'), JSON.stringify({ ...manifest, complete: false }));
  const victim = readdirSync(join(dirB, 'test'))[0];
  rmSync(join(dirB, 'test', victim));
  writeFileSync(join(dirB, 'test', `${victim}.123.tmp`), 'partial');
  const redo = await generateDemoDataset({ outDir: dirB, size: 'tiny', seed: 11 });
  assert.equal(redo.skipped, false);
  assert.deepEqual(hashes(dirB), want);

  // No manifest at all, folder holding only demo entries: regenerated as well.
  rmSync(join(dirB, 'demo.json'));
  assert.equal((await generateDemoDataset({ outDir: dirB, size: 'tiny', seed: 11 })).skipped, false);
  assert.deepEqual(hashes(dirB), want);

  // Another seed into the same folder: the old clips are gone, not mixed in.
  await generateDemoDataset({ outDir: dirB, size: 'tiny', seed: 12 });
  assert.deepEqual(hashes(dirB), hashes(dirC));
});

test('bad input fails with messages naming the problem', async () => {
  await assert.rejects(
    generateDemoDataset({ outDir: join(tmp, 'x'), size: 'tiny', seed: 1, samplesDir: join(tmp, 'no-such-package', 'samples') }),
    /supersonic-scsynth-samples.*not installed.*npm install/s,
  );
  await assert.rejects(generateDemoDataset({ outDir: join(tmp, 'y'), size: 'huge' as 'tiny', seed: 1 }), /size must be one of tiny, small, got "huge"/);
  await assert.rejects(generateDemoDataset({ outDir: join(tmp, 'y'), size: 'tiny', seed: 1.5 }), /seed must be an integer/);
  await assert.rejects(generateDemoDataset({ outDir: join(tmp, 'y'), size: 'tiny', seed: 1, noisyLabelErrorRate: -0.1 }), /noisyLabelErrorRate must be in \[0, 1\]/);
  // A non-empty folder that is not a demo dataset (e.g. the real data) is never written into.
  const real = join(tmp, 'real');
  mkdirSync(real);
  writeFileSync(join(real, 'vocabulary.csv'), '0,Accordion\n');
  await assert.rejects(generateDemoDataset({ outDir: real, size: 'tiny', seed: 1 }), /real: not empty and not a demo dataset .*vocabulary\.csv/);
  assert.deepEqual(readdirSync(real), ['vocabulary.csv']);
  assert.ok(!existsSync(join(tmp, 'y')));
});

test('data/DEMO-PROVENANCE.md lists exactly the recordings of DEMO_CLASSES, on the right side', () => {
  const doc = readFileSync(join(__dirname, '..', '..', 'data', 'DEMO-PROVENANCE.md'), 'utf8');
  const listed: Record<string, { train: string[]; test: string[] }> = {};
  let current = '';
  for (const line of doc.split('\n')) {
    const h = line.match(/^### (\S+)/);
    if (h) current = h[1];
    const row = line.match(/^\| `([a-z0-9_]+)` \| (train|\*\*test\*\*) \|/);
    if (row) (listed[current] ??= { train: [], test: [] })[row[2] === 'train' ? 'train' : 'test'].push(row[1]);
  }
  const expected = Object.fromEntries(DEMO_CLASSES.map((k) => [k.label, { train: [...k.train], test: [...k.test] }]));
  assert.deepEqual(listed, expected);
});
