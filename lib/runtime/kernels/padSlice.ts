/**
 * `PadV2` and `Slice` for the wasm backend as copies of contiguous rows in C
 * (./wasm/padSlice.c pad_rows, slice_rows; row halves with the helper thread for big tensors).
 * Why: the stock Slice copies each innermost row with `TypedArray.set` (one call per pixel of 8
 * channels: 13 ms for resnet18's [32,66,66,8] → [32,64,64,8] pad gradient); the stock PadV2 took
 * 14.6 ms for resnet18's [32,128,128,3] stem padding. Dimensions contiguous in memory are merged
 * first (a ZeroPadding2D of [N,H,W,C] is a pad of [N,H,W·C]), so rows are long. Tensors that
 * still need more than 4 dimensions, other dtypes (Pad: float32 only; Slice: 4-byte float32 and
 * int32) and empty ones go to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import type { WasmBackendLike } from './wasmBackend';
import { trainContext, offsetOf, type TrainContext } from './trainWasm';
import { runPair, SPLIT_MIN_ELEMENTS, type KernelName } from './trainPool';
import { hasRepeatedChannels, markRepeatedChannels } from './repeatedChannels';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend };

const size = (shape: number[]) => shape.reduce((a, s) => a * s, 1);

/** Runs `kernel(…before, r0, r1, …after)` over `rows` rows of `rowLength` elements; halves with the helper for big outputs. */
function byRows(ctx: TrainContext, kernel: KernelName, before: number[], after: number[], rows: number, rowLength: number): void {
  const h = ctx.helper && rows >= 2 && rows * rowLength >= SPLIT_MIN_ELEMENTS ? Math.ceil(rows / 2) : rows;
  runPair(ctx.k, ctx.helper, [kernel, [...before, 0, h, ...after]], h < rows ? [kernel, [...before, h, rows, ...after]] : null);
}

/**
 * The slice as [d0, d1, d2, run] rows with element strides [s0, s1, s2] from `offset`, or null
 * when it needs more than 4 dimensions. Size-1 dimensions are dropped and each dimension
 * contiguous with the next is merged into it.
 */
export function sliceView(shape: number[], begin: number[], sizes: number[]): { offset: number; dims: number[]; strides: number[] } | null {
  const strides = tf.util.computeStrides(shape).concat(1);
  let offset = 0;
  const dims: Array<[number, number]> = []; // [size, stride], outermost first
  for (let k = 0; k < shape.length; k++) {
    offset += begin[k] * strides[k];
    if (sizes[k] !== 1) dims.push([sizes[k], strides[k]]);
  }
  if (dims.length === 0 || dims[dims.length - 1][1] !== 1) dims.push([1, 1]);
  const merged: Array<[number, number]> = [];
  for (const d of dims) {
    const last = merged[merged.length - 1];
    if (last && last[1] === d[0] * d[1]) merged[merged.length - 1] = [last[0] * d[0], d[1]];
    else merged.push(d);
  }
  if (merged.length > 4) return null;
  while (merged.length < 4) merged.unshift([1, 0]);
  return { offset, dims: merged.map((d) => d[0]), strides: merged.slice(0, 3).map((d) => d[1]) };
}

/**
 * The pad as x [x0..x3] with padding before [p0..p3] in an output [o0..o3], or null when it
 * needs more than 4 dimensions: an unpadded dimension is merged into the one before it.
 */
export function padView(shape: number[], paddings: Array<[number, number]>): { x: number[]; before: number[]; out: number[] } | null {
  const dims = shape.map((s, k) => [s, paddings[k][0], paddings[k][1]]);
  for (let k = dims.length - 1; k >= 1; k--) {
    const [s, a, b] = dims[k];
    if (a === 0 && b === 0) {
      dims[k - 1] = [dims[k - 1][0] * s, dims[k - 1][1] * s, dims[k - 1][2] * s];
      dims.splice(k, 1);
    }
  }
  if (dims.length > 4) return null;
  while (dims.length < 4) dims.unshift([1, 0, 0]);
  return { x: dims.map((d) => d[0]), before: dims.map((d) => d[1]), out: dims.map((d) => d[0] + d[1] + d[2]) };
}

/** `Slice` in C, falling back on `stock`. */
export function makeSliceWasm(stock: tf.KernelFunc) {
  return function sliceWasm(args: KernelArgs): tf.TensorInfo {
    const x = args.inputs.x as tf.TensorInfo;
    const backend = args.backend as unknown as WasmBackendLike;
    const ctx = x.dtype === 'float32' || x.dtype === 'int32' ? trainContext(backend) : null;
    if (!ctx) return stock(args) as tf.TensorInfo;
    const { begin, size: sizeAttr } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, sizeAttr);
    const view = size(s) > 0 ? sliceView(x.shape, b, s) : null;
    if (!view) return stock(args) as tf.TensorInfo;
    const out = backend.makeOutput(s, x.dtype);
    const [, d1, d2, run] = view.dims;
    byRows(ctx, 'slice_rows', [offsetOf(backend, x) + 4 * view.offset, offsetOf(backend, out)], [d1, d2, run, ...view.strides],
      view.dims[0] * d1 * d2, run);
    return out;
  };
}

const f32Bits = (v: number) => new Uint32Array(Float32Array.of(v).buffer)[0];

/**
 * x [n, h, w, 1] (float32, on wasm) repeated on `channels` channels as one C pass
 * (./wasm/padSlice.c repeat_channels; halves with the helper for big inputs), or null where the
 * C kernels are not available. The model input of every network that takes 3 channels: a
 * 32×128×128 batch took 6–18 ms as a JavaScript interleave into a new array and its upload,
 * 0.4 ms to upload the one channel.
 */
export function repeatChannels(x: tf.Tensor4D, channels: number): tf.Tensor4D | null {
  if (tf.getBackend() !== 'wasm' || x.dtype !== 'float32' || x.shape[3] !== 1) return null;
  const backend = tf.backend() as unknown as WasmBackendLike;
  const ctx = trainContext(backend);
  const pixels = size(x.shape);
  if (!ctx || pixels === 0) return null;
  const [n, h, w] = x.shape;
  const out = backend.makeOutput([n, h, w, channels], 'float32');
  byRows(ctx, 'repeat_channels', [offsetOf(backend, x)], [channels, offsetOf(backend, out)], pixels, channels);
  markRepeatedChannels(out);
  const engine = tf.engine() as unknown as { makeTensorFromTensorInfo(t: tf.TensorInfo): tf.Tensor };
  return engine.makeTensorFromTensorInfo(out) as tf.Tensor4D;
}

/** `PadV2` in C, falling back on `stock`. */
export function makePadWasm(stock: tf.KernelFunc) {
  return function padWasm(args: KernelArgs): tf.TensorInfo {
    const x = args.inputs.x as tf.TensorInfo;
    const backend = args.backend as unknown as WasmBackendLike;
    const ctx = x.dtype === 'float32' ? trainContext(backend) : null;
    if (!ctx || size(x.shape) === 0) return stock(args) as tf.TensorInfo;
    const { paddings, constantValue } = args.attrs as unknown as { paddings: Array<[number, number]>; constantValue: number };
    const view = padView(x.shape, paddings);
    if (!view) return stock(args) as tf.TensorInfo;
    const out = backend.makeOutput(x.shape.map((s, k) => paddings[k][0] + s + paddings[k][1]), 'float32');
    const [o0, o1, o2, o3] = view.out;
    byRows(ctx, 'pad_rows', [offsetOf(backend, x), offsetOf(backend, out)], [o1, o2, o3, ...view.x, ...view.before, f32Bits(constantValue)],
      o0 * o1 * o2, o3);
    // Spatial padding keeps channels that copy the first copies (one pad value for all).
    if (x.shape.length === 4 && paddings[3][0] === 0 && paddings[3][1] === 0 && hasRepeatedChannels(x)) markRepeatedChannels(out);
    return out;
  };
}
