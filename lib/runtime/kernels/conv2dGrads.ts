/**
 * Convolution gradients for the tfjs wasm backend, written as forward convolutions so that
 * XNNPACK (SIMD, threads) does the work.
 *
 * - `Conv2DBackpropFilter` is missing from tfjs-backend-wasm 4.22: training any conv net fails
 *   without it. The filter gradient dW[a,b,ci,co] = Σ_{n,i,j} x[n, i·s+a−pt, j·s+b−pl, ci] ·
 *   dy[n,i,j,co] is one forward conv of x transposed to [Ci, H, W, N] (channels = batch) with
 *   dy transposed to [Ho, Wo, N, Co] as the filter, dilation = the forward stride, padding =
 *   the forward padding; its [Ci, fh, fw, Co] output is transposed to [fh, fw, Ci, Co].
 *   PERF-NOTES measured 13–36 GFLOP/s this way vs 1–2 for slices + matMul. Most of that time is
 *   XNNPACK creating an operator for the new "filter" (packing dy, e.g. 14 of 18 ms for
 *   [32,128,128,·] → 8 channels): with WebAssembly SIMD the C kernel of ./wasm/trainKernels.c
 *   (conv2d_filter_grad: row-blocked, 4×8 channel register tiles) does it directly in the final
 *   [fh, fw, Ci, Co] layout at 30–60 GFLOP/s on one thread, without the transposes; 3×3
 *   stride-1 'same' layers (Ci % 4 == 0, Ci >= 16, Co % 8 == 0) by Winograd F(3×3, 2×2)
 *   (conv2d_wino_fgrad: 77–117 GFLOP/s-equivalent on one thread at full width).
 * - The stock `Conv2DBackpropInput` is a scalar loop (≈2.4 GFLOP/s). With the C kernels, dx comes
 *   from conv2d_input_grad (./wasm/convInputGrad.c: any filter and stride, read in place);
 *   3×3 stride-1 'same' layers that Winograd takes, and the no-kernel fallback, run dx as the
 *   forward conv of dy (dilated by the stride, zero-padded by fh−1−pt on top) with the filter
 *   flipped in both spatial axes and its in/out channels swapped (20–29 GFLOP/s on one thread).
 *
 * Layout: NHWC only; filters [fh, fw, Ci, Co]; dilation 1 (as tfjs' conv2d gradient requires).
 */
import * as tf from '@tensorflow/tfjs';
import { WasmOps, pair } from './wasmOps';
import { WasmBackendLike } from './wasmBackend';
import { firstChannel, hasRepeatedChannels } from './repeatedChannels';
import { trainContext, filterGradOp, inputGradOp, winogradApplies, winogradPaysInputGrad, winograd5Applies, offsetOf, backendMemory } from './trainWasm';

interface ConvGradAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function checkFormat(kernel: string, dataFormat: string | undefined): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`${kernel} (fat2019 wasm kernel): dataFormat must be 'NHWC', got '${dataFormat}'`);
  }
}

/**
 * Filter gradient. Inputs x [N, H, W, Ci], dy [N, Ho, Wo, Co]; attrs as tfjs'
 * `Conv2DBackpropFilter` (`filterShape` [fh, fw, Ci, Co]). Returns dW [fh, fw, Ci, Co].
 */
export function conv2dBackpropFilterWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  attrs: tf.NamedAttrMap;
  backend: tf.KernelBackend;
}): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const dy = args.inputs.dy as tf.TensorInfo;
  const attrs = args.attrs as unknown as ConvGradAttrs & { filterShape: [number, number, number, number] };
  checkFormat('Conv2DBackpropFilter', attrs.dataFormat);
  const backend = args.backend as unknown as WasmBackendLike;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad,
    attrs.dimRoundingMode, false, 'channelsLast');
  const [, H, W, Ci] = x.shape;
  const [, Ho, Wo, Co] = dy.shape;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Padding after the input so the dilated "filter" (dy) fits exactly fh × fw times; when the
  // forward conv ignored trailing input rows the conv gives extra rows, cut off below.
  let bottom = fh - 1 + (Ho - 1) * sh + 1 - H - top;
  let right = fw - 1 + (Wo - 1) * sw + 1 - W - left;
  const extraH = Math.max(0, -bottom);
  const extraW = Math.max(0, -right);
  bottom = Math.max(0, bottom);
  right = Math.max(0, right);

  const ctx = x.dtype === 'float32' && dy.dtype === 'float32' ? trainContext(backend) : null;
  if (ctx) {
    const out = backend.makeOutput([fh, fw, Ci, Co], 'float32');
    if (hasRepeatedChannels(x)) {
      // Channels that copy the first: the 1-channel gradient, on every channel (./repeatedChannels).
      const x1 = firstChannel(ctx, x);
      const dw1 = backend.makeOutput([fh, fw, 1, Co], 'float32');
      filterGradOp(ctx, offsetOf(backend, x1), offsetOf(backend, dy), offsetOf(backend, dw1), x.shape[0],
        H, W, 1, Ho, Wo, Co, fh, fw, sh, sw, top, left);
      const heap = backendMemory(backend)!.buffer;
      const one = new Float32Array(heap, offsetOf(backend, dw1), fh * fw * Co);
      const all = new Float32Array(heap, offsetOf(backend, out), fh * fw * Ci * Co);
      for (let t = 0; t < fh * fw; t++) {
        for (let ci = 0; ci < Ci; ci++) all.set(one.subarray(t * Co, (t + 1) * Co), (t * Ci + ci) * Co);
      }
      backend.disposeData(x1.dataId);
      backend.disposeData(dw1.dataId);
      return out;
    }
    filterGradOp(ctx, offsetOf(backend, x), offsetOf(backend, dy), offsetOf(backend, out), x.shape[0],
      H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left);
    return out;
  }

  const ops = new WasmOps(backend);
  const xT = ops.transpose(x, [3, 1, 2, 0]); // [Ci, H, W, N]
  const dyT = ops.transpose(dy, [1, 2, 0, 3]); // [Ho, Wo, N, Co]
  let g = ops.conv2d(xT, dyT, [1, 1], [sh, sw], [top, bottom, left, right]); // [Ci, fh(+e), fw(+e), Co]
  if (extraH > 0 || extraW > 0) g = ops.slice(g, [0, 0, 0, 0], [Ci, fh, fw, Co]);
  const out = ops.transpose(g, [1, 2, 0, 3]); // [fh, fw, Ci, Co]
  ops.disposeAllBut(out);
  return out;
}

/**
 * Filters (by dataId) whose convolution's input gradient nobody reads: tfjs' fused conv2d
 * gradient computes dx and dW together, so a conv applied to the model input (not a variable)
 * would compute an input gradient that backprop throws away (CNN-model-1 at full width: ≈30 ms
 * per 8-image micro-batch through XNNPACK, 3 output channels). lib/train/fit.ts' trainStep
 * names such filters; Conv2DBackpropInput (wasm) returns zeros for them.
 */
const unusedInputGradients = new Set<object>();

/** Runs fn with the input gradients of convolutions by these filters skipped (zeros). */
export function withUnusedInputGradients<T>(filters: tf.Tensor[], fn: () => T): T {
  const added = filters.map((f) => f.dataId).filter((id) => !unusedInputGradients.has(id));
  for (const id of added) unusedInputGradients.add(id);
  try {
    return fn();
  } finally {
    for (const id of added) unusedInputGradients.delete(id);
  }
}

/**
 * dx by the C kernel conv2d_input_grad (trainWasm.ts inputGradOp), or null where the composed
 * path below stays: 3×3 stride-1 'same' layers that it runs as Winograd (faster), no C kernels,
 * or FAT2019_CONV_INPUT_GRAD=0 (read on every call, for A/B timing in one process).
 *
 * Why: the composed path dilates dy by the stride (a PadV2 of 4× the size for stride 2, then a
 * convolution that multiplies mostly zeros) and flips and transposes the filter through tfjs
 * ops; its output channels Ci not a multiple of 8 went to XNNPACK. The kernel reads dy and
 * the filter in place and visits only the taps of each pixel's stride phase.
 */
function directInputGrad(backend: WasmBackendLike, dy: tf.TensorInfo, filter: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo, sh: number, sw: number): tf.TensorInfo | null {
  if (typeof process !== 'undefined' && /^(0|false|off)$/i.test(process.env.FAT2019_CONV_INPUT_GRAD ?? '')) return null;
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32' || dy.shape.length !== 4) return null;
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, filterHeight: fh, filterWidth: fw } = info;
  const [, Ho, Wo, Co] = dy.shape;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  if (top < 0 || left < 0 || N === 0 || Ci === 0 || Co === 0) return null;
  if (sh === 1 && sw === 1 && winogradApplies(Ho, Wo, Co, H, W, Ci, fh, fw, 1, 1, fh - 1 - top, fw - 1 - left)
    && winogradPaysInputGrad(N, Ho, Wo)) return null;
  if (sh === 1 && sw === 1 && winograd5Applies(Ho, Wo, Co, H, W, Ci, fh, fw, 1, 1, fh - 1 - top, fw - 1 - left)) return null;
  const ctx = trainContext(backend);
  if (!ctx) return null;
  const out = backend.makeOutput([N, H, W, Ci], 'float32');
  inputGradOp(ctx, offsetOf(backend, dy), offsetOf(backend, filter), offsetOf(backend, out), N, H, W, Ci, Ho, Wo, Co,
    fh, fw, sh, sw, top, left);
  return out;
}

/**
 * Input gradient. Inputs dy [N, Ho, Wo, Co], filter [fh, fw, Ci, Co]; attrs as tfjs'
 * `Conv2DBackpropInput` (`inputShape` [N, H, W, Ci]). Returns dx [N, H, W, Ci].
 * `fallback` (the stock kernel) handles what this formulation cannot (NCHW).
 */
export function makeConv2dBackpropInputWasm(fallback: tf.KernelFunc | undefined) {
  return function conv2dBackpropInputWasm(args: {
    inputs: tf.NamedTensorInfoMap;
    attrs: tf.NamedAttrMap;
    backend: tf.KernelBackend;
  }): tf.TensorInfo {
    const attrs = args.attrs as unknown as ConvGradAttrs & { inputShape: [number, number, number, number] };
    if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC' && fallback) {
      return fallback(args) as tf.TensorInfo;
    }
    checkFormat('Conv2DBackpropInput', attrs.dataFormat);
    const dy = args.inputs.dy as tf.TensorInfo;
    const filter = args.inputs.filter as tf.TensorInfo;
    const backend = args.backend as unknown as WasmBackendLike;
    if (unusedInputGradients.size > 0 && unusedInputGradients.has(filter.dataId)) {
      const out = backend.makeOutput(attrs.inputShape, 'float32');
      const n = attrs.inputShape.reduce((a, b) => a * b, 1);
      const mem = backendMemory(backend);
      if (mem) new Float32Array(mem.buffer, offsetOf(backend, out), n).fill(0);
      else (backend as unknown as { typedArrayFromHeap(t: tf.TensorInfo): Float32Array }).typedArrayFromHeap(out).fill(0);
      return out;
    }
    const info = tf.backend_util.computeConv2DInfo(
      attrs.inputShape, filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad,
      attrs.dimRoundingMode, false, 'channelsLast');
    const [N, H, W] = attrs.inputShape;
    const [, Ho, Wo, Co] = dy.shape;
    const { filterHeight: fh, filterWidth: fw } = info;
    const [sh, sw] = pair(attrs.strides as number | [number, number]);
    const direct = directInputGrad(backend, dy, filter, info, sh, sw);
    if (direct) return direct;
    const ops = new WasmOps(backend);

    // dy dilated by the stride: (Ho−1)·sh+1 rows with sh−1 zero rows between the originals.
    let dyD: tf.TensorInfo = dy;
    let Hd = Ho;
    let Wd = Wo;
    if (sh > 1 || sw > 1) {
      const r = ops.reshape(dy, [N, Ho, 1, Wo, 1, Co]);
      const p = ops.pad(r, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
      dyD = ops.reshape(p, [N, Ho * sh, Wo * sw, Co]);
      Hd = (Ho - 1) * sh + 1;
      Wd = (Wo - 1) * sw + 1;
    }
    const top = fh - 1 - info.padInfo.top;
    const left = fw - 1 - info.padInfo.left;
    let bottom = H + fh - 1 - top - Hd;
    let right = W + fw - 1 - left - Wd;
    if (top < 0 || left < 0) {
      ops.disposeAllBut(dy);
      if (!fallback) throw new Error('Conv2DBackpropInput: padding larger than the filter is not supported');
      return fallback(args) as tf.TensorInfo;
    }
    // The trailing zero rows of the dilated tensor (sh−1) count towards the bottom padding.
    const trailH = dyD === dy ? 0 : sh - 1;
    const trailW = dyD === dy ? 0 : sw - 1;
    bottom -= trailH;
    right -= trailW;
    if (bottom < 0 || right < 0) {
      // Rows of dy beyond what dx reaches: cut them (rare: strided convs that drop input rows).
      const keepH = (dyD === dy ? Hd : Ho * sh) + Math.min(0, bottom);
      const keepW = (dyD === dy ? Wd : Wo * sw) + Math.min(0, right);
      dyD = ops.slice(dyD, [0, 0, 0, 0], [N, keepH, keepW, Co]);
      bottom = Math.max(0, bottom);
      right = Math.max(0, right);
    }
    const flipped = ops.flipSpatial(filter);
    const wT = ops.transpose(flipped, [0, 1, 3, 2]); // [fh, fw, Co, Ci]
    const out = ops.conv2d(dyD, wT, [1, 1], [1, 1], [top, bottom, left, right]);
    ops.disposeAllBut(out);
    return out;
  };
}
