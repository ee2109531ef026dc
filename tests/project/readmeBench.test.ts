import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applySpeedBlock, readNewestRecord, renderSpeedBlock } from '../../scripts/readme-bench';
import { architectureNames } from '../../lib/models';

/**
 * The README's speed table is rendered from the newest recorded benchmark run
 * (bench/results/<date>/, written by scripts/bench-all.sh): it must match it, and the record
 * must cover every registered network at width 1/8 and full width, side by side with PyTorch.
 */

const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

test("README's speed block equals what the newest benchmark record renders", () => {
  const rec = readNewestRecord();
  assert.equal(applySpeedBlock(readme, renderSpeedBlock(rec)), readme, 'run npx tsx scripts/readme-bench.ts --render');
});

test('the record covers every registered network at width 1/8 and 1, with PyTorch measured in the same run, on 2 threads and 1', () => {
  const rec = readNewestRecord();
  assert.equal(rec.train2.threads, 2);
  assert.ok(rec.train1, 'train-1thread.json is recorded');
  assert.equal(rec.train1.threads, 1);
  for (const r of [rec.train2, rec.train1]) {
    assert.equal(r.peerMeasured, true);
    for (const arch of architectureNames()) {
      for (const width of [0.125, 1]) {
        const row = r.results.find((x) => x.model === arch && x.width === width);
        assert.ok(row, `${arch} width ${width} (${r.threads} thread(s)) is recorded`);
        assert.ok(row.samplesPerSecond > 0 && (row.pytorchSamplesPerSecond ?? 0) > 0, `${arch} width ${width}: both sides measured`);
      }
    }
  }
});

test('the block names the CPU and the date of the record, and a missing block is an error', () => {
  const rec = readNewestRecord();
  const block = renderSpeedBlock(rec);
  assert.match(block, new RegExp(rec.folder));
  assert.match(block, /family \d+ model \d+/);
  assert.throws(() => applySpeedBlock('no markers here', block), /readme-bench:speed/);
});
