/**
 * The one list of the project's C → WebAssembly kernels (built by scripts/build-wasm.ts, each
 * committed as `<name>.wasm.ts` beside its source), and what the build reads from a source.
 *
 * A source declares its exported functions itself: `EXPORT` before a definition (an empty macro)
 * marks it. The build passes those names to the linker and writes the TypeScript interface and
 * the list of names into the generated module, so a kernel is declared in one place: its C
 * signature.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface WasmSource {
  /** C file, relative to the repository root. */
  source: string;
  /** Exports besides the EXPORT-marked functions (linker symbols such as `__heap_base`). */
  extraExports: string[];
  /** Extra clang/wasm-ld flags (memory model). */
  flags: string[];
  /**
   * Another source of this list whose functions this one builds too (an #include of it): the
   * generated module re-exports that one's interface and names instead of repeating them.
   */
  sameFunctionsAs?: string;
}

export const WASM_SOURCES: WasmSource[] = [
  {
    source: 'lib/features/wasm/melPower.c',
    extraExports: ['__heap_base'],
    // A memory of its own, made by JavaScript at the size the plan needs (never grown); its
    // stack and __heap_base stay inside the first 64 KiB page.
    flags: ['-Wl,--import-memory', '-Wl,-z,stack-size=16384'],
  },
  // Training kernels on tfjs' own heap (imported memory): the single-threaded SIMD binary's
  // plain memory, and the threaded binary's shared one (the same code, #included).
  {
    source: 'lib/runtime/kernels/wasm/trainKernels.c',
    extraExports: [],
    flags: ['-Wl,--import-memory'],
  },
  {
    source: 'lib/runtime/kernels/wasm/trainKernelsShared.c',
    extraExports: [],
    sameFunctionsAs: 'lib/runtime/kernels/wasm/trainKernels.c',
    flags: ['-Wl,--import-memory', '-Wl,--shared-memory', '-Wl,--max-memory=4294967296', '-matomics', '-mbulk-memory'],
  },
  // The same two with relaxed SIMD's fused multiply-add in the convolutions (kernels.h MAC),
  // loaded where the engine validates relaxed SIMD (lib/wasm/load.ts).
  {
    source: 'lib/runtime/kernels/wasm/trainKernelsRelaxed.c',
    extraExports: [],
    sameFunctionsAs: 'lib/runtime/kernels/wasm/trainKernels.c',
    flags: ['-Wl,--import-memory', '-mrelaxed-simd'],
  },
  {
    source: 'lib/runtime/kernels/wasm/trainKernelsSharedRelaxed.c',
    extraExports: [],
    sameFunctionsAs: 'lib/runtime/kernels/wasm/trainKernels.c',
    flags: ['-Wl,--import-memory', '-Wl,--shared-memory', '-Wl,--max-memory=4294967296', '-matomics', '-mbulk-memory', '-mrelaxed-simd'],
  },
];

/** Path of the generated TypeScript module for a C source. */
export function generatedPath(source: string): string {
  return source.replace(/\.c$/, '.wasm.ts');
}

/**
 * A C file with each `#include "local"` replaced by that file's text (recursively; system
 * headers `<...>` stay), line endings normalised: what the compiler reads of the project.
 */
export function expandedSource(file: string, seen: string[] = []): string {
  if (seen.includes(file)) throw new Error(`${file}: #include cycle (${[...seen, file].join(' -> ')})`);
  const text = fs.readFileSync(file, 'utf8').replace(/\r\n/g, '\n');
  return text.replace(/^[ \t]*#[ \t]*include[ \t]+"([^"]+)".*$/gm, (_, name: string) =>
    expandedSource(path.join(path.dirname(file), name), [...seen, file]));
}

/** SHA-256 (hex) of a source with its local includes (expandedSource): editing any of them makes the build stale. */
export function sourceDigest(file: string): string {
  return createHash('sha256').update(expandedSource(file)).digest('hex');
}

/** One EXPORT-marked C function. */
export interface ExportedFunction {
  name: string;
  /** Parameter names, in order. */
  params: string[];
  /** True when the C function returns void. */
  returnsVoid: boolean;
}

/** The EXPORT-marked function definitions of a C text (comments ignored), in source order. */
export function exportedFunctions(cText: string): ExportedFunction[] {
  const code = cText.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/.*$/gm, '');
  const out: ExportedFunction[] = [];
  const re = /^[ \t]*EXPORT\s+([A-Za-z_][\w\s*]*?)\s*\b([A-Za-z_]\w*)\s*\(([^)]*)\)\s*\{/gm;
  for (let m = re.exec(code); m; m = re.exec(code)) {
    const params = m[3].trim() === 'void' || m[3].trim() === '' ? [] : m[3].split(',').map((p) => {
      const name = /([A-Za-z_]\w*)\s*(\[[^\]]*\])?\s*$/.exec(p.trim());
      if (!name) throw new Error(`EXPORT ${m![2]}: cannot read the parameter '${p.trim()}'`);
      return name[1];
    });
    out.push({ name: m[2], params, returnsVoid: /^void$/.test(m[1].trim()) });
  }
  return out;
}
