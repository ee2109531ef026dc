/// <reference lib="dom" />
// (tslab compiles notebook imports without the DOM lib; this file uses WebAssembly types.)
/**
 * The project's C training kernels (./wasm/trainKernels.c), instantiated on tfjs' own wasm
 * memory so that they read and write tensors in place (pointers are `memoryOffset`s).
 *
 * tfjs-backend-wasm 4.22 has two SIMD binaries: the threaded one exposes its shared memory as
 * `wasm.wasmMemory`; the single-threaded one exports a plain memory (`wasm.asm.memory`). Each
 * needs its own build of the kernels (a shared import only accepts a shared memory). The
 * kernels are single-threaded. Null where WebAssembly SIMD is missing or the memory cannot be
 * found (callers keep their JavaScript path), or when FAT2019_TRAIN_WASM=0 (for A/B timing).
 */
import * as tf from '@tensorflow/tfjs';
import { compileKernel } from '../../wasm/load';
import { WASM_BASE64 as PLAIN_BASE64 } from './wasm/trainKernels.wasm';
import { WASM_BASE64 as SHARED_BASE64 } from './wasm/trainKernelsShared.wasm';
import type { WasmBackendLike } from './wasmOps';

/** Exports of trainKernels.c (every pointer a byte offset into tfjs' heap). */
export interface TrainKernelExports {
  col_sums(x: number, rows: number, cols: number, acc: number, out: number, scale: number): void;
  moments(x: number, rows: number, cols: number, acc: number, mean: number, variance: number): void;
  bn_train_forward(x: number, rows: number, cols: number, gamma: number, beta: number, eps: number,
    acc: number, mean: number, variance: number, y: number): void;
  bn_train_backward(dy: number, x: number, rows: number, cols: number, mean: number, variance: number,
    gamma: number, eps: number, acc: number, dx: number, dgamma: number, dbeta: number): void;
  conv2d_filter_grad(x: number, dy: number, dw: number, n0: number, n1: number, H: number, W: number, Ci: number,
    Ho: number, Wo: number, Co: number, fh: number, fw: number, sh: number, sw: number, top: number, left: number): void;
}

const instances = new WeakMap<WebAssembly.Memory, TrainKernelExports | null>();
let enabled = !/^(0|false|off)$/i.test(typeof process !== 'undefined' ? process.env.FAT2019_TRAIN_WASM ?? '' : '');

/** Turns the C kernels off (JavaScript/stock paths) or back on; returns the previous setting. */
export function setTrainKernelsEnabled(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** tfjs' WebAssembly.Memory on either SIMD binary, or null. */
export function backendMemory(backend: WasmBackendLike): WebAssembly.Memory | null {
  const w = backend.wasm as WasmBackendLike['wasm'] & { asm?: { memory?: WebAssembly.Memory } };
  const mem = w.wasmMemory ?? w.asm?.memory;
  return mem instanceof WebAssembly.Memory ? mem : null;
}

/** Instantiates (once per memory) the kernels on a memory; null without SIMD. */
export function trainKernelsOnMemory(memory: WebAssembly.Memory): TrainKernelExports | null {
  if (instances.has(memory)) return instances.get(memory) ?? null;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const mod = shared
    ? compileKernel('lib/runtime/kernels/wasm/trainKernelsShared.c', SHARED_BASE64)
    : compileKernel('lib/runtime/kernels/wasm/trainKernels.c', PLAIN_BASE64);
  let exportsOrNull: TrainKernelExports | null = null;
  if (mod) {
    try {
      exportsOrNull = new WebAssembly.Instance(mod, { env: { memory } }).exports as unknown as TrainKernelExports;
    } catch {
      exportsOrNull = null;
    }
  }
  instances.set(memory, exportsOrNull);
  return exportsOrNull;
}

/** The kernels on this wasm backend's heap, or null (see the file comment). */
export function trainKernels(backend: WasmBackendLike): TrainKernelExports | null {
  if (!enabled) return null;
  const memory = backendMemory(backend);
  return memory ? trainKernelsOnMemory(memory) : null;
}

/** Byte offset of a wasm tensor's data. */
export function offsetOf(backend: WasmBackendLike, t: tf.TensorInfo): number {
  const entry = backend.dataIdMap.get(t.dataId);
  if (!entry) throw new Error('offsetOf: tensor is not on the wasm backend');
  return entry.memoryOffset;
}
