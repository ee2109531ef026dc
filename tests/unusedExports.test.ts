/**
 * Dead code does not pile up: every export of lib/, bench/ and scripts/ has an importer
 * (scripts/unused-exports.ts says what counts; the public barrels are exempt).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { unusedExports } from '../scripts/unused-exports';

/**
 * Exports of modules that issue 23's command-line rewrite (points 1-5) replaces; remove each
 * line when that lands (the test fails on a line that is no longer unused, so the list only shrinks).
 */
const PENDING = [
  'lib/cli/generate.ts: formatDemoSummary',
  'lib/cli/tag.ts: formatTagResult',
  'lib/cli/train.ts: checkTrainingData',
  'lib/cli/train.ts: formatStageReports',
  'lib/cli/web.ts: DEFAULT_WEB_PORT',
  'lib/train/pipeline/pseudoLabels.ts: writePseudoLabels',
];

test('every export of lib/, bench/ and scripts/ is imported somewhere (or is public API)', () => {
  const unused = unusedExports(path.resolve(__dirname, '..'));
  assert.deepEqual(unused.filter((u) => !PENDING.includes(u)), [], 'delete these, or drop `export` where the module uses them itself');
  assert.deepEqual(PENDING.filter((p) => !unused.includes(p)), [], 'these are used or gone now: remove them from PENDING');
});
