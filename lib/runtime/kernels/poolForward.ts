/**
 * `MaxPool` on wasm in C (./wasm/poolGrads.c max_pool; output rows in halves with the helper
 * thread for big tensors), float32 with an output: the stock kernel is XNNPACK's, whose hand-over
 * to its thread pool on the threaded binary cost more than the pooling (ResNet-18's stem pool at
 * width 1/8, [32,66,66,8] 3×3/2: 1.4–6.6 ms a call). cpu's values bit for bit (a NaN never wins a
 * window; a 1×1 window is the identity); the stock kernel's but for NaN and the sign of a zero
 * tied with a zero. `AvgPool` of windows up to 9 pixels in C too (./wasm/poolGrads.c avg_pool9:
 * XNNPACK's order of additions and scale, the stock kernel's bits).
 *
 * `AvgPool` and `MaxPool` on wasm with an empty output (a window larger than what is left of
 * the input, e.g. a PANNs network given fewer frames than its pools need): the stock kernels
 * (XNNPACK) write outside the heap's bounds there — measured: pannsCnn14 validated on a
 * 28-frame clip, AvgPool of [1,2,1,64] by 2×2 → [1,1,0,64], corrupted tfjs' allocator (a later
 * `free` trapped, or a run went on for minutes). This returns the empty tensor cpu returns;
 * every other pool the C kernels do not take goes to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import type { WasmBackendLike } from './wasmBackend';
import { trainContext, offsetOf } from './trainWasm';
import { runPair, SPLIT_MIN_ELEMENTS } from './trainPool';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend };

interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The pool kernel, `stock` unless its input or output has no elements. */
function makeEmptySafePoolWasm(stock: tf.KernelFunc) {
  return function poolWasm(args: KernelArgs): tf.TensorInfo {
    const x = args.inputs.x as tf.TensorInfo;
    const a = args.attrs as unknown as PoolAttrs;
    const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
    if (tf.util.sizeFromShape(info.outShape) > 0 && tf.util.sizeFromShape(x.shape) > 0) return stock(args) as tf.TensorInfo;
    return (args.backend as unknown as WasmBackendLike).makeOutput(info.outShape.map((s) => Math.max(0, s)), x.dtype);
  };
}

/** `MaxPool` in C where it applies (float32, non-empty, the C kernels loaded), else {@link makeEmptySafePoolWasm}'s. */
export function makeMaxPoolWasm(stock: tf.KernelFunc) {
  const fallback = makeEmptySafePoolWasm(stock);
  return function maxPoolWasm(args: KernelArgs): tf.TensorInfo {
    const x = args.inputs.x as tf.TensorInfo;
    const backend = args.backend as unknown as WasmBackendLike;
    const a = args.attrs as unknown as PoolAttrs;
    const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
    const ctx = x.dtype === 'float32' && tf.util.sizeFromShape(info.outShape) > 0 && tf.util.sizeFromShape(x.shape) > 0 ? trainContext(backend) : null;
    if (!ctx) return fallback(args);
    if (info.filterHeight === 1 && info.filterWidth === 1 && tf.util.arraysEqual(info.inShape, info.outShape)) {
      // The identity (cnn7th's 1×1 pool), sharing x's data as cpu's kernel does (NaN kept).
      backend.incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    }
    const y = backend.makeOutput(info.outShape, 'float32');
    const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: Ho, outWidth: Wo } = info;
    const { strideHeight: sh, strideWidth: sw, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
    const geometry = [H, W, C, Ho, Wo, fh, fw, sh, sw, info.padInfo.top, info.padInfo.left];
    const rows = N * Ho;
    const h = ctx.helper && rows >= 2 && N * H * W * C >= SPLIT_MIN_ELEMENTS ? Math.ceil(rows / 2) : rows;
    const [px, py] = [offsetOf(backend, x), offsetOf(backend, y)];
    runPair(ctx.k, ctx.helper, ['max_pool', [px, py, 0, h, ...geometry]], h < rows ? ['max_pool', [px, py, h, rows, ...geometry]] : null);
    return y;
  };
}

/**
 * `AvgPool` in C (./wasm/poolGrads.c avg_pool9) for float32 windows of at most 9 pixels, with
 * XNNPACK's summation order and scale, so the stock kernel's bits; larger windows, pools to one
 * pixel, other dtypes and empty outputs as {@link makeEmptySafePoolWasm}. Why: the stock kernel's thread-pool
 * hand-over (XResNet's shortcut pools at width 1/8: 2.3–9 ms for 3 calls a step under load).
 */
export function makeAvgPoolWasm(stock: tf.KernelFunc) {
  const fallback = makeEmptySafePoolWasm(stock);
  return function avgPoolWasm(args: KernelArgs): tf.TensorInfo {
    const x = args.inputs.x as tf.TensorInfo;
    const backend = args.backend as unknown as WasmBackendLike;
    const a = args.attrs as unknown as PoolAttrs;
    const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
    // One output pixel per image: tfjs-wasm takes XNNPACK's global average pool there, another
    // order of additions (PANNs' last 2×2 pool of a 2×2 map differed in 102 of 256 values): stock.
    const small = info.filterHeight * info.filterWidth <= 9 && info.dilationHeight === 1 && info.dilationWidth === 1
      && info.outHeight * info.outWidth > 1;
    const ctx = x.dtype === 'float32' && small && tf.util.sizeFromShape(info.outShape) > 0 && tf.util.sizeFromShape(x.shape) > 0 ? trainContext(backend) : null;
    if (!ctx) return fallback(args);
    const y = backend.makeOutput(info.outShape, 'float32');
    const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: Ho, outWidth: Wo } = info;
    const geometry = [H, W, C, Ho, Wo, info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left];
    const rows = N * Ho;
    const h = ctx.helper && rows >= 2 && N * H * W * C >= SPLIT_MIN_ELEMENTS ? Math.ceil(rows / 2) : rows;
    const [px, py] = [offsetOf(backend, x), offsetOf(backend, y)];
    runPair(ctx.k, ctx.helper, ['avg_pool9', [px, py, 0, h, ...geometry]], h < rows ? ['avg_pool9', [px, py, h, rows, ...geometry]] : null);
    return y;
  };
}
