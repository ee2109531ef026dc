/**
 * Compiles the project's embedded WebAssembly kernels (base64 in generated `*.wasm.ts` modules).
 * Synchronous, so kernels can be set up inside synchronous code paths; the modules are a few
 * kilobytes, well under the size browsers allow to compile off the main thread's async path.
 */

const compiled = new Map<string, WebAssembly.Module | null>();

/** Whether this engine runs WebAssembly with 128-bit SIMD (every kernel here needs it). */
export function wasmSimdSupported(): boolean {
  if (typeof WebAssembly !== 'object') return false;
  // (module (func (result v128) v128.const i32x4 0 0 0 0)): valid only where SIMD is.
  const probe = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11]);
  try { return WebAssembly.validate(probe); } catch { return false; }
}

/**
 * Whether this engine runs WebAssembly relaxed SIMD (`f32x4.relaxed_madd`, the fused
 * multiply-add of the relaxed kernel builds). Browsers have it since Chrome 114 and Node since
 * 22; Node 20's V8 has it behind `--experimental-wasm-relaxed-simd`, which this sets once
 * (V8 flags can be set while running; modules compiled afterwards see it). FAT2019_RELAXED_SIMD=0
 * says no (the plain SIMD builds, for A/B timing and for results that do not depend on whether
 * the CPU has FMA).
 */
export function wasmRelaxedSimdSupported(): boolean {
  if (relaxedSupported !== undefined) return relaxedSupported;
  const env = typeof process !== 'undefined' ? process.env?.FAT2019_RELAXED_SIMD ?? '' : '';
  if (/^(0|false|off)$/i.test(env) || !wasmSimdSupported()) return (relaxedSupported = false);
  // (module (func (result v128) (f32x4.relaxed_madd (v128.const 0) (v128.const 0) (v128.const 0))))
  const zeros = (): number[] => [253, 12, ...new Array<number>(16).fill(0)];
  const probe = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0,
    ...zeros(), ...zeros(), ...zeros(), 253, 133, 2, 11]);
  const valid = () => { try { return WebAssembly.validate(probe); } catch { return false; } };
  if (!valid()) {
    const getBuiltin = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
    const v8 = getBuiltin?.('node:v8') as { setFlagsFromString?(flags: string): void } | undefined;
    try { v8?.setFlagsFromString?.('--experimental-wasm-relaxed-simd'); } catch { /* not Node, or flags refused */ }
  }
  return (relaxedSupported = valid());
}
let relaxedSupported: boolean | undefined;

function decodeBase64(b64: string) {
  // A fresh ArrayBuffer (not Buffer's pooled one), typed so that TypeScript 5.0 and 5.9 agree.
  if (typeof Buffer !== 'undefined') {
    const decoded = Buffer.from(b64, 'base64');
    const out = new Uint8Array(new ArrayBuffer(decoded.length));
    out.set(decoded);
    return out;
  }
  const bin = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * The compiled module for a generated kernel (`key` names it in the cache), or null where the
 * engine lacks WebAssembly SIMD, so callers fall back to their JavaScript path.
 */
export function compileKernel(key: string, base64: string): WebAssembly.Module | null {
  if (compiled.has(key)) return compiled.get(key) ?? null;
  const mod = wasmSimdSupported() ? new WebAssembly.Module(decodeBase64(base64)) : null;
  compiled.set(key, mod);
  return mod;
}
