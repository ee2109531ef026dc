import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lwlrap, clipLwlrap, npPairwiseSum, LWLRAP_TIES, type LwlrapTies } from '../../lib/metrics/lwlrap';
import { npArgsort } from '../../lib/metrics/npArgsort';
import { mapAt3, topKClasses } from '../../lib/metrics/map3';
import { rocAuc } from '../../lib/metrics/auc';
import { averagePrecision } from '../../lib/metrics/averagePrecision';
import { Rng } from '../../lib/util/rng';

const GOLDEN = join(__dirname, '..', 'fixtures', 'golden');
const manifest = JSON.parse(readFileSync(join(GOLDEN, 'manifest.json'), 'utf8'));
const CASES = ['i', 'ii', 'iii', 'iv', 'v'] as const;

interface GoldenCase {
  rows: number;
  cols: number;
  truth: Uint8Array;
  scores: Float32Array;
  ranking: Int32Array;
  ref: any;
}

function bytes(path: string): ArrayBuffer {
  const b = readFileSync(path);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
}

function loadCase(k: string): GoldenCase {
  const ref = manifest.lwlrap[k];
  const [rows, cols] = ref.shape as [number, number];
  const dir = join(GOLDEN, 'lwlrap');
  const truth = new Uint8Array(bytes(join(dir, `case_${k}_truth.u8`)));
  const scores = new Float32Array(bytes(join(dir, `case_${k}_scores.f32`)));
  const ranking = new Int32Array(bytes(join(dir, `case_${k}_reference_ranking.i32`)));
  assert.equal(truth.length, rows * cols);
  assert.equal(scores.length, rows * cols);
  assert.equal(ranking.length, rows * cols);
  return { rows, cols, truth, scores, ranking, ref };
}

/** Brute-force lwlrap straight from the definition, given a full ranking per row (best first). */
function lwlrapFromRanking(truth: Uint8Array, ranking: Int32Array, rows: number, cols: number): number {
  let sum = 0;
  let pairs = 0;
  for (let r = 0; r < rows; r++) {
    let hits = 0;
    for (let p = 0; p < cols; p++) {
      if (truth[r * cols + ranking[r * cols + p]]) {
        hits++;
        sum += hits / (p + 1);
        pairs++;
      }
    }
  }
  return sum / pairs;
}

test('npArgsort reproduces numpy 1.24 rankings of every golden lwlrap case (ties included)', () => {
  for (const k of CASES) {
    const c = loadCase(k);
    for (let r = 0; r < c.rows; r++) {
      const asc = npArgsort(c.scores.subarray(r * c.cols, (r + 1) * c.cols));
      const desc = Array.from(asc).reverse();
      assert.deepEqual(desc, Array.from(c.ranking.subarray(r * c.cols, (r + 1) * c.cols)), `case ${k} row ${r}`);
    }
  }
});

test('npArgsort equals numpy argsort on adversarial (heapsort fallback) and tie-heavy arrays', () => {
  const fx = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'metrics', 'npargsort_cases.json'), 'utf8'));
  assert.ok(fx.cases.length >= 5);
  for (const [i, c] of fx.cases.entries()) {
    assert.deepEqual(Array.from(npArgsort(c.values)), c.numpyArgsort, `case ${i} (n=${c.values.length})`);
  }
});

test('lwlrap default (numpy ties) equals the DCASE reference on all cases, per class too', () => {
  for (const k of CASES) {
    const c = loadCase(k);
    const res = lwlrap(c.truth, c.scores, c.cols);
    // Bit-level agreement is achieved; the contract is 1e-9 (no ties) and the reference ranking.
    assert.ok(Math.abs(res.overall - c.ref.overall_lwlrap_reference) <= 1e-12, `case ${k}: ${res.overall} vs ${c.ref.overall_lwlrap_reference}`);
    for (let j = 0; j < c.cols; j++) {
      assert.ok(Math.abs(res.perClass[j] - c.ref.per_class_lwlrap_reference[j]) <= 1e-12, `case ${k} class ${j} lwlrap`);
      assert.ok(Math.abs(res.weights[j] - c.ref.per_class_weight_reference[j]) <= 1e-12, `case ${k} class ${j} weight`);
      assert.equal(res.positives[j], c.ref.per_class_positive_count[j], `case ${k} class ${j} positives`);
    }
    // And it equals the definition applied to the reference ranking (independent path).
    assert.ok(Math.abs(res.overall - lwlrapFromRanking(c.truth, c.ranking, c.rows, c.cols)) <= 1e-12, `case ${k} vs ranking`);
  }
});

test('lwlrap without ties: every tie rule agrees with the reference within 1e-9 (cases i, iv)', () => {
  for (const k of ['i', 'iv']) {
    const c = loadCase(k);
    for (const ties of LWLRAP_TIES) {
      const res = lwlrap(c.truth, c.scores, c.cols, { ties });
      assert.ok(Math.abs(res.overall - c.ref.overall_lwlrap_reference) <= 1e-9, `case ${k} ${ties}`);
      for (let j = 0; j < c.cols; j++) {
        assert.ok(Math.abs(res.perClass[j] - c.ref.per_class_lwlrap_reference[j]) <= 1e-9, `case ${k} ${ties} class ${j}`);
      }
    }
  }
});

test("lwlrap ties 'sklearn' equals sklearn LRAP (sample_weight = labels per clip) on all cases", () => {
  for (const k of CASES) {
    const c = loadCase(k);
    const res = lwlrap(c.truth, c.scores, c.cols, { ties: 'sklearn' });
    assert.ok(Math.abs(res.overall - c.ref.sklearn_lrap_weighted) <= 1e-12, `case ${k}: ${res.overall} vs ${c.ref.sklearn_lrap_weighted}`);
  }
});

test('lwlrap tie variants equal the golden lwlrap_tie_variants', () => {
  const key: Record<LwlrapTies, string> = {
    numpy: 'numpy_reference_order',
    'stable-low': 'stable_desc_low_index_first',
    'stable-high': 'stable_asc_reversed_high_index_first',
    sklearn: 'pessimistic_ties_sklearn_convention',
  };
  for (const k of CASES) {
    const c = loadCase(k);
    for (const ties of LWLRAP_TIES) {
      const want = c.ref.lwlrap_tie_variants[key[ties]];
      const got = lwlrap(c.truth, c.scores, c.cols, { ties }).overall;
      assert.ok(Math.abs(got - want) <= 1e-12, `case ${k} ${ties}: ${got} vs ${want}`);
    }
  }
  // The variants really differ on the tied case, so the rules are not accidentally the same.
  const ii = loadCase('ii');
  const values = LWLRAP_TIES.map((ties) => lwlrap(ii.truth, ii.scores, ii.cols, { ties }).overall);
  assert.equal(new Set(values).size, 4);
});

test('case iv: clips without labels are dropped, a never-positive class gets 0 lwlrap and 0 weight', () => {
  const c = loadCase('iv');
  const res = lwlrap(c.truth, c.scores, c.cols);
  assert.equal(res.perClass[9], 0);
  assert.equal(res.weights[9], 0);
  assert.ok(Math.abs(res.weights.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  const perClip = clipLwlrap(c.truth, c.scores, c.cols);
  for (const r of c.ref.rows_with_no_positive as number[]) assert.ok(Number.isNaN(perClip[r]), `row ${r}`);
});

test('clipLwlrap weighted by label counts equals overall lwlrap (every case and tie rule)', () => {
  for (const k of CASES) {
    const c = loadCase(k);
    for (const ties of LWLRAP_TIES) {
      const perClip = clipLwlrap(c.truth, c.scores, c.cols, { ties });
      let num = 0;
      let den = 0;
      for (let r = 0; r < c.rows; r++) {
        let n = 0;
        for (let j = 0; j < c.cols; j++) n += c.truth[r * c.cols + j];
        if (n === 0) continue;
        num += perClip[r] * n;
        den += n;
      }
      const overall = lwlrap(c.truth, c.scores, c.cols, { ties }).overall;
      assert.ok(Math.abs(num / den - overall) <= 1e-12, `case ${k} ${ties}`);
    }
  }
});

test('clipLwlrap on hand-made rows', () => {
  // Row 0: true labels at ranks 1 and 3 → (1/1 + 2/3) / 2. Row 1: perfect. Row 2: no labels.
  const truth = new Uint8Array([1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  const scores = new Float32Array([0.9, 0.5, 0.1, 0.01, 0.2, 0.8, 0.1, 0.0, 0.3, 0.2, 0.1, 0]);
  const got = clipLwlrap(truth, scores, 4);
  assert.ok(Math.abs(got[0] - (1 + 2 / 3) / 2) < 1e-15);
  assert.equal(got[1], 1);
  assert.ok(Number.isNaN(got[2]));
  // Soft truth: > 0.5 is a label.
  const soft = new Float32Array([0.9, 0.2, 0.6, 0.4, 0, 0.51, 0, 0, 0, 0, 0, 0.5]);
  assert.deepEqual(Array.from(clipLwlrap(soft, scores, 4)).slice(0, 2), Array.from(got).slice(0, 2));
});

test('lwlrap validates its inputs with named values', () => {
  assert.throws(() => lwlrap(new Uint8Array(6), new Float32Array(6), 4), /multiple of numClasses=4, got 6/);
  assert.throws(() => lwlrap(new Uint8Array(4), new Float32Array(8), 4), /same length.*4 and 8/);
  assert.throws(() => lwlrap(new Uint8Array(4), new Float32Array([0, NaN, 0, 0]), 4), /NaN at clip 0, class 1/);
  assert.throws(() => lwlrap(new Uint8Array(4), new Float32Array(4), 0), /numClasses must be a positive integer, got 0/);
  assert.throws(() => lwlrap(new Uint8Array(4), new Float32Array(4), 4, { ties: 'random' as LwlrapTies }), /ties must be one of .*got "random"/);
  assert.ok(Number.isNaN(lwlrap(new Uint8Array(4), new Float32Array(4), 4).overall));
});

test('lwlrap on random data equals the brute-force definition for every tie rule', () => {
  const rng = new Rng(20190601);
  const rows = 200;
  const cols = 12;
  const truth = new Uint8Array(rows * cols);
  const scores = new Float64Array(rows * cols);
  for (let i = 0; i < truth.length; i++) {
    truth[i] = rng.uniform() < 0.2 ? 1 : 0;
    scores[i] = Math.floor(rng.uniform() * 4) / 4; // heavy ties
  }
  for (const ties of LWLRAP_TIES) {
    let sum = 0;
    let pairs = 0;
    for (let r = 0; r < rows; r++) {
      const s = scores.subarray(r * cols, (r + 1) * cols);
      const y = truth.subarray(r * cols, (r + 1) * cols);
      // Rank of class c (0-based) under each rule, by explicit sorting / counting.
      let order: number[];
      if (ties === 'numpy') order = Array.from(npArgsort(s)).reverse();
      else if (ties === 'stable-low') order = [...Array(cols).keys()].sort((a, b) => s[b] - s[a] || a - b);
      else order = [...Array(cols).keys()].sort((a, b) => s[b] - s[a] || b - a);
      for (let c = 0; c < cols; c++) {
        if (!y[c]) continue;
        let rank: number;
        let hits: number;
        if (ties === 'sklearn') {
          rank = 0;
          hits = 0;
          for (let j = 0; j < cols; j++) if (s[j] >= s[c]) { rank++; hits += y[j]; }
        } else {
          rank = order.indexOf(c) + 1;
          hits = order.slice(0, rank).filter((j) => y[j]).length;
        }
        sum += hits / rank;
        pairs++;
      }
    }
    const got = lwlrap(truth, scores, cols, { ties }).overall;
    assert.ok(Math.abs(got - sum / pairs) < 1e-12, `${ties}: ${got} vs ${sum / pairs}`);
  }
});

test('npPairwiseSum follows numpy blocking and is close to the exact sum', () => {
  const a = Array.from({ length: 300 }, (_, i) => 1 / (i + 1));
  const exact = a.reduce((x, y) => x + y, 0);
  assert.ok(Math.abs(npPairwiseSum(a) - exact) < 1e-13);
  assert.equal(npPairwiseSum([1, 2, 3]), 6);
  assert.equal(npPairwiseSum([]), 0);
});

test('MAP@3 equals the golden value, top-3 classes and per-row AP of case i', () => {
  const c = loadCase('i');
  const ref = c.ref.map_at_3;
  const labels = Int32Array.from(ref.first_positive_label as number[]);
  // The golden label is the lowest-index positive class of each row: check it from the truth.
  for (let r = 0; r < c.rows; r++) {
    let first = -1;
    for (let j = 0; j < c.cols && first < 0; j++) if (c.truth[r * c.cols + j]) first = j;
    assert.equal(labels[r], first);
  }
  const top = topKClasses(c.scores, c.cols, 3);
  assert.deepEqual(Array.from(top), (ref.top3 as number[][]).flat());
  assert.ok(Math.abs(mapAt3(labels, c.scores, c.cols) - ref.value) <= 1e-12);
  // Per-row AP, one row at a time.
  for (let r = 0; r < c.rows; r++) {
    const ap = mapAt3(labels.subarray(r, r + 1), c.scores.subarray(r * c.cols, (r + 1) * c.cols), c.cols);
    assert.equal(ap, ref.per_row_ap[r], `row ${r}`);
  }
});

test('MAP@3 tie rule and validation', () => {
  // All tied: top-3 = classes 0, 1, 2 (lower index first).
  assert.deepEqual(Array.from(topKClasses(new Float32Array(5), 5, 3)), [0, 1, 2]);
  assert.equal(mapAt3(Int32Array.from([1]), new Float32Array(5), 5), 0.5);
  assert.equal(mapAt3(Int32Array.from([4]), new Float32Array(5), 5), 0);
  assert.throws(() => mapAt3(Int32Array.from([5]), new Float32Array(5), 5), /labels\[0\] must be a class index in \[0, 5\), got 5/);
  assert.throws(() => mapAt3(Int32Array.from([0, 1]), new Float32Array(5), 5), /one entry per clip.*got 2/);
});

test('ROC AUC equals sklearn roc_auc_score(average=None) and macro on case i', () => {
  const c = loadCase('i');
  const res = rocAuc(c.truth, c.scores, c.cols);
  const ref = c.ref.roc_auc;
  for (let j = 0; j < c.cols; j++) {
    assert.ok(Math.abs(res.perClass[j] - ref.per_class[j]) <= 1e-12, `class ${j}: ${res.perClass[j]} vs ${ref.per_class[j]}`);
  }
  assert.ok(Math.abs(res.macro - ref.macro) <= 1e-12);
});

test('ROC AUC with ties counts tied pairs 1/2; one-valued classes are NaN and left out of macro', () => {
  // Class 0: pos scores {0.5, 0.9}, neg {0.5, 0.1}: pairs 0.9>0.5,0.9>0.1, 0.5=0.5 (1/2), 0.5>0.1 → 3.5/4.
  // Class 1: all negative → NaN.
  const truth = new Uint8Array([1, 0, 1, 0, 0, 0, 0, 0]);
  const scores = new Float32Array([0.5, 0.3, 0.9, 0.2, 0.5, 0.1, 0.1, 0.7]);
  const res = rocAuc(truth, scores, 2);
  assert.equal(res.perClass[0], 3.5 / 4);
  assert.ok(Number.isNaN(res.perClass[1]));
  assert.equal(res.macro, 3.5 / 4);
  // Same result when every score is shifted (rank statistic) and with soft truth.
  assert.equal(rocAuc(new Float32Array([0.9, 0, 0.8, 0, 0.2, 0, 0, 0]), scores, 2).perClass[0], 3.5 / 4);
});

test('average precision equals sklearn average_precision_score per class (and its macro) on every golden case', () => {
  // tests/fixtures/golden/average_precision.json: scripts/average-precision-golden.py (scikit-learn).
  const golden = JSON.parse(readFileSync(join(GOLDEN, 'average_precision.json'), 'utf8')) as {
    cases: Record<string, { per_class: Array<number | null>; macro: number }>;
  };
  for (const [k, ref] of Object.entries(golden.cases)) {
    const c = loadCase(k);
    const res = averagePrecision(c.truth, c.scores, c.cols);
    ref.per_class.forEach((v, j) => {
      if (v === null) assert.ok(Number.isNaN(res.perClass[j]), `case ${k} class ${j}: no positives → NaN, got ${res.perClass[j]}`);
      else assert.ok(Math.abs(res.perClass[j] - v) <= 1e-12, `case ${k} class ${j}: ${res.perClass[j]} vs sklearn ${v}`);
    });
    assert.ok(Math.abs(res.macro - ref.macro) <= 1e-12, `case ${k} macro: ${res.macro} vs sklearn ${ref.macro}`);
  }
});
