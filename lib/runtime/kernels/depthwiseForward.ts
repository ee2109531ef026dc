/**
 * Forward depthwise convolutions (`DepthwiseConv2dNative`, `FusedDepthwiseConv2D`) on wasm
 * through the C kernel of ./wasm/depthwise.c (dw_forward; rows split with the helper thread,
 * ./depthwiseWasm.ts). Why: XNNPACK creates an operator, packing the filter, for every new
 * filter tensor, i.e. for every layer on every training step.
 * Handled: NHWC, dilation 1, float32, any channel multiplier, bias [C·m] or none, activation
 * linear, relu or relu6; everything else goes to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import type { WasmBackendLike } from './wasmBackend';
import { offsetOf } from './trainWasm';
import { depthwiseContext, depthwiseForwardOp, depthwiseGeometry, type DepthwiseActivation } from './depthwiseWasm';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend };

interface DepthwiseAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
}

/** The C kernel's output, or null where it does not apply (the caller then runs the stock kernel). */
function tryC(args: KernelArgs, bias: tf.TensorInfo | null, act: DepthwiseActivation): tf.TensorInfo | null {
  const x = args.inputs.x as tf.TensorInfo;
  const filter = args.inputs.filter as tf.TensorInfo;
  const attrs = args.attrs as unknown as DepthwiseAttrs;
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return null;
  const d = attrs.dilations ?? 1;
  if ((typeof d === 'number' ? d : Math.max(d[0], d[1])) !== 1) return null;
  if (x.shape.length !== 4 || filter.shape.length !== 4 || filter.shape[2] !== x.shape[3]) return null;
  if (x.shape.some((s) => s === 0) || filter.shape.some((s) => s === 0)) return null;
  const backend = args.backend as unknown as WasmBackendLike;
  const ctx = depthwiseContext(backend, x, filter, ...(bias ? [bias] : []));
  if (!ctx) return null;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, true, 'channelsLast');
  if (info.padInfo.top < 0 || info.padInfo.left < 0 || info.outHeight <= 0 || info.outWidth <= 0) return null;
  const g = depthwiseGeometry(info);
  if (bias && bias.shape.reduce((a, b) => a * b, 1) !== g.C * g.m) return null;
  const out = backend.makeOutput([g.N, g.Ho, g.Wo, g.C * g.m], 'float32');
  depthwiseForwardOp(ctx, offsetOf(backend, x), offsetOf(backend, filter), bias ? offsetOf(backend, bias) : 0, offsetOf(backend, out), g, act);
  return out;
}

/** wasm `DepthwiseConv2dNative` through the C kernel where it applies. */
export function makeDepthwiseConv2dWasm(stock: tf.KernelFunc) {
  return function depthwiseConv2dWasm(args: KernelArgs): tf.TensorInfo {
    return tryC(args, null, 'linear') ?? (stock(args) as tf.TensorInfo);
  };
}

/** wasm `FusedDepthwiseConv2D` (bias; linear, relu or relu6) through the C kernel where it applies. */
export function makeFusedDepthwiseConv2DWasm(stock: tf.KernelFunc) {
  return function fusedDepthwiseConv2DWasm(args: KernelArgs): tf.TensorInfo {
    const activation = (args.attrs as unknown as DepthwiseAttrs).activation ?? 'linear';
    if ((activation !== 'linear' && activation !== 'relu' && activation !== 'relu6') || args.inputs.preluActivationWeights) {
      return stock(args) as tf.TensorInfo;
    }
    const bias = (args.inputs.bias as tf.TensorInfo | undefined) ?? null;
    return tryC(args, bias, activation) ?? (stock(args) as tf.TensorInfo);
  };
}
