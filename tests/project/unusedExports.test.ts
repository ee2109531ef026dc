/**
 * Dead code does not pile up: every export of lib/, bench/ and scripts/ has an importer
 * (scripts/unused-exports.ts says what counts; the public barrels are exempt).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { unusedExports } from '../../scripts/unused-exports';

/**
 * Exports known to be unused, waiting for the change that removes or uses them; remove each line
 * when that lands (the test fails on a line that is no longer unused, so the list only shrinks).
 */
const PENDING: string[] = [];

test('every export of lib/, bench/ and scripts/ is imported somewhere (or is public API)', () => {
  const unused = unusedExports(path.resolve(__dirname, '..', '..'));
  assert.deepEqual(unused.filter((u) => !PENDING.includes(u)), [], 'delete these, or drop `export` where the module uses them itself');
  assert.deepEqual(PENDING.filter((p) => !unused.includes(p)), [], 'these are used or gone now: remove them from PENDING');
});
