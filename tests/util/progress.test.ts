import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBar, formatDuration, formatFixed, formatProgress } from '../../lib/util/format';
import { progressReporter } from '../../lib/util/progress';
import { progressBar, type FitContext } from '../../lib/train/callbacks';
import { formatPreprocessProgress } from '../../lib/data/preprocessReport';

/** The one formatting module and the one progress reporter (lib/util/format.ts, progress.ts). */

/** A stream that records what is written to it. */
function recorder(isTTY: boolean): { write(s: string): boolean; isTTY: boolean; text: () => string } {
  const parts: string[] = [];
  return { isTTY, write: (s: string) => parts.push(s) > 0, text: () => parts.join('') };
}

test('formatFixed, formatBar, formatProgress, formatDuration', () => {
  assert.equal(formatFixed(0.71234), '0.7123');
  assert.equal(formatFixed(null), 'n/a');
  assert.equal(formatFixed(undefined, { missing: '-' }), '-');
  assert.equal(formatFixed(NaN), 'NaN', 'a diverged loss stays visible');
  assert.equal(formatFixed(NaN, { digits: 6, nan: 'n/a' }), 'n/a');
  assert.equal(formatFixed(1 / 3, { digits: 6 }), '0.333333');
  assert.equal(formatBar(0.5, 10), '[#####.....]');
  assert.equal(formatBar(2, 4), '[####]', 'clamped');
  assert.equal(formatProgress({ done: 3, total: 10, etaSec: 65 }, { unit: 'clip passes', detail: 'm', width: 10 }), '[###.......] 3/10 clip passes  30.0%  m  ETA 1:05');
  assert.equal(formatProgress({ done: 10, total: 10, etaSec: 0, elapsedSec: 3725 }, { width: 4 }), '[####] 10/10  100.0%  1:02:05');
  assert.equal(formatProgress({ done: 5, total: 100, etaSec: null }, { padCounts: true, width: 0 }), '[]   5/100  5.0%');
  assert.equal(formatDuration(-1), '--:--');
  const pre = formatPreprocessProgress({ done: 2, total: 4, computed: 1, skipped: 1, failed: 1, elapsedSec: 2, etaSec: 4 } as never, 4);
  assert.equal(pre, '[##..] 2/4  50.0%  1.0 clips/s  ETA 0:04  (1 failed)');
});

test('progressReporter: redrawn in place on a terminal, plain lines elsewhere, nothing when quiet; final updates always show', () => {
  const tty = recorder(true);
  const r = progressReporter({ stream: tty, redrawEveryMs: 0 });
  r.update(() => 'a');
  r.update(() => 'b');
  r.log('kept');
  r.update(() => 'c', true);
  assert.equal(tty.text(), '\ra\x1b[K\rb\x1b[K\r\x1b[Kkept\n\rc\x1b[K\n');

  const plain = recorder(false);
  const p = progressReporter({ stream: plain, lineEveryMs: 1e12 });
  for (const s of ['first', 'throttled', 'throttled too']) p.update(() => s);
  p.update(() => 'last', true);
  assert.equal(plain.text(), 'first\nlast\n', 'the first update, then only the final one within the interval');

  const never = recorder(false);
  const n = progressReporter({ stream: never, lineEveryMs: Infinity });
  n.update(() => 'x');
  n.log('epoch line');
  assert.equal(never.text(), 'epoch line\n');

  const quiet = recorder(true);
  const q = progressReporter({ stream: quiet, quiet: true });
  q.update(() => 'x', true);
  q.log('y');
  assert.equal(quiet.text(), '');

  const lines: string[] = [];
  const l = progressReporter({ log: (s) => lines.push(s), stream: recorder(true), lineEveryMs: 0 });
  l.update(() => 'one');
  l.update(() => 'two', true);
  assert.deepEqual(lines, ['one', 'two'], 'a log sink gets plain lines, never redraws');
});

test('the training progress bar: per-batch bar only on a terminal, one line per epoch always', async () => {
  const ctx = { epochs: 2, stepsPerEpoch: 4 } as FitContext;
  const epoch = { epoch: 1, trainLoss: 0.5, validLoss: 0.4, validLwlrap: 0.7, lr: 1e-3, seconds: 10, samplesPerSecond: 3 } as never;
  for (const isTTY of [true, false]) {
    const stream = recorder(isTTY);
    const cb = progressBar({ stream: stream as never, width: 4 });
    await cb.onEpochBegin!(ctx);
    await cb.onBatchEnd!(ctx, { epoch: 1, batch: 1, loss: 0.5, lr: 1e-3 } as never);
    await cb.onEpochEnd!(ctx, epoch);
    const text = stream.text();
    assert.equal(text.includes('[##..] 2/4 loss 0.5000'), isTTY);
    assert.match(text, /epoch 1\/2  train 0\.5000  valid 0\.4000  lwlrap 0\.7000  lr 1\.0e-3 .* ETA 0:10\n$/);
  }
});
