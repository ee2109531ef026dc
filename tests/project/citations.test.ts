/**
 * What the code cites exists in the repository: `SPEC` is docs/SPEC.md (a section cited by name,
 * `SPEC "Training"` or `SPEC Inference`, is one of its headings) and `PERF-NOTES` is
 * docs/PERF-NOTES.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

function sources(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && !e.isSymbolicLink()) sources(p, out);
    else if (e.isFile() && /\.(ts|c|h|py|sh)$/.test(e.name) && !e.name.endsWith('.wasm.ts')) out.push(p);
  }
  return out;
}

test('SPEC and PERF-NOTES citations name documents and sections of docs/', () => {
  const files = [...['lib', 'bench', 'scripts', 'tests'].flatMap((d) => sources(path.join(root, d))), path.join(root, 'README.md')];
  const headings = fs.readFileSync(path.join(root, 'docs/SPEC.md'), 'utf8').split('\n')
    .filter((l) => l.startsWith('## ')).map((l) => l.slice(3).split(/[ (:]/)[0]);
  assert.ok(fs.existsSync(path.join(root, 'docs/PERF-NOTES.md')));
  const missing: string[] = [];
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    for (const m of text.matchAll(/\bSPEC "?([A-Z][a-z]+)\b/g)) {
      if (!headings.includes(m[1])) missing.push(`${path.relative(root, f)}: SPEC ${m[1]}`);
    }
  }
  assert.deepEqual(missing, [], `sections of docs/SPEC.md: ${headings.join(', ')}`);
});
