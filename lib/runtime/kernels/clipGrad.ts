/**
 * Gradient of `ClipByValue` on wasm as one kernel (./wasm/clipGrad.c clip_grad) instead of
 * GreaterEqual, LessEqual, LogicalAnd and Select against zerosLike(dy). tfjs-layers' ReLU with
 * maxValue (MobileNetV2's ReLU6) is relu then clipByValue(0, 6): those four kernels took 318 ms of
 * a 868 ms mobilenetv2 step (width 1/8, batch 32). Registered as the `ClipByValue` gradient for
 * every backend: off wasm (or without the C kernels) it forms tfjs' own expression.
 */
import * as tf from '@tensorflow/tfjs';
import type { WasmBackendLike } from './wasmBackend';
import { trainContext, offsetOf } from './trainWasm';
import { runPair, SPLIT_MIN_ELEMENTS } from './trainPool';

const CLIP_GRAD_KERNEL = 'Fat2019ClipByValueGrad';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend };

function clipGradKernel({ inputs, attrs, backend: b }: KernelArgs): tf.TensorInfo {
  const backend = b as unknown as WasmBackendLike;
  const ctx = trainContext(backend);
  if (!ctx) throw new Error(`${CLIP_GRAD_KERNEL}: the C kernels are not available`);
  const { dy, x } = inputs as Record<string, tf.TensorInfo>;
  const { clipValueMin: lo, clipValueMax: hi } = attrs as unknown as { clipValueMin: number; clipValueMax: number };
  const out = backend.makeOutput(x.shape, 'float32');
  const n = x.shape.reduce((a, s) => a * s, 1);
  if (n === 0) return out;
  const [g, xs, dx] = [dy, x, out].map((t) => offsetOf(backend, t));
  const h = ctx.helper && n >= SPLIT_MIN_ELEMENTS ? Math.ceil(n / 8) * 4 : n;
  runPair(ctx.k, ctx.helper, ['clip_grad', [g, xs, h, lo, hi, dx]], h < n ? ['clip_grad', [g + 4 * h, xs + 4 * h, n - h, lo, hi, dx + 4 * h]] : null);
  return out;
}

/**
 * wasm `ClipByValue` (float32) by clip_forward, halves with the helper thread: the same values as
 * the cpu backend (NaN and −0 pass). The stock kernel takes the rest. MobileNetV2 at width 1
 * (batch 32 as 4×8, load ≈ 11): the stock ClipByValue took 173 ms of a 1465 ms profiled step.
 */
export function makeClipByValueWasm(stock: tf.KernelFunc): tf.KernelFunc {
  return function clipByValueWasm(args) {
    const { inputs, attrs } = args as unknown as KernelArgs;
    const backend = args.backend as unknown as WasmBackendLike;
    const x = inputs.x as tf.TensorInfo;
    const ctx = x.dtype === 'float32' ? trainContext(backend) : null;
    if (!ctx) return stock(args);
    const { clipValueMin: lo, clipValueMax: hi } = attrs as unknown as { clipValueMin: number; clipValueMax: number };
    const out = backend.makeOutput(x.shape, 'float32');
    const n = x.shape.reduce((a, s) => a * s, 1);
    if (n === 0) return out;
    const [xs, y] = [x, out].map((t) => offsetOf(backend, t));
    const h = ctx.helper && n >= SPLIT_MIN_ELEMENTS ? Math.ceil(n / 8) * 4 : n;
    runPair(ctx.k, ctx.helper, ['clip_forward', [xs, h, lo, hi, y]], h < n ? ['clip_forward', [xs + 4 * h, n - h, lo, hi, y + 4 * h]] : null);
    return out;
  };
}

/** Registers the wasm kernel (idempotent). */
export function registerClipGradKernel(): void {
  if (!tf.getKernel(CLIP_GRAD_KERNEL, 'wasm')) {
    tf.registerKernel({ kernelName: CLIP_GRAD_KERNEL, backendName: 'wasm', kernelFunc: clipGradKernel as unknown as tf.KernelFunc });
  }
}

/** The `ClipByValue` gradient config (one kernel on wasm, tfjs' expression elsewhere). */
export const clipGradConfig: tf.GradConfig = {
  kernelName: 'ClipByValue',
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const d = dy as tf.Tensor;
    const [x] = saved;
    const { clipValueMin, clipValueMax } = attrs as unknown as { clipValueMin: number; clipValueMax: number };
    return {
      x: () => {
        if (tf.getBackend() === 'wasm' && d.dtype === 'float32' && x.dtype === 'float32' && tf.util.arraysEqual(d.shape, x.shape)
          && tf.getKernel(CLIP_GRAD_KERNEL, 'wasm') && trainContext(tf.backend() as unknown as WasmBackendLike)) {
          return tf.engine().runKernel(CLIP_GRAD_KERNEL, { dy: d, x }, { clipValueMin, clipValueMax }) as tf.Tensor;
        }
        return tf.where(tf.logicalAnd(tf.greaterEqual(x, clipValueMin), tf.lessEqual(x, clipValueMax)), d, tf.zerosLike(d));
      },
    };
  },
};
