/**
 * Depthwise-convolution gradients for the tfjs wasm backend, which (4.22) has the forward
 * `DepthwiseConv2dNative` but neither `DepthwiseConv2dNativeBackpropFilter` nor
 * `DepthwiseConv2dNativeBackpropInput`: MobileNetV2 cannot train on wasm without them.
 *
 * With WebAssembly SIMD both run as C kernels on tfjs' heap (./wasm/depthwise.c through
 * ./depthwiseWasm.ts: vectors over the contiguous channels, halves on the helper thread). The
 * paths below are what runs without them (no SIMD, FAT2019_TRAIN_WASM=0 or FAT2019_DEPTHWISE_C=0).
 *
 * dx with channel multiplier 1 (MobileNetV2) is a forward depthwise convolution, so XNNPACK
 * does the work (as conv2dGrads.ts does for Conv2D): the depthwise conv of dy (dilated by the
 * stride, padded by fh−1−top on top) with the filter rotated 180° in space; 5× faster than
 * the loops below on a full-width MobileNetV2 step. dW, and dx for other multipliers (or
 * padding beyond the filter), are direct loops over the wasm heap whose innermost loop runs
 * over channels, contiguous in NHWC. (dW as one depthwise conv over (channel, sample) pairs
 * with dy as a dilated Ho×Wo filter ran no faster than the loops: XNNPACK is not made for
 * such large kernels.)
 *
 * Filter [fh, fw, C, m] (channel multiplier m); output channel c·m + q comes from input
 * channel c and filter slice [:, :, c, q]. With pad top/left from tfjs' own conv info:
 *   dW[a, b, c, q]  = Σ_{n,i,j} x[n, i·sh + a − top, j·sw + b − left, c] · dy[n, i, j, c·m + q]
 *   dx[n, y, z, c]  = Σ_{q,a,b,i,j: i·sh + a − top = y, j·sw + b − left = z} dy[n, i, j, c·m + q] · W[a, b, c, q]
 * Dilation 1 only, as tfjs' depthwise gradient itself requires.
 */
import * as tf from '@tensorflow/tfjs';
import { WasmOps } from './wasmOps';
import { heapF32, type WasmBackendLike } from './wasmBackend';
import { offsetOf } from './trainWasm';
import { depthwiseContext, depthwiseGeometry, depthwiseFilterGradOp, depthwiseInputGradOp } from './depthwiseWasm';

interface DepthwiseGradAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

type Shape4 = [number, number, number, number];

function convInfo(kernel: string, xShape: Shape4, filterShape: Shape4, attrs: DepthwiseGradAttrs): tf.backend_util.Conv2DInfo {
  const dil = attrs.dilations ?? 1;
  const [dh, dw] = typeof dil === 'number' ? [dil, dil] : dil;
  if (dh !== 1 || dw !== 1) throw new Error(`${kernel} (fat2019 wasm kernel): dilations must be 1, got [${dh}, ${dw}]`);
  return tf.backend_util.computeConv2DInfo(xShape, filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, true, 'channelsLast');
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend };

/**
 * Filter gradient. Inputs x [N, H, W, C], dy [N, Ho, Wo, C·m]; attrs as tfjs'
 * `DepthwiseConv2dNativeBackpropFilter` (`filterShape` [fh, fw, C, m]). Returns dW.
 */
export function depthwiseBackpropFilterWasm(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const dy = args.inputs.dy as tf.TensorInfo;
  const attrs = args.attrs as unknown as DepthwiseGradAttrs & { filterShape: Shape4 };
  const backend = args.backend as unknown as WasmBackendLike;
  const info = convInfo('DepthwiseConv2dNativeBackpropFilter', x.shape as Shape4, attrs.filterShape, attrs);
  const ctx = depthwiseContext(backend, x, dy);
  if (ctx) {
    const out = backend.makeOutput(attrs.filterShape, 'float32');
    depthwiseFilterGradOp(ctx, offsetOf(backend, x), offsetOf(backend, dy), offsetOf(backend, out), depthwiseGeometry(info));
    return out;
  }
  return filterGradLoops(x, dy, attrs.filterShape, info, backend);
}

/**
 * Calls visit(dyBase, xBase, wBase) for every output pixel and every filter tap that falls inside
 * the image, in (n, i, a, j, b) order: the element offsets of that pixel's dy [Co], the input
 * pixel's x [C] and the tap's filter [Co] (Co = C·m). Both loop gradients walk these.
 */
function forEachTap([N, H, W, C]: Shape4, fh: number, fw: number, m: number, info: tf.backend_util.Conv2DInfo,
  visit: (dyBase: number, xBase: number, wBase: number) => void): void {
  const { outHeight: Ho, outWidth: Wo, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const Co = C * m;
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < Ho; i++) {
      for (let a = 0; a < fh; a++) {
        const y = i * sh + a - top;
        if (y < 0 || y >= H) continue;
        for (let j = 0; j < Wo; j++) {
          const dyBase = ((n * Ho + i) * Wo + j) * Co;
          for (let b = 0; b < fw; b++) {
            const z = j * sw + b - left;
            if (z < 0 || z >= W) continue;
            visit(dyBase, ((n * H + y) * W + z) * C, (a * fw + b) * Co);
          }
        }
      }
    }
  }
}

function filterGradLoops(x: tf.TensorInfo, dy: tf.TensorInfo, filterShape: Shape4, info: tf.backend_util.Conv2DInfo, backend: WasmBackendLike): tf.TensorInfo {
  const C = x.shape[3];
  const [fh, fw, , m] = filterShape;
  const acc = new Float64Array(fh * fw * C * m);
  const xv = heapF32(backend, x);
  const dyv = heapF32(backend, dy);
  forEachTap(x.shape as Shape4, fh, fw, m, info, (dyBase, xBase, wBase) => {
    if (m === 1) {
      for (let c = 0; c < C; c++) acc[wBase + c] += xv[xBase + c] * dyv[dyBase + c];
    } else {
      for (let c = 0; c < C; c++) {
        const xc = xv[xBase + c];
        for (let q = 0; q < m; q++) acc[wBase + c * m + q] += xc * dyv[dyBase + c * m + q];
      }
    }
  });
  const out = backend.makeOutput([fh, fw, C, m], 'float32');
  heapF32(backend, out).set(acc);
  return out;
}

/**
 * Input gradient. Inputs dy [N, Ho, Wo, C·m], filter [fh, fw, C, m]; attrs as tfjs'
 * `DepthwiseConv2dNativeBackpropInput` (`inputShape` [N, H, W, C]). Returns dx.
 */
export function depthwiseBackpropInputWasm(args: KernelArgs): tf.TensorInfo {
  const dy = args.inputs.dy as tf.TensorInfo;
  const filter = args.inputs.filter as tf.TensorInfo;
  const attrs = args.attrs as unknown as DepthwiseGradAttrs & { inputShape: Shape4 };
  const backend = args.backend as unknown as WasmBackendLike;
  const info = convInfo('DepthwiseConv2dNativeBackpropInput', attrs.inputShape, filter.shape as Shape4, attrs);
  const ctx = depthwiseContext(backend, dy, filter);
  if (ctx) {
    const out = backend.makeOutput(attrs.inputShape, 'float32');
    depthwiseInputGradOp(ctx, offsetOf(backend, dy), offsetOf(backend, filter), offsetOf(backend, out), depthwiseGeometry(info));
    return out;
  }
  const asConv = filter.shape[3] === 1 ? inputGradAsConv(dy, filter, attrs.inputShape, info, backend) : null;
  return asConv ?? inputGradLoops(dy, filter, attrs.inputShape, info, backend);
}

/**
 * dx for multiplier 1: the depthwise conv of dy, dilated by the stride, with the filter rotated
 * 180°; null when the forward padding exceeds the filter (the loops handle that).
 */
function inputGradAsConv(dy: tf.TensorInfo, filter: tf.TensorInfo, inputShape: Shape4, info: tf.backend_util.Conv2DInfo, backend: WasmBackendLike): tf.TensorInfo | null {
  const [N, H, W, C] = inputShape;
  const { outHeight: Ho, outWidth: Wo, filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const top = fh - 1 - info.padInfo.top;
  const left = fw - 1 - info.padInfo.left;
  if (top < 0 || left < 0) return null;
  const ops = new WasmOps(backend);
  // dy dilated by the stride: sh−1 zero rows (sw−1 zero columns) between the originals, and as
  // many after the last, which count towards the bottom (right) padding.
  let dyD = dy;
  let rows = Ho;
  let cols = Wo;
  if (sh > 1 || sw > 1) {
    const r = ops.reshape(dy, [N, Ho, 1, Wo, 1, C]);
    const p = ops.pad(r, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
    dyD = ops.reshape(p, [N, Ho * sh, Wo * sw, C]);
    rows = Ho * sh;
    cols = Wo * sw;
  }
  // Output rows = rows + top + bottom − fh + 1 must equal H.
  let bottom = H + fh - 1 - top - rows;
  let right = W + fw - 1 - left - cols;
  if (bottom < 0 || right < 0) {
    // Trailing rows of the dilated dy beyond what dx reaches (zeros, or rows the forward conv
    // computed from padding only): cut them.
    dyD = ops.slice(dyD, [0, 0, 0, 0], [N, rows + Math.min(0, bottom), cols + Math.min(0, right), C]);
    bottom = Math.max(0, bottom);
    right = Math.max(0, right);
  }
  const flipped = ops.flipSpatial(filter); // [fh, fw, C, 1]: taps are blocks of C floats
  const out = ops.depthwiseConv2d(dyD, flipped, [1, 1], [1, 1], [top, bottom, left, right]);
  ops.disposeAllBut(out);
  return out;
}

function inputGradLoops(dy: tf.TensorInfo, filter: tf.TensorInfo, inputShape: Shape4, info: tf.backend_util.Conv2DInfo, backend: WasmBackendLike): tf.TensorInfo {
  const [N, H, W, C] = inputShape;
  const [fh, fw, , m] = filter.shape;
  const out = backend.makeOutput([N, H, W, C], 'float32');
  // Views after the allocation: a growing heap detaches older ones.
  const dx = heapF32(backend, out);
  dx.fill(0);
  const dyv = heapF32(backend, dy);
  const wv = heapF32(backend, filter);
  forEachTap(inputShape, fh, fw, m, info, (dyBase, xBase, wBase) => {
    if (m === 1) {
      for (let c = 0; c < C; c++) dx[xBase + c] += dyv[dyBase + c] * wv[wBase + c];
    } else {
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let q = 0; q < m; q++) s += dyv[dyBase + c * m + q] * wv[wBase + c * m + q];
        dx[xBase + c] += s;
      }
    }
  });
  return out;
}
