import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../lib/util/rng';
import { writeFileAtomicSync } from '../../lib/util/atomicWrite';
import { PREPROCESS_DEFAULTS, TRAIN_DEFAULTS, withDefaults } from '../../lib/config';

test('Rng: same seed gives the same stream, state round-trips', () => {
  const a = new Rng(7);
  const b = new Rng(7);
  const xs = Array.from({ length: 100 }, () => a.uniform());
  assert.deepEqual(xs, Array.from({ length: 100 }, () => b.uniform()));
  const state = a.getState();
  const next = [a.uniform(), a.normal(), a.int(10)];
  const c = new Rng(0);
  c.setState(state);
  assert.deepEqual([c.uniform(), c.normal(), c.int(10)], next);
  assert.notDeepEqual(xs, Array.from({ length: 100 }, () => new Rng(8).uniform()));
});

test('Rng: uniform in [0,1), normal and beta have the right moments', () => {
  const rng = new Rng(2019);
  const n = 20000;
  let sum = 0;
  let sumSq = 0;
  let betaSum = 0;
  for (let i = 0; i < n; i++) {
    const u = rng.uniform();
    assert.ok(u >= 0 && u < 1);
    const z = rng.normal();
    sum += z;
    sumSq += z * z;
    betaSum += rng.beta(0.4, 0.4);
  }
  assert.ok(Math.abs(sum / n) < 0.03, `normal mean ${sum / n}`);
  assert.ok(Math.abs(sumSq / n - 1) < 0.05, `normal variance ${sumSq / n}`);
  assert.ok(Math.abs(betaSum / n - 0.5) < 0.02, `Beta(0.4,0.4) mean ${betaSum / n}`);
});

test('Rng: permutation is a permutation', () => {
  const p = new Rng(1).permutation(50);
  assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
});

test('withDefaults: merges overrides, copies defaults, rejects unknown fields', () => {
  const cfg = withDefaults(TRAIN_DEFAULTS, { epochs: 3 });
  assert.equal(cfg.epochs, 3);
  assert.equal(cfg.batchSize, TRAIN_DEFAULTS.batchSize);
  cfg.batchSize = 1;
  assert.equal(TRAIN_DEFAULTS.batchSize, 128);
  assert.throws(() => withDefaults(PREPROCESS_DEFAULTS, { hopLenght: 3 } as never), /unknown config field "hopLenght"/);
});

test('writeFileAtomicSync: writes the content and leaves no temp file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-atomic-'));
  try {
    const path = join(dir, 'sub', 'x.json');
    writeFileAtomicSync(path, '{"a":1}');
    writeFileAtomicSync(path, '{"a":2}');
    assert.equal(readFileSync(path, 'utf8'), '{"a":2}');
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['x.json']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
