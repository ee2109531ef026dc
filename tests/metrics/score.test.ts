import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLabelCsv, vocabularyFromFile, labelMatrix, csvField } from '../../lib/data/labels';
import { writeSubmission, readSubmission, formatFloat32 } from '../../lib/data/submission';
import { scoreSubmission } from '../../lib/task/score';
import { lwlrap } from '../../lib/metrics/lwlrap';
import { Rng } from '../../lib/util/rng';

const ROOT = join(__dirname, '..', '..');
const DATA = join(ROOT, 'data', 'fsdkaggle2019');
const TRUTH = join(DATA, 'test_post_competition.csv');

function withTmp(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-score-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A small demo world with its own vocabulary (not FSDKaggle2019's). */
const VOCAB = ['Bark', 'Dog', 'Purr', 'Walk'];
const TRUTH_CSV = 'fname,labels,usage\na.wav,"Bark,Dog",Public\nb.wav,Purr,Private\nc.wav,Walk,Public\nd.wav,"Dog,Walk",Private\n';

test('formatFloat32 is the shortest decimal that reads back as the same float32', () => {
  assert.equal(formatFloat32(0.1), '0.1');
  assert.equal(formatFloat32(Math.fround(0.1)), '0.1');
  assert.equal(formatFloat32(0), '0');
  assert.equal(formatFloat32(-2.5), '-2.5');
  const rng = new Rng(5);
  for (let i = 0; i < 2000; i++) {
    const v = Math.fround(rng.uniform() * 10 ** (rng.int(12) - 8));
    const s = formatFloat32(v);
    assert.equal(Math.fround(Number(s)), v, s);
  }
  assert.throws(() => formatFloat32(NaN), /non-finite score, got NaN/);
});

test('submission round trip: header order, exact float32 values, quoted fnames, atomic write', () => {
  withTmp((dir) => {
    const rng = new Rng(11);
    const fnames = ['a.wav', 'b,c.wav', 'd.wav'];
    const scores = new Float32Array(fnames.length * VOCAB.length);
    for (let i = 0; i < scores.length; i++) scores[i] = rng.uniform();
    scores[0] = 1e-9;
    const p = join(dir, 'sub', 'submission.csv');
    writeSubmission(p, fnames, scores, VOCAB);
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['submission.csv']); // no temp file left
    assert.equal(readFileSync(p, 'utf8').split('\n')[0], 'fname,Bark,Dog,Purr,Walk');
    const back = readSubmission(p, VOCAB);
    assert.deepEqual(back.fnames, fnames);
    assert.deepEqual(back.vocabulary, VOCAB);
    assert.deepEqual(Array.from(back.scores, Math.fround), Array.from(scores));
    // Columns in another order are mapped back to the vocabulary order.
    const cols = ['Walk', 'Bark', 'Purr', 'Dog'];
    const lines = ['fname,' + cols.join(',')];
    fnames.forEach((f, r) => lines.push([csvField(f), ...cols.map((c) => formatFloat32(scores[r * 4 + VOCAB.indexOf(c)]))].join(',')));
    writeFileSync(p, lines.join('\r\n') + '\r\n');
    assert.deepEqual(Array.from(readSubmission(p, VOCAB).scores, Math.fround), Array.from(scores));
    assert.throws(() => writeSubmission(p, ['x'], new Float32Array(3), VOCAB), /1 \* 4 = 4 values, got 3/);
    assert.throws(() => writeSubmission(p, ['x', 'x'], new Float32Array(8), VOCAB), /duplicate clip "x"/);
  });
});

test('malformed submissions give clear errors (row, column, value)', () => {
  withTmp((dir) => {
    const p = join(dir, 's.csv');
    const check = (text: string, re: RegExp) => {
      writeFileSync(p, text);
      assert.throws(() => readSubmission(p, VOCAB), re);
    };
    check('file,Bark,Dog,Purr,Walk\na.wav,0,0,0,0\n', /missing "fname" column.*got "file"/);
    check('fname,Bark,Dog,Purr,Wlak\na.wav,0,0,0,0\n', /1 unknown class column\(s\) not in the vocabulary: "Wlak" \(did you mean "Walk"\?\)/);
    check('fname,Bark,Dog,Purr\na.wav,0,0,0\n', /1 class column\(s\) missing: "Walk"/);
    check('fname,Bark,Dog,Purr,Walk,Dog\na.wav,0,0,0,0,0\n', /column "Dog" appears twice/);
    check('fname,Bark,Dog,Purr,Walk\na.wav,0,0.5,abc,0\n', /s\.csv:2: clip "a\.wav", column "Purr": value "abc" is not a finite number/);
    check('fname,Bark,Dog,Purr,Walk\na.wav,0,0,0,0\nb.wav,NaN,0,0,0\n', /s\.csv:3: clip "b\.wav", column "Bark": value "NaN" is not a finite number/);
    check('fname,Bark,Dog,Purr,Walk\na.wav,0,0,,0\n', /column "Purr": value "" is not a finite number/);
    check('fname,Bark,Dog,Purr,Walk\na.wav,0,0,0\n', /s\.csv:2: expected 5 fields \(fname \+ 4 classes\), got 4/);
    check('fname,Bark,Dog,Purr,Walk\na.wav,0,0,0,0\na.wav,1,1,1,1\n', /s\.csv:3: duplicate clip "a\.wav" \(first on line 2\)/);
    check('', /empty submission/);
  });
});

test('scoreSubmission: a perfect submission scores 1.0 on every split', () => {
  withTmp((dir) => {
    const t = join(dir, 'truth.csv');
    writeFileSync(t, TRUTH_CSV);
    const truth = readLabelCsv(t, VOCAB);
    const s = join(dir, 'perfect.csv');
    writeSubmission(s, truth.map((c) => c.fname), new Float32Array(labelMatrix(truth, VOCAB)), VOCAB);
    // The vocabulary comes from the submission header (the demo labels are not FSDKaggle2019's).
    const report = scoreSubmission({ submissionPath: s, truthPath: t });
    assert.equal(report.overall, 1);
    assert.deepEqual(report.perSplit, { Public: { lwlrap: 1, clips: 2 }, Private: { lwlrap: 1, clips: 2 } });
    assert.equal(report.clips, 4);
    assert.deepEqual(report.perClass.map((c) => [c.label, c.lwlrap, c.positives]), [['Bark', 1, 1], ['Dog', 1, 2], ['Purr', 1, 1], ['Walk', 1, 2]]);
    assert.ok(Math.abs(report.perClass.reduce((a, c) => a + c.weight, 0) - 1) < 1e-12);
  });
});

test('scoreSubmission on the real test labels: shuffled rows equal lwlrap computed directly, per split too', () => {
  withTmp((dir) => {
    const vocab = vocabularyFromFile(join(DATA, 'vocabulary.csv'));
    const truth = readLabelCsv(TRUTH, vocab);
    const y = labelMatrix(truth, vocab);
    const C = vocab.length;
    const rng = new Rng(2019);
    const scores = new Float32Array(y.length);
    for (let i = 0; i < scores.length; i++) scores[i] = Math.round((0.7 * rng.uniform() + 0.3 * y[i]) * 100) / 100; // with ties
    // Write the rows in a shuffled order, plus one clip that has no truth.
    const perm = rng.permutation(truth.length);
    const fnames = Array.from(perm, (r) => truth[r].fname).concat(['extra.wav']);
    const shuffled = new Float32Array((truth.length + 1) * C);
    perm.forEach((r, k) => shuffled.set(scores.subarray(r * C, r * C + C), k * C));
    const s = join(dir, 'submission.csv');
    writeSubmission(s, fnames, shuffled, vocab);
    const report = scoreSubmission({ submissionPath: s, truthPath: TRUTH, vocabulary: vocab });
    const direct = lwlrap(y, scores, C);
    assert.equal(report.overall, direct.overall);
    assert.equal(report.extraClips, 1);
    report.perClass.forEach((c, j) => assert.equal(c.lwlrap, direct.perClass[j]));
    for (const usage of ['Public', 'Private']) {
      const rows = truth.map((c, r) => [c, r] as const).filter(([c]) => c.usage === usage).map(([, r]) => r);
      const ys = new Uint8Array(rows.length * C);
      const ss = new Float32Array(rows.length * C);
      rows.forEach((r, k) => {
        ys.set(y.subarray(r * C, r * C + C), k * C);
        ss.set(scores.subarray(r * C, r * C + C), k * C);
      });
      assert.equal(report.perSplit[usage].lwlrap, lwlrap(ys, ss, C).overall, usage);
      assert.equal(report.perSplit[usage].clips, usage === 'Public' ? 1120 : 3361);
    }
    assert.deepEqual(Object.keys(report.perSplit), ['Public', 'Private']);
    // Only the Public split: the Private rows may then be absent.
    const pub = scoreSubmission({ submissionPath: s, truthPath: TRUTH, vocabulary: vocab, splits: ['Public'] });
    assert.equal(pub.overall, report.perSplit.Public.lwlrap);
  });
});

test('scoreSubmission refuses missing clips (count and names), unknown columns and bad values', () => {
  withTmp((dir) => {
    const t = join(dir, 'truth.csv');
    writeFileSync(t, TRUTH_CSV);
    const s = join(dir, 's.csv');
    writeSubmission(s, ['a.wav', 'c.wav'], new Float32Array(8), VOCAB);
    assert.throws(() => scoreSubmission({ submissionPath: s, truthPath: t }), /missing 2 of 4 clips .*e\.g\. b\.wav, d\.wav/);
    writeFileSync(s, 'fname,Bark,Dog,Purr,Walk,Cat\na.wav,0,0,0,0,0\n');
    assert.throws(() => scoreSubmission({ submissionPath: s, truthPath: t, vocabulary: VOCAB }), /unknown class column.*"Cat"/);
    writeFileSync(s, 'fname,Bark,Dog,Purr,Walk\na.wav,0,x,0,0\n');
    assert.throws(() => scoreSubmission({ submissionPath: s, truthPath: t }), /column "Dog": value "x" is not a finite number/);
    // A truth label the submission has no column for.
    writeFileSync(s, 'fname,Bark,Dog,Purr\na.wav,0,0,0\n');
    assert.throws(() => scoreSubmission({ submissionPath: s, truthPath: t }), /unknown label "Walk".*truth labels must be classes/);
    writeSubmission(s, ['a.wav', 'b.wav', 'c.wav', 'd.wav'], new Float32Array(16), VOCAB);
    assert.throws(() => scoreSubmission({ submissionPath: s, truthPath: t, splits: ['Test'] }), /no clip has usage "Test" \(usages: Public, Private\)/);
  });
});

function cli(args: string[]) {
  return spawnSync(process.execPath, [join(ROOT, 'bin', 'fat2019.cjs'), 'score', ...args], { encoding: 'utf8', cwd: ROOT });
}

test('CLI fat2019 score: report, --json, --per-class, exit 1 on an invalid submission', () => {
  withTmp((dir) => {
    const t = join(dir, 'truth.csv');
    writeFileSync(t, TRUTH_CSV);
    const truth = readLabelCsv(t, VOCAB);
    const s = join(dir, 's.csv');
    const scores = new Float32Array(labelMatrix(truth, VOCAB));
    scores[0] = 0; // a.wav: Bark now tied with Purr/Walk at 0 → below Dog
    writeSubmission(s, truth.map((c) => c.fname), scores, VOCAB);
    const direct = lwlrap(labelMatrix(truth, VOCAB), scores, VOCAB.length);
    const text = cli([s, '--truth', t, '--per-class']);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /Public\s+2\s+\d\.\d{6}/);
    assert.match(text.stdout, /Private\s+2\s+1\.000000/);
    assert.match(text.stdout, new RegExp(`all\\s+4\\s+${direct.overall.toFixed(6)}`));
    assert.match(text.stdout, /Bark\s+1\s+0\.1667/);
    const json = cli([s, '--truth', t, '--json']);
    assert.equal(json.status, 0, json.stderr);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.overall, direct.overall);
    assert.equal(parsed.perSplit.Private.lwlrap, 1);
    assert.equal(parsed.perClass, undefined);
    writeFileSync(s, 'fname,Bark,Dog,Purr,Walk\na.wav,0,0,NaN,0\n');
    const bad = cli([s, '--truth', t]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /fat2019 score: error: .*s\.csv:2: clip "a\.wav", column "Purr": value "NaN" is not a finite number/);
    const usage = cli([]);
    assert.equal(usage.status, 2);
    const ties = cli([s, '--ties', 'coin']);
    assert.equal(ties.status, 2);
    assert.match(ties.stderr, /--ties must be one of numpy, sklearn, stable-low, stable-high, got "coin"/);
  });
});
