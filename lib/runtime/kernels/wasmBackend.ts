/// <reference lib="dom" />
// (tslab compiles notebook imports without the DOM lib; this file uses WebAssembly types.)
/**
 * The wasm backend as the project's kernels see it: the slice of its interface they use and
 * float32 views of its heap. A leaf module, so that every kernel file can import it.
 */
import type * as tf from '@tensorflow/tfjs';

/** The slice of the wasm backend's interface used here. */
export interface WasmBackendLike {
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  wasm: { HEAPU8: Uint8Array; wasmMemory?: WebAssembly.Memory };
}

/**
 * Float32 view of a wasm tensor's data. The threaded build's memory may have grown since
 * `HEAPU8` was last refreshed, so the live `wasmMemory.buffer` is preferred. Make the view
 * after every allocation of the kernel (growth detaches older views).
 */
export function heapF32(backend: WasmBackendLike, t: tf.TensorInfo): Float32Array {
  const entry = backend.dataIdMap.get(t.dataId);
  if (!entry) throw new Error('heapF32: tensor is not on the wasm backend');
  const buffer = backend.wasm.wasmMemory?.buffer ?? backend.wasm.HEAPU8.buffer;
  return new Float32Array(buffer, entry.memoryOffset, t.shape.reduce((a, b) => a * b, 1));
}
