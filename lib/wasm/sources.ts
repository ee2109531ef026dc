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

/** Functions of lib/runtime/kernels/wasm/trainKernels.c. */
const TRAIN_KERNEL_EXPORTS = ['col_sums', 'moments', 'bn_train_forward', 'bn_train_backward', 'conv2d_filter_grad',
  'col_acc', 'f64_add', 'f32_add', 'col_finish', 'bn_sd', 'bn_normalize', 'bn_backward_coefs', 'bn_dx', 'adamw',
  'conv2d_forward', 'relu_grad', 'pack_w8', 'wino_weights', 'conv2d_wino', 'conv2d_wino_fgrad', 'wino_fgrad_out'];

export const WASM_SOURCES: WasmSource[] = [
  {
    source: 'lib/features/wasm/melPower.c',
    exports: ['mel_power', '__heap_base'],
    // A memory of its own, made by JavaScript at the size the plan needs (never grown); its
    // stack and __heap_base stay inside the first 64 KiB page.
    flags: ['-Wl,--import-memory', '-Wl,-z,stack-size=16384'],
  },
  // Training kernels on tfjs' own heap (imported memory): the single-threaded SIMD binary's
  // plain memory, and the threaded binary's shared one.
  {
    source: 'lib/runtime/kernels/wasm/trainKernels.c',
    exports: TRAIN_KERNEL_EXPORTS,
    flags: ['-Wl,--import-memory'],
  },
  {
    source: 'lib/runtime/kernels/wasm/trainKernelsShared.c',
    exports: TRAIN_KERNEL_EXPORTS,
    flags: ['-Wl,--import-memory', '-Wl,--shared-memory', '-Wl,--max-memory=4294967296', '-matomics', '-mbulk-memory'],
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
