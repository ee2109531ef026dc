/**
 * Gradient of `Relu` on wasm as one kernel (./wasm/trainKernels.c relu_grad) instead of Step,
 * Cast and Multiply (three full-size passes and two temporaries per layer). Registered as the
 * `Relu` gradient for every backend: off wasm (or without the C kernels) it forms the stock
 * product dy · step(x).
 */
import * as tf from '@tensorflow/tfjs';
import type { WasmBackendLike } from './wasmBackend';
import { trainContext, reluGradOp, offsetOf } from './trainWasm';

const RELU_GRAD_KERNEL = 'Fat2019ReluGrad';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend };

function reluGradKernel({ inputs, backend: b }: KernelArgs): tf.TensorInfo {
  const backend = b as unknown as WasmBackendLike;
  const ctx = trainContext(backend);
  if (!ctx) throw new Error(`${RELU_GRAD_KERNEL}: the C kernels are not available`);
  const { dy, x } = inputs as Record<string, tf.TensorInfo>;
  const out = backend.makeOutput(x.shape, 'float32');
  const n = x.shape.reduce((a, s) => a * s, 1);
  if (n > 0) reluGradOp(ctx, offsetOf(backend, dy), offsetOf(backend, x), n, offsetOf(backend, out));
  return out;
}

/** Registers the wasm kernel (idempotent). */
export function registerReluGradKernel(): void {
  if (!tf.getKernel(RELU_GRAD_KERNEL, 'wasm')) {
    tf.registerKernel({ kernelName: RELU_GRAD_KERNEL, backendName: 'wasm', kernelFunc: reluGradKernel as unknown as tf.KernelFunc });
  }
}

/** The `Relu` gradient config (fused on wasm, stock product elsewhere). */
export const reluGradConfig: tf.GradConfig = {
  kernelName: 'Relu',
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const d = dy as tf.Tensor;
    const [x] = saved;
    return {
      x: () => {
        if (tf.getBackend() === 'wasm' && d.dtype === 'float32' && x.dtype === 'float32' && tf.util.arraysEqual(d.shape, x.shape)
          && tf.getKernel(RELU_GRAD_KERNEL, 'wasm') && trainContext(tf.backend() as unknown as WasmBackendLike)) {
          return tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: d, x }) as tf.Tensor;
        }
        return tf.mul(d, tf.cast(tf.step(x), 'float32'));
      },
    };
  },
};
