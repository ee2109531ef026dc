/**
 * The one list of the project's C → WebAssembly kernels (built by scripts/build-wasm.ts, each
 * committed as `<name>.wasm.ts` beside its source).
 */
import { createHash } from 'node:crypto';

export interface WasmSource {
  /** C file, relative to the repository root. */
  source: string;
  /** Functions the module exports. */
  exports: string[];
  /** Extra clang/wasm-ld flags (memory model). */
  flags: string[];
}

export const WASM_SOURCES: WasmSource[] = [
  {
    source: 'lib/features/wasm/melPower.c',
    exports: ['mel_power', '__heap_base'],
    // A memory of its own, made by JavaScript at the size the plan needs (never grown); its
    // stack and __heap_base stay inside the first 64 KiB page.
    flags: ['-Wl,--import-memory', '-Wl,-z,stack-size=16384'],
  },
];

/** Path of the generated TypeScript module for a C source. */
export function generatedPath(source: string): string {
  return source.replace(/\.c$/, '.wasm.ts');
}

/** SHA-256 (hex) of a source text, line endings normalised. */
export function sourceDigest(text: string): string {
  return createHash('sha256').update(text.replace(/\r\n/g, '\n')).digest('hex');
}
