/**
 * Gradient of `Mean` on wasm as one kernel (./wasm/reductions.c mean_grad) where the reduced axes
 * are consecutive (a global average pool's [1, 2] of NHWC, a loss's mean over everything):
 * dx = dy / n spread over the reduced axes, instead of tfjs' Fill (ones), a broadcasting
 * Multiply and a RealDiv. The broadcasting Multiply is XNNPACK's and went through its thread
 * pool: ≈1 ms a call for ResNet-18's [32,1,1,64] × [32,4,4,64] at width 1/8 (2-core AMD EPYC).
 * The same bits (dy·1 is exact; the division is the same float32 division). Registered as the
 * `Mean` gradient for every backend: elsewhere (other axes, off wasm) it forms tfjs' own.
 */
import * as tf from '@tensorflow/tfjs';
import type { WasmBackendLike } from './wasmBackend';
import { trainContext, offsetOf } from './trainWasm';
import { runPair, SPLIT_MIN_ELEMENTS } from './trainPool';

const MEAN_GRAD_KERNEL = 'Fat2019MeanGrad';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend };

/** x as [A, R, C] with the reduced axes in R, or null when they are not consecutive. */
function middleView(shape: number[], axes: number[]): [number, number, number] | null {
  const sorted = [...new Set(axes)].sort((a, b) => a - b);
  if (sorted.length === 0 || sorted.some((a, i) => i > 0 && a !== sorted[i - 1] + 1)) return null;
  const size = (s: number[]) => s.reduce((p, q) => p * q, 1);
  const [first, last] = [sorted[0], sorted[sorted.length - 1]];
  return [size(shape.slice(0, first)), size(shape.slice(first, last + 1)), size(shape.slice(last + 1))];
}

/** Inputs dy (the mean's output, any shape with A·C elements); attrs {shape, axes}. Output dx shaped like x. */
function meanGradKernel({ inputs, attrs, backend: b }: KernelArgs): tf.TensorInfo {
  const backend = b as unknown as WasmBackendLike;
  const ctx = trainContext(backend);
  if (!ctx) throw new Error(`${MEAN_GRAD_KERNEL}: the C kernels are not available`);
  const { dy } = inputs as Record<string, tf.TensorInfo>;
  const { shape, axes } = attrs as unknown as { shape: number[]; axes: number[] };
  const [A, R, C] = middleView(shape, axes)!;
  const out = backend.makeOutput(shape, 'float32');
  const n = Math.fround(R);
  const h = ctx.helper && A >= 2 && A * R * C >= SPLIT_MIN_ELEMENTS ? Math.ceil(A / 2) : A;
  const [g, dx] = [offsetOf(backend, dy), offsetOf(backend, out)];
  if (A * R * C > 0) runPair(ctx.k, ctx.helper, ['mean_grad', [g, 0, h, R, C, n, dx]], h < A ? ['mean_grad', [g, h, A, R, C, n, dx]] : null);
  return out;
}

/** Registers the wasm kernel (idempotent). */
export function registerMeanGradKernel(): void {
  if (!tf.getKernel(MEAN_GRAD_KERNEL, 'wasm')) {
    tf.registerKernel({ kernelName: MEAN_GRAD_KERNEL, backendName: 'wasm', kernelFunc: meanGradKernel as unknown as tf.KernelFunc });
  }
}

/** The `Mean` gradient config (one kernel on wasm, tfjs' own ops elsewhere). */
export const meanGradConfig: tf.GradConfig = {
  kernelName: 'Mean',
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const d = dy as tf.Tensor;
    const [x] = saved;
    const axes = tf.util.parseAxisParam((attrs as unknown as { axis: number | number[] }).axis, x.shape);
    return {
      x: () => {
        if (tf.getBackend() === 'wasm' && d.dtype === 'float32' && middleView(x.shape, axes) && tf.getKernel(MEAN_GRAD_KERNEL, 'wasm')
          && trainContext(tf.backend() as unknown as WasmBackendLike)) {
          return tf.engine().runKernel(MEAN_GRAD_KERNEL, { dy: d }, { shape: x.shape, axes } as unknown as tf.NamedAttrMap) as tf.Tensor;
        }
        // tfjs-core's own (gradients/Mean_grad).
        const expanded = x.shape.slice();
        for (const a of axes) expanded[a] = 1;
        const reduceSize = axes.reduce((p, a) => p * x.shape[a], 1);
        return tf.div(tf.mul(tf.reshape(d, expanded), tf.ones(x.shape, 'float32')), reduceSize);
      },
    };
  },
};
