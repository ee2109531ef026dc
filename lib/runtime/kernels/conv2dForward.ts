/**
 * Forward convolutions (`Conv2D`, `FusedConv2D`) on wasm through the C kernel of
 * ./wasm/trainKernels.c (conv2d_forward: 4 pixels × 8 output channels in registers, rows split
 * with the helper thread of ./trainPool), and the same kernel for the input gradient
 * (./conv2dGrads uses WasmOps.conv2d, which comes here first).
 *
 * Why: XNNPACK creates an operator, packing the filter, for every new filter tensor, i.e. on
 * every training step (the weights change) and on every input-gradient call (a flipped filter).
 * Measured on CNN-model-1's layers (batch 32, width 1/8), 2 threads: XNNPACK 60–85 GFLOP/s, this
 * kernel with the helper 66–124. Same sums in the same order as XNNPACK's (equal outputs in the
 * measurements). Weights of an 8-channel block larger than 16 KiB are first packed contiguously
 * (trainKernels.c pack_w8): unpacked, 256+ input channels fell to 58–73 GFLOP/s; packed, the
 * full-width layers run at 117–124 vs XNNPACK's 86–89. Handled: NHWC, dilation 1, float32,
 * output channels a multiple of 4 (a last 4-channel block in a 4×4 tile: XResNet's 4-channel
 * stem at width 1/8, one thread, CPU time: 3×3 4→4 [32,64,64,4] XNNPACK 4.98 ms, C 3.05; 3→4
 * stride 2 3.58 → 2.45), bias [Co] or none, activation linear or relu; everything else
 * goes to the stock kernel. 3×3 stride-1 'same' layers with Ci % 4 == 0 and Ci >= 16 run as
 * Winograd F(2×2, 3×3) instead (trainWasm.ts winogradForward; not XNNPACK's sums: outputs within
 * ≈3e-6 of the largest |y|), those with ≥ 32 channels on maps of 16×16 or more as F(4×4, 3×3)
 * (≈1e-5). An input whose channels copy its first (the repeated model input) runs as one channel
 * with the filter summed over the channels (./repeatedChannels).
 */
import * as tf from '@tensorflow/tfjs';
import type { WasmBackendLike } from './wasmBackend';
import { trainContext, convForwardOp, offsetOf, backendMemory } from './trainWasm';
import { firstChannel, hasRepeatedChannels } from './repeatedChannels';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend };

/**
 * y = act(conv(x, filter) + bias) with explicit padding [top, bottom, left, right], or null
 * where the C kernel does not apply (the caller then uses XNNPACK).
 */
export function convForwardC(
  backend: WasmBackendLike, x: tf.TensorInfo, filter: tf.TensorInfo, bias: tf.TensorInfo | null,
  strides: [number, number], pads: [number, number, number, number], relu: boolean,
): tf.TensorInfo | null {
  if (x.dtype !== 'float32' || filter.dtype !== 'float32' || x.shape.length !== 4 || filter.shape.length !== 4) return null;
  const [N, H, W, Ci] = x.shape;
  const [fh, fw, ci2, Co] = filter.shape;
  if (ci2 !== Ci || Co % 4 !== 0 || Co === 0 || Ci === 0) return null;
  if (bias && (bias.dtype !== 'float32' || bias.shape.reduce((a, b) => a * b, 1) !== Co)) return null;
  const [sh, sw] = strides;
  const Ho = Math.floor((H + pads[0] + pads[1] - fh) / sh) + 1;
  const Wo = Math.floor((W + pads[2] + pads[3] - fw) / sw) + 1;
  if (Ho <= 0 || Wo <= 0 || N === 0) return null;
  const ctx = trainContext(backend);
  if (!ctx) return null;
  const out = backend.makeOutput([N, Ho, Wo, Co], 'float32');
  const biasOff = bias ? offsetOf(backend, bias) : 0;
  if (hasRepeatedChannels(x)) {
    // Channels that copy the first: the 1-channel conv with the filter summed over them (./repeatedChannels).
    const x1 = firstChannel(ctx, x);
    const w1 = backend.makeOutput([fh, fw, 1, Co], 'float32');
    const heap = backendMemory(backend)!.buffer;
    const w = new Float32Array(heap, offsetOf(backend, filter), fh * fw * Ci * Co);
    const sum = new Float32Array(heap, offsetOf(backend, w1), fh * fw * Co);
    for (let t = 0; t < fh * fw; t++) {
      for (let co = 0; co < Co; co++) {
        let v = 0;
        for (let ci = 0; ci < Ci; ci++) v += w[(t * Ci + ci) * Co + co];
        sum[t * Co + co] = v;
      }
    }
    convForwardOp(ctx, offsetOf(backend, x1), offsetOf(backend, w1), biasOff, offsetOf(backend, out),
      N, H, W, 1, Ho, Wo, Co, fh, fw, sh, sw, pads[0], pads[2], relu);
    backend.disposeData(x1.dataId);
    backend.disposeData(w1.dataId);
    return out;
  }
  convForwardOp(ctx, offsetOf(backend, x), offsetOf(backend, filter), biasOff, offsetOf(backend, out),
    N, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, pads[0], pads[2], relu);
  return out;
}

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
}

/** Explicit [top, bottom, left, right] and strides from conv attrs, or null (NCHW, dilation ≠ 1). */
function geometry(x: tf.TensorInfo, filter: tf.TensorInfo, attrs: ConvAttrs) {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return null;
  const d = attrs.dilations ?? 1;
  if ((typeof d === 'number' ? d : Math.max(d[0], d[1])) !== 1) return null;
  if (x.shape.length !== 4 || filter.shape.length !== 4) return null;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const p = info.padInfo;
  if (p.top < 0 || p.left < 0) return null;
  return {
    strides: [info.strideHeight, info.strideWidth] as [number, number],
    pads: [p.top, p.bottom, p.left, p.right] as [number, number, number, number],
    outShape: [info.batchSize, info.outHeight, info.outWidth, info.outChannels],
  };
}

function tryC(args: KernelArgs, bias: tf.TensorInfo | null, relu: boolean): tf.TensorInfo | null {
  const x = args.inputs.x as tf.TensorInfo;
  const filter = args.inputs.filter as tf.TensorInfo;
  const g = geometry(x, filter, args.attrs as unknown as ConvAttrs);
  if (!g) return null;
  const out = convForwardC(args.backend as unknown as WasmBackendLike, x, filter, bias, g.strides, g.pads, relu);
  if (out && !tf.util.arraysEqual(out.shape, g.outShape)) {
    (args.backend as unknown as WasmBackendLike).disposeData(out.dataId);
    return null;
  }
  return out;
}

/** wasm `Conv2D` through the C kernel where it applies. */
export function makeConv2DWasm(stock: tf.KernelFunc) {
  return function conv2DWasm(args: KernelArgs): tf.TensorInfo {
    return tryC(args, null, false) ?? (stock(args) as tf.TensorInfo);
  };
}

/** wasm `FusedConv2D` (bias, linear/relu) through the C kernel where it applies. */
export function makeFusedConv2DWasm(stock: tf.KernelFunc) {
  return function fusedConv2DWasm(args: KernelArgs): tf.TensorInfo {
    const attrs = args.attrs as unknown as ConvAttrs;
    const activation = attrs.activation ?? 'linear';
    const prelu = args.inputs.preluActivationWeights as tf.TensorInfo | undefined;
    if ((activation !== 'linear' && activation !== 'relu') || prelu) return stock(args) as tf.TensorInfo;
    const bias = (args.inputs.bias as tf.TensorInfo | undefined) ?? null;
    return tryC(args, bias, activation === 'relu') ?? (stock(args) as tf.TensorInfo);
  };
}
