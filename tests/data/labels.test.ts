import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parseCsv,
  parseCsvRecords,
  csvField,
  readVocabulary,
  vocabularyFromFile,
  readLabelCsv,
  multiHot,
  labelMatrix,
  nearestLabel,
} from '../../lib/data/labels';

const DATA = join(__dirname, '..', '..', 'data', 'fsdkaggle2019');

function withTmp(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-labels-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('CSV parser: quoted fields with commas, doubled quotes, CRLF, BOM, embedded newline', () => {
  const text = '\ufefffname,labels,note\r\na.wav,"Bark,Dog","say ""hi"""\r\nb.wav,Purr,\r\nc.wav,"Walk,\nfootsteps",x\n\n';
  const rows = parseCsv(text);
  assert.deepEqual(rows, [
    ['fname', 'labels', 'note'],
    ['a.wav', 'Bark,Dog', 'say "hi"'],
    ['b.wav', 'Purr', ''],
    ['c.wav', 'Walk,\nfootsteps', 'x'],
  ]);
  // Line numbers are physical lines where each record starts.
  assert.deepEqual(parseCsvRecords(text).map((r) => r.line), [1, 2, 3, 4]);
  // No final newline, header only.
  assert.deepEqual(parseCsv('a,b'), [['a', 'b']]);
  assert.deepEqual(parseCsvRecords('x,y\n1,2\n3,4', 'f', 2).map((r) => r.fields), [['x', 'y'], ['1', '2']]);
});

test('CSV parser: malformed quoting names the source and line', () => {
  assert.throws(() => parseCsv('a,b\n"open,x\n', 'bad.csv'), /bad\.csv:2: unterminated quoted field/);
  assert.throws(() => parseCsv('a,b\n"x"y,z\n', 'bad.csv'), /bad\.csv:2: unexpected character "y" after a closing quote/);
  assert.throws(() => parseCsv('a,b\nx"y,z\n', 'bad.csv'), /bad\.csv:2: a quote inside an unquoted field/);
});

test('csvField quotes only when needed and round-trips through the parser', () => {
  const values = ['plain', 'Bark,Dog', 'say "hi"', 'two\r\nlines', ''];
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('Bark,Dog'), '"Bark,Dog"');
  assert.deepEqual(parseCsv(values.map(csvField).join(',') + '\n'), [values]);
});

test('vocabulary from vocabulary.csv: 80 FSDKaggle2019 classes, alphabetical (= sample_submission order)', () => {
  const vocab = vocabularyFromFile(join(DATA, 'vocabulary.csv'));
  assert.equal(vocab.length, 80);
  assert.equal(vocab[0], 'Accelerating_and_revving_and_vroom');
  assert.ok(vocab.includes('Bass_drum') && vocab.includes('Church_bell'));
  assert.deepEqual([...vocab].sort(), vocab);
});

test('readVocabulary takes the columns after fname; bad headers and files are named', () => {
  withTmp((dir) => {
    const p = join(dir, 'sample_submission.csv');
    writeFileSync(p, 'fname,Bark,Dog,Purr\r\nx.wav,0,0,0\r\n');
    assert.deepEqual(readVocabulary(p), ['Bark', 'Dog', 'Purr']);
    writeFileSync(p, 'file,Bark\n');
    assert.throws(() => readVocabulary(p), /sample_submission\.csv: the first column must be "fname", got "file"/);
    writeFileSync(p, 'fname,Bark,Bark\n');
    assert.throws(() => readVocabulary(p), /class "Bark" appears twice/);
    assert.throws(() => readVocabulary(join(dir, 'nope.csv')), /cannot read sample submission .*nope\.csv/);
    const v = join(dir, 'vocabulary.csv');
    writeFileSync(v, '1,Dog\n0,Bark\n');
    assert.deepEqual(vocabularyFromFile(v), ['Bark', 'Dog']);
    writeFileSync(v, '0,Bark\n0,Dog\n');
    assert.throws(() => vocabularyFromFile(v), /vocabulary\.csv:2: index 0 appears twice/);
  });
});

test('readLabelCsv on the real post-competition files: counts, multi-label, usage', () => {
  const vocab = vocabularyFromFile(join(DATA, 'vocabulary.csv'));
  const test_ = readLabelCsv(join(DATA, 'test_post_competition.csv'), vocab);
  assert.equal(test_.length, 4481);
  assert.equal(test_.filter((c) => c.usage === 'Public').length, 1120);
  assert.equal(test_.filter((c) => c.usage === 'Private').length, 3361);
  assert.equal(test_[0].fname, 'd527f12d.wav');
  assert.equal(test_[0].extra.license, 'CC-BY-NC');
  const curated = readLabelCsv(join(DATA, 'train_curated_post_competition.csv'), vocab);
  assert.equal(curated.length, 4970);
  const multi = curated.filter((c) => c.labels.length > 1).length / curated.length;
  assert.ok(multi > 0.1 && multi < 0.2, `multi-label share ${multi}`); // ~14% per the SPEC
  const noisy = readLabelCsv(join(DATA, 'train_noisy_post_competition.csv'), vocab);
  assert.equal(noisy.length, 19815);
  const x = noisy.find((c) => c.fname === '00116cd2.wav')!;
  assert.deepEqual(x.labels, ['Marimba_and_xylophone', 'Glockenspiel']);
  assert.equal(x.usage, undefined);
});

test('unknown label: Error names file, line, clip, label and the nearest class', () => {
  withTmp((dir) => {
    const p = join(dir, 'train_curated.csv');
    writeFileSync(p, 'fname,labels\na.wav,"Bark,Dog"\nb.wav,"Dog,Barkk"\n');
    assert.throws(
      () => readLabelCsv(p, ['Bark', 'Dog', 'Purr']),
      (err: Error) =>
        err.message.includes(`${p}:3`) && err.message.includes('unknown label "Barkk"') && err.message.includes('b.wav') && err.message.includes('did you mean "Bark"'),
    );
    // Without a vocabulary, labels are taken as they are.
    assert.deepEqual(readLabelCsv(p).map((c) => c.labels), [['Bark', 'Dog'], ['Dog', 'Barkk']]);
    writeFileSync(p, 'fname,labels\na.wav,Bark\na.wav,Dog\n');
    assert.throws(() => readLabelCsv(p), /:3: clip "a\.wav" already listed on line 2/);
    writeFileSync(p, 'fname,tags\na.wav,Bark\n');
    assert.throws(() => readLabelCsv(p), /needs columns "fname" and "labels"/);
    writeFileSync(p, 'fname,labels\na.wav,Bark,extra\n');
    assert.throws(() => readLabelCsv(p), /:2: expected 2 fields .*got 3/);
  });
  assert.equal(nearestLabel('church bell', ['Church_bell', 'Bark']), 'Church_bell');
  assert.equal(nearestLabel('zzzzzzzz', ['Church_bell', 'Bark']), undefined);
});

test('multiHot and labelMatrix use vocabulary indices', () => {
  const vocab = ['Bark', 'Dog', 'Purr'];
  assert.deepEqual(Array.from(multiHot(['Purr', 'Bark'], vocab)), [1, 0, 1]);
  assert.ok(multiHot([], vocab) instanceof Float32Array);
  assert.throws(() => multiHot(['Pur'], vocab), /unknown label "Pur" \(did you mean "Purr"\?\)/);
  const m = labelMatrix([{ fname: 'a', labels: ['Dog'] }, { fname: 'b', labels: ['Bark', 'Purr'] }, { fname: 'c', labels: [] }], vocab);
  assert.ok(m instanceof Uint8Array);
  assert.deepEqual(Array.from(m), [0, 1, 0, 1, 0, 1, 0, 0, 0]);
  assert.throws(() => labelMatrix([{ fname: 'q.wav', labels: ['Cat'] }], vocab), /unknown label "Cat" for clip q\.wav/);
});
