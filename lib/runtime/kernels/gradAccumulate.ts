/**
 * Gradient accumulation over micro-batches in one C call per micro-batch
 * (./wasm/gradAccumulate.c grad_accumulate) instead of a Multiply and an Add per parameter:
 * ResNet-18 with batch 32 as 4 micro-batches of 8 (the full-width setting) made 434 kernel
 * calls per step for it (62 parameters × (4 Multiply + 3 Add)), each with a new tensor. The same
 * float32 operations, so the same bits as `tf.add(acc, tf.mul(g, w))`.
 */
import * as tf from '@tensorflow/tfjs';
import { trainKernels, offsetOf } from './trainWasm';
import type { WasmBackendLike } from './wasmBackend';

/**
 * `acc` null: new tensors g[i]·w; else acc[i] + g[i]·w written into acc[i] in place (the same
 * array is returned). null (nothing done) where the C kernels are off (another backend, no SIMD,
 * FAT2019_TRAIN_WASM=0), a tensor is not float32 on the wasm heap, or an accumulator's data is
 * shared (reference count above 1): the caller then uses tfjs ops.
 */
export function accumulateScaled(acc: tf.Tensor[] | null, grads: tf.Tensor[], weight: number): tf.Tensor[] | null {
  if (tf.getBackend() !== 'wasm') return null;
  const backend = tf.backend() as unknown as WasmBackendLike & { refCount(dataId: object): number };
  const k = trainKernels(backend);
  if (!k) return null;
  const onHeap = (t: tf.Tensor) => t.dtype === 'float32' && backend.dataIdMap.get(t.dataId) !== undefined;
  if (!grads.every(onHeap)) return null;
  if (acc && (acc.length !== grads.length || !acc.every((a, i) => onHeap(a) && backend.refCount(a.dataId) === 1
    && a.size === grads[i].size && a.dataId !== grads[i].dataId))) return null;
  const outs = acc ? null : grads.map((g) => backend.makeOutput(g.shape, 'float32'));
  const table = backend.makeOutput([3 * Math.max(1, grads.length)], 'float32');
  try {
    const buffer = backend.wasm.wasmMemory?.buffer ?? backend.wasm.HEAPU8.buffer;
    const words = new Uint32Array(buffer, offsetOf(backend, table), 3 * grads.length);
    grads.forEach((g, i) => {
      words[3 * i] = acc ? offsetOf(backend, acc[i]) : offsetOf(backend, outs![i]);
      words[3 * i + 1] = offsetOf(backend, g);
      words[3 * i + 2] = g.size;
    });
    k.grad_accumulate(offsetOf(backend, table), grads.length, weight, acc ? 0 : 1);
  } finally {
    backend.disposeData(table.dataId);
  }
  if (acc) return acc;
  const engine = tf.engine() as unknown as { makeTensorFromTensorInfo(t: tf.TensorInfo): tf.Tensor };
  return outs!.map((o) => engine.makeTensorFromTensorInfo(o));
}
