/**
 * The task decides how a noisy clip is scored for the warm-up's selection (lib/task): a
 * multi-label clip by its lwlrap, a single-label clip by the reciprocal rank of its class,
 * checked here against ranks counted directly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTask } from '../../lib/task/task';
import { clipScores } from '../../lib/train/pipeline/selection';

test('singleLabel clip score = 1 / rank of the true class; no label = NaN', () => {
  const C = 4;
  const probs = new Float64Array([0.1, 0.6, 0.2, 0.1, /**/ 0.7, 0.1, 0.15, 0.05, /**/ 0.25, 0.25, 0.3, 0.2, /**/ 0.3, 0.3, 0.2, 0.2]);
  const truth = new Uint8Array([0, 1, 0, 0, /**/ 0, 0, 0, 1, /**/ 0, 0, 1, 0, /**/ 0, 0, 0, 0]);
  const scores = makeTask({ name: 'singleLabel' }).clipScores(truth, probs, C);
  for (let i = 0; i < 3; i++) {
    const row = probs.subarray(i * C, (i + 1) * C);
    const cls = truth.subarray(i * C, (i + 1) * C).indexOf(1);
    const rank = 1 + Array.from(row).filter((p) => p > row[cls]).length;
    assert.equal(scores[i], 1 / rank, `clip ${i}`);
  }
  assert.deepEqual(Array.from(scores.subarray(0, 3)), [1, 1 / 4, 1]);
  assert.ok(Number.isNaN(scores[3]));
});

test('multiLabel clip score = the clip lwlrap (mean precision at each true class), as selection ranks it', () => {
  const C = 3;
  const probs = new Float64Array([0.9, 0.1, 0.5, /**/ 0.2, 0.3, 0.8]);
  const truth = new Uint8Array([1, 1, 0, /**/ 0, 1, 0]);
  const task = makeTask({ name: 'multiLabel' });
  // Clip 0: class 0 ranked 1st (precision 1/1), class 1 ranked 3rd (2/3): mean 5/6. Clip 1: class 1 ranked 2nd: 1/2.
  const scores = Array.from(task.clipScores(truth, probs, C));
  assert.ok(Math.abs(scores[0] - 5 / 6) < 1e-15 && scores[1] === 1 / 2, String(scores));
  const rows = clipScores(task, ['a.wav', 'b.wav'], [0, 1], truth, probs, C);
  assert.deepEqual(rows, [{ fname: 'a.wav', fold: 0, score: scores[0] }, { fname: 'b.wav', fold: 1, score: scores[1] }]);
});
