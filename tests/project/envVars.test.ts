/**
 * The README's environment table names every `FAT2019_*` variable that lib/, bench/, scripts/ and
 * bin/ read, and no other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

function filesUnder(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && !e.isSymbolicLink()) filesUnder(p, out);
    else if (e.isFile() && /\.(ts|cjs|js|sh|py)$/.test(e.name) && !e.name.endsWith('.wasm.ts')) out.push(p);
  }
  return out;
}

test('every FAT2019_* variable the code reads is in the README table, once', () => {
  const used = new Set<string>();
  for (const dir of ['lib', 'bench', 'scripts', 'bin']) {
    for (const f of filesUnder(path.join(root, dir))) {
      for (const m of fs.readFileSync(f, 'utf8').matchAll(/\bFAT2019_[A-Z0-9_]+\b/g)) used.add(m[0]);
    }
  }
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const table = /<!-- env-vars -->([\s\S]*?)<!-- \/env-vars -->/.exec(readme);
  assert.ok(table, 'README.md: the <!-- env-vars --> table is missing');
  const rows = [...table[1].matchAll(/^\| `(FAT2019_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
  assert.equal(new Set(rows).size, rows.length, 'a variable is listed twice');
  assert.deepEqual([...used].filter((v) => !rows.includes(v)).sort(), [], 'undocumented: add a row');
  assert.deepEqual(rows.filter((v) => !used.has(v)).sort(), [], 'documented but no longer read: remove the row');
});
