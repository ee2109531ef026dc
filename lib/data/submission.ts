import { readFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../util/atomicWrite';
import { csvField, nearestLabel, parseCsvRecords } from './labels';

/**
 * Kaggle submissions: `fname,<class 1>,...,<class C>` with one probability per class, classes
 * in vocabulary (`sample_submission.csv`) order.
 */

/**
 * Shortest decimal that reads back as the same float32 (at most 9 significant digits), so a
 * written file reproduces the float32 scores exactly (and hence their ranking and ties).
 */
export function formatFloat32(value: number): string {
  const f = Math.fround(value);
  if (!Number.isFinite(f)) throw new Error(`cannot write a non-finite score, got ${value}`);
  if (f === 0) return '0';
  for (let p = 1; p < 9; p++) {
    const s = f.toPrecision(p);
    if (Math.fround(Number(s)) === f) return String(Number(s));
  }
  return String(Number(f.toPrecision(9)));
}

/**
 * Writes a submission CSV atomically (temp file + rename): header `fname,<vocabulary>`, then
 * one row per clip with the float32 scores in the shortest form that round-trips.
 *
 * @param fnames clip file names `[numClips]`.
 * @param scores Float32Array `[numClips][vocabulary.length]` row-major (probabilities).
 * @param vocabulary class names in column order.
 */
export function writeSubmission(path: string, fnames: readonly string[], scores: Float32Array | Float64Array, vocabulary: readonly string[]): void {
  const C = vocabulary.length;
  if (C === 0) throw new Error('writeSubmission: vocabulary must not be empty');
  if (scores.length !== fnames.length * C) {
    throw new Error(`writeSubmission: scores must have fnames.length * vocabulary.length = ${fnames.length} * ${C} = ${fnames.length * C} values, got ${scores.length}`);
  }
  const seen = new Set<string>();
  const lines: string[] = [['fname', ...vocabulary].map(csvField).join(',')];
  fnames.forEach((fname, r) => {
    if (seen.has(fname)) throw new Error(`writeSubmission: duplicate clip "${fname}" (row ${r})`);
    seen.add(fname);
    const cells = new Array<string>(C + 1);
    cells[0] = csvField(fname);
    for (let c = 0; c < C; c++) {
      const v = scores[r * C + c];
      if (!Number.isFinite(v)) throw new Error(`writeSubmission: score of clip "${fname}", class "${vocabulary[c]}" is ${v}`);
      cells[c + 1] = formatFloat32(v);
    }
    lines.push(cells.join(','));
  });
  writeFileAtomicSync(path, lines.join('\n') + '\n');
}

/** A parsed submission, columns reordered to the vocabulary. */
export interface Submission {
  fnames: string[];
  /** Class names = column order of `scores` (the vocabulary passed, else the file's header). */
  vocabulary: string[];
  /** Float64Array `[fnames.length][vocabulary.length]` row-major: the values as written. */
  scores: Float64Array;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Reads and strictly validates a submission CSV. Throws an Error naming the file, line,
 * column and value for: a missing `fname` first column; duplicate columns; with a
 * `vocabulary`, columns not in it ("unknown class column") or classes without a column; a row
 * with the wrong number of fields; an empty or duplicate fname; a value that is not a finite
 * decimal number (`abc`, `NaN`, `inf`, empty).
 *
 * @param vocabulary expected classes; omitted → the file's own columns after `fname`.
 */
export function readSubmission(path: string, vocabulary?: readonly string[]): Submission {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read submission ${path}: ${(err as Error).message}`);
  }
  const records = parseCsvRecords(text, path);
  if (records.length === 0) throw new Error(`${path}: empty submission (expected a header "fname,<classes>")`);
  const header = records[0].fields.map((h) => h.trim());
  if (header[0] !== 'fname') {
    throw new Error(`${path}: missing "fname" column: the first column must be "fname", got "${header[0]}"`);
  }
  const columns = header.slice(1);
  const colSeen = new Set<string>();
  for (const c of columns) {
    if (colSeen.has(c)) throw new Error(`${path}: column "${c}" appears twice in the header`);
    colSeen.add(c);
  }
  const vocab = vocabulary ? [...vocabulary] : columns;
  if (vocab.length === 0) throw new Error(`${path}: no class columns after "fname"`);
  const vocabIndex = new Map(vocab.map((v, i) => [v, i] as [string, number]));
  if (vocabulary) {
    const unknown = columns.filter((c) => !vocabIndex.has(c));
    if (unknown.length > 0) {
      const hints = unknown.slice(0, 5).map((u) => {
        const h = nearestLabel(u, vocab);
        return h ? `"${u}" (did you mean "${h}"?)` : `"${u}"`;
      });
      throw new Error(`${path}: ${unknown.length} unknown class column(s) not in the vocabulary: ${hints.join(', ')}${unknown.length > 5 ? ', ...' : ''}`);
    }
    const missing = vocab.filter((v) => !colSeen.has(v));
    if (missing.length > 0) {
      throw new Error(`${path}: ${missing.length} class column(s) missing: ${missing.slice(0, 5).map((m) => `"${m}"`).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
    }
  }
  // target[k] = vocabulary index of file column k+1.
  const target = columns.map((c) => vocabIndex.get(c)!);
  const C = vocab.length;
  const rows = records.slice(1);
  const scores = new Float64Array(rows.length * C);
  const fnames: string[] = [];
  const fnameLine = new Map<string, number>();
  rows.forEach(({ fields, line }, r) => {
    if (fields.length !== header.length) {
      throw new Error(`${path}:${line}: expected ${header.length} fields (fname + ${columns.length} classes), got ${fields.length}`);
    }
    const fname = fields[0].trim();
    if (fname === '') throw new Error(`${path}:${line}: empty fname`);
    const first = fnameLine.get(fname);
    if (first !== undefined) throw new Error(`${path}:${line}: duplicate clip "${fname}" (first on line ${first})`);
    fnameLine.set(fname, line);
    fnames.push(fname);
    for (let k = 0; k < columns.length; k++) {
      const raw = fields[k + 1].trim();
      if (!NUMBER.test(raw)) {
        throw new Error(`${path}:${line}: clip "${fname}", column "${columns[k]}": value "${fields[k + 1]}" is not a finite number`);
      }
      const v = Number(raw);
      if (!Number.isFinite(v)) {
        throw new Error(`${path}:${line}: clip "${fname}", column "${columns[k]}": value "${fields[k + 1]}" is not a finite number`);
      }
      scores[r * C + target[k]] = v;
    }
  });
  return { fnames, vocabulary: vocab, scores };
}
