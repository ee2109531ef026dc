/**
 * The depthwise-convolution C kernels (./wasm/depthwise.c: dw_forward, dw_filter_grad,
 * dw_input_grad) on tfjs' heap, with the work cut in halves for the helper thread of
 * ./trainPool (rows of the output, or images for the filter gradient). Used by
 * ./depthwiseForward.ts and ./depthwiseGrads.ts.
 *
 * FAT2019_DEPTHWISE_C=0 (read on every call, so that a benchmark can switch it within one
 * process) sends the depthwise kernels back to their previous paths (XNNPACK forward, JavaScript
 * loops / XNNPACK gradients) for A/B timing.
 */
import * as tf from '@tensorflow/tfjs';
import type { WasmBackendLike } from './wasmBackend';
import { trainContext, offsetOf, type TrainContext } from './trainWasm';
import { runPair, SPLIT_MIN_ELEMENTS } from './trainPool';

/** Geometry of a depthwise convolution: x [N, H, W, C], filter [fh, fw, C, m], output [N, Ho, Wo, C·m]. */
export interface DepthwiseGeometry {
  N: number; H: number; W: number; C: number; m: number; Ho: number; Wo: number;
  fh: number; fw: number; sh: number; sw: number; top: number; left: number;
}

/** Geometry from tfjs' conv info (computeConv2DInfo with depthwise = true). */
export function depthwiseGeometry(info: tf.backend_util.Conv2DInfo): DepthwiseGeometry {
  return {
    N: info.batchSize, H: info.inHeight, W: info.inWidth, C: info.inChannels, m: info.outChannels / info.inChannels,
    Ho: info.outHeight, Wo: info.outWidth, fh: info.filterHeight, fw: info.filterWidth,
    sh: info.strideHeight, sw: info.strideWidth, top: info.padInfo.top, left: info.padInfo.left,
  };
}

/** The kernels' context, or null where they do not run (no SIMD, FAT2019_TRAIN_WASM=0 or FAT2019_DEPTHWISE_C=0, not float32). */
export function depthwiseContext(backend: WasmBackendLike, ...tensors: tf.TensorInfo[]): TrainContext | null {
  if (typeof process !== 'undefined' && /^(0|false|off)$/i.test(process.env.FAT2019_DEPTHWISE_C ?? '')) return null;
  if (tensors.some((t) => t.dtype !== 'float32')) return null;
  return trainContext(backend);
}

function args(g: DepthwiseGeometry): number[] {
  return [g.H, g.W, g.C, g.m, g.Ho, g.Wo, g.fh, g.fw, g.sh, g.sw, g.top, g.left];
}

/**
 * Halves of `rows` rows of `perRow` elements each, or [rows] when the work stays on one thread.
 * Each output element costs fh·fw multiply-adds (9 for MobileNetV2), little more than a pass of
 * batch norm: the same threshold (trainPool.ts SPLIT_MIN_ELEMENTS).
 */
function split(ctx: TrainContext, rows: number, perRow: number): number {
  return ctx.helper && rows >= 2 && rows * perRow >= SPLIT_MIN_ELEMENTS ? Math.ceil(rows / 2) : rows;
}

/** Activation of the forward kernel's epilogue (dw_forward's act). */
export type DepthwiseActivation = 'linear' | 'relu' | 'relu6';
const ACT: Record<DepthwiseActivation, number> = { linear: 0, relu: 1, relu6: 2 };

/** y = act(depthwise(x, w) + bias) (pointers; bias 0: none), output rows halved with the helper. */
export function depthwiseForwardOp(ctx: TrainContext, x: number, w: number, bias: number, y: number, g: DepthwiseGeometry,
  act: DepthwiseActivation): void {
  const rows = g.N * g.Ho;
  const h = split(ctx, rows, g.Wo * g.C * g.m);
  const geo = [...args(g), ACT[act]];
  runPair(ctx.k, ctx.helper, ['dw_forward', [x, w, bias, y, 0, h, ...geo]], h < rows ? ['dw_forward', [x, w, bias, y, h, rows, ...geo]] : null);
}

/** dx [N, H, W, C] of dy and w (pointers), rows of dx halved with the helper. */
export function depthwiseInputGradOp(ctx: TrainContext, dy: number, w: number, dx: number, g: DepthwiseGeometry): void {
  const rows = g.N * g.H;
  const h = split(ctx, rows, g.W * g.C * g.m);
  runPair(ctx.k, ctx.helper, ['dw_input_grad', [dy, w, dx, 0, h, ...args(g)]], h < rows ? ['dw_input_grad', [dy, w, dx, h, rows, ...args(g)]] : null);
}

/**
 * dW [fh, fw, C, m] of x and dy (pointers): float64 totals in scratch (one per half of the
 * images with the helper), rounded to float32 once (dw_finish).
 */
export function depthwiseFilterGradOp(ctx: TrainContext, x: number, dy: number, dw: number, g: DepthwiseGeometry): void {
  const size = g.fh * g.fw * g.C * g.m;
  const h = split(ctx, g.N, g.Ho * g.Wo * g.C * g.m);
  const scratch = ctx.backend.makeOutput([Math.max(1, 2 * size * (h < g.N ? 2 : 1))], 'float32');
  const acc0 = offsetOf(ctx.backend, scratch);
  const acc1 = h < g.N ? acc0 + 8 * size : 0;
  runPair(ctx.k, ctx.helper, ['dw_filter_grad', [x, dy, acc0, 0, h, ...args(g)]], acc1 ? ['dw_filter_grad', [x, dy, acc1, h, g.N, ...args(g)]] : null);
  ctx.k.dw_finish(acc0, acc1, size, dw);
  ctx.backend.disposeData(scratch.dataId);
}
