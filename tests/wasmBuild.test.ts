/**
 * The committed WebAssembly kernels: each generated module matches its C source (a source edited
 * without `npx tsx scripts/build-wasm.ts` fails here) and compiles on this engine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WASM_SOURCES, generatedPath, sourceDigest } from '../lib/wasm/sources';
import { compileKernel, wasmSimdSupported } from '../lib/wasm/load';

const root = path.resolve(__dirname, '..');

test('Node 20 runs WebAssembly SIMD (the kernels need it)', () => {
  assert.equal(wasmSimdSupported(), true);
});

for (const src of WASM_SOURCES) {
  test(`${generatedPath(src.source)} is built from the current ${path.basename(src.source)} and compiles`, async () => {
    const gen = await import(path.join(root, generatedPath(src.source))) as { SOURCE_SHA256: string; WASM_BASE64: string };
    assert.equal(gen.SOURCE_SHA256, sourceDigest(fs.readFileSync(path.join(root, src.source), 'utf8')),
      `stale: rebuild with npx tsx scripts/build-wasm.ts`);
    const mod = compileKernel(src.source, gen.WASM_BASE64);
    assert.ok(mod);
    const names = WebAssembly.Module.exports(mod).map((e) => e.name);
    for (const e of src.exports) assert.ok(names.includes(e), `${src.source} exports ${e}`);
  });
}
