import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  applyBlocks,
  commandsTaking,
  consistencyProblems,
  parseScoreTable,
  parseTagOutput,
  readFixture,
  readmeProblems,
  README,
  renderBlocks,
  type RecordedRun,
} from '../../scripts/readme-results';

/**
 * The README's result blocks are rendered from one recorded run (tests/fixtures/readme-run,
 * written by `npx tsx scripts/readme-results.ts --run weights/demo`): they must match it, and
 * its figures must agree with each other.
 */

const readme = readFileSync(README, 'utf8');
const clone = (r: RecordedRun): RecordedRun => JSON.parse(JSON.stringify(r)) as RecordedRun;

test('README result blocks equal what the recorded run renders', () => {
  assert.deepEqual(readmeProblems(readme, readFixture()), []);
});

test("the recorded run's figures agree: summary vs infer scores and model counts, tag vs submission rows", () => {
  const run = readFixture();
  assert.deepEqual(consistencyProblems(run), []);
  const scores = parseScoreTable(run.inferOutput);
  assert.ok(scores.all && scores.Public && scores.Private, 'the infer example shows Public, Private and all');
  assert.ok(Object.keys(parseTagOutput(run.tagOutput)).length >= 1, 'the tag example shows clips');
});

test('a disagreement between blocks is found (summary, infer, tag each changed alone)', () => {
  const run = readFixture();
  const a = clone(run);
  a.summary.test!.model.overall += 0.01;
  assert.match(consistencyProblems(a).join('\n'), /test lwlrap all: summary/);
  const b = clone(run);
  b.inferOutput = b.inferOutput.replace(/(\d+) model\(s\)/, (_, n) => `${Number(n) + 1} model(s)`);
  assert.match(consistencyProblems(b).join('\n'), /models: summary/);
  const c = clone(run);
  c.tagOutput = c.tagOutput.replace(/ (0\.\d{4}) /, (_, p) => ` ${(Number(p) + 0.01).toFixed(4)} `);
  assert.match(consistencyProblems(c).join('\n'), /tag 0\.\d{4}, submission 0\.\d{4}/);
});

test('a README block that no longer matches its source is found; regenerating fixes it', () => {
  const run = clone(readFixture());
  run.summary.stages[0].cvCurated = (run.summary.stages[0].cvCurated ?? 0) + 0.1;
  assert.match(readmeProblems(readme, run).join('\n'), /block "demo-summary" does not match/);
  const regenerated = applyBlocks(readme, renderBlocks(run));
  assert.deepEqual(readmeProblems(regenerated, run), []);
  assert.equal(applyBlocks(regenerated, renderBlocks(readFixture())), readme, 'rendering is reversible');
});

test('README claims match the code: the commands taking --backend, the FFT in use, the feature tolerances', () => {
  const withBackend = commandsTaking('backend');
  assert.ok(withBackend.length > 0);
  assert.doesNotMatch(readme, /every command also takes `--backend`/);
  for (const name of withBackend) assert.match(renderBlocks(readFixture())['backend-commands'], new RegExp(`\`${name}\``));
  assert.doesNotMatch(readme, /STFT \(fft\.js\)/);
  assert.match(readme, /`lib\/features\/fft\.ts`/);
  const features = readFileSync(`${__dirname}/../features/features.test.ts`, 'utf8');
  assert.match(features, /err <= 1e-4/, 'the features test allows 1e-4 dB');
  assert.match(features, /d\.max <= 1 && d\.count <= 0\.01 \*/, 'and ±1 on ≤ 1 % of pixels');
  assert.match(readme, /within 1e-4 dB and the uint8 images within ±1 on at most 1 % of\npixels/);
  assert.doesNotMatch(readme, /dB matrices and images identical/);
});
