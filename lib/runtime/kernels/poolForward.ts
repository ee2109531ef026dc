/**
 * `AvgPool` and `MaxPool` on wasm with an empty output (a window larger than what is left of
 * the input, e.g. a PANNs network given fewer frames than its pools need): the stock kernels
 * (XNNPACK) write outside the heap's bounds there — measured: pannsCnn14 validated on a
 * 28-frame clip, AvgPool of [1,2,1,64] by 2×2 → [1,1,0,64], corrupted tfjs' allocator (a later
 * `free` trapped, or a run went on for minutes). This returns the empty tensor cpu returns;
 * every other pool goes to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import type { WasmBackendLike } from './wasmBackend';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend };

interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The pool kernel, `stock` unless its input or output has no elements. */
export function makeEmptySafePoolWasm(stock: tf.KernelFunc) {
  return function poolWasm(args: KernelArgs): tf.TensorInfo {
    const x = args.inputs.x as tf.TensorInfo;
    const a = args.attrs as unknown as PoolAttrs;
    const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
    if (tf.util.sizeFromShape(info.outShape) > 0 && tf.util.sizeFromShape(x.shape) > 0) return stock(args) as tf.TensorInfo;
    return (args.backend as unknown as WasmBackendLike).makeOutput(info.outShape.map((s) => Math.max(0, s)), x.dtype);
  };
}
