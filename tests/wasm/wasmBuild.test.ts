/**
 * The committed WebAssembly kernels: each generated module matches its C source (a source edited
 * without `npx tsx scripts/build-wasm.ts` fails here) and compiles on this engine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { WASM_SOURCES, generatedPath, sourceDigest, expandedSource, exportedFunctions } from '../../lib/wasm/sources';
import { compileKernel, wasmRelaxedSimdSupported, wasmSimdSupported } from '../../lib/wasm/load';

const root = path.resolve(__dirname, '..', '..');

test('Node 20 runs WebAssembly SIMD (the kernels need it)', () => {
  assert.equal(wasmSimdSupported(), true);
});

for (const src of WASM_SOURCES) {
  test(`${generatedPath(src.source)} is built from the current ${path.basename(src.source)} and compiles`, async () => {
    const gen = await import(path.join(root, generatedPath(src.source))) as { SOURCE_SHA256: string; WASM_BASE64: string; EXPORTS: string[] };
    assert.equal(gen.SOURCE_SHA256, sourceDigest(path.join(root, src.source)),
      `stale: rebuild with npx tsx scripts/build-wasm.ts`);
    const declared = exportedFunctions(expandedSource(path.join(root, src.source))).map((f) => f.name);
    assert.deepEqual([...gen.EXPORTS], declared, 'the generated names are the EXPORT-marked functions');
    // The relaxed builds compile once relaxed SIMD is on (Node 20: the flag load.ts sets).
    if (src.flags.includes('-mrelaxed-simd')) assert.ok(wasmRelaxedSimdSupported(), 'relaxed SIMD runs here');
    const mod = compileKernel(src.source, gen.WASM_BASE64);
    assert.ok(mod);
    const names = WebAssembly.Module.exports(mod).map((e) => e.name);
    for (const e of [...declared, ...src.extraExports]) assert.ok(names.includes(e), `${src.source} exports ${e}`);
  });
}

test('every function a kernel source defines outside static/INLINE helpers is marked EXPORT', () => {
  for (const src of WASM_SOURCES) {
    const code = expandedSource(path.join(root, src.source)).replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/.*$/gm, '');
    const unmarked = [...code.matchAll(/^(?!static\b|INLINE\b|EXPORT\b|typedef\b|#)[A-Za-z_][\w\s*]*?\b([A-Za-z_]\w*)\s*\([^;{}]*\)\s*\{/gm)].map((m) => m[1]);
    assert.deepEqual(unmarked, [], `${src.source}: mark these EXPORT (or static)`);
  }
});

test('exportedFunctions reads EXPORT-marked definitions only, with their parameter names', () => {
  const c = [
    '/* EXPORT void in_comment(int a) { */',
    'EXPORT void f(const float *x, u32 n, double scale) {',
    '}',
    'EXPORT double g(void) { return 0; }',
    'void h(int a);',
    'static inline void k(int a) {}',
    'EXPORT void m(const float *a,',
    '              int b[4]) {}',
  ].join('\n');
  assert.deepEqual(exportedFunctions(c), [
    { name: 'f', params: ['x', 'n', 'scale'], returnsVoid: true },
    { name: 'g', params: [], returnsVoid: false },
    { name: 'm', params: ['a', 'b'], returnsVoid: true },
  ]);
});
