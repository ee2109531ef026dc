/**
 * wasm `Relu`, `Neg` and `Abs` on float32 as one C pass on the calling thread (./wasm/unary.c;
 * halves with the helper thread for big tensors), the same values as the stock kernels.
 * Why: the stock ones are XNNPACK operators that, on the threaded binary, hand any tensor above
 * a few thousand elements to XNNPACK's thread pool, and that hand-over alone cost 0.35–0.45 ms
 * per call (≈1 ms right after a convolution) where the work takes 5–50 µs: measured on the
 * 2-core AMD EPYC, resnet18 at width 1/8 spent 8.5–17 ms of a ≈110 ms training step in 9 Relu
 * calls on [32,32,32,8]…[32,4,4,64], and 1.5 ms each in Neg and Abs of the loss on [32,80].
 * Other dtypes, empty tensors and a missing C module go to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import type { WasmBackendLike } from './wasmBackend';
import { trainContext, offsetOf, unaryOp, type UnaryKernelName } from './trainWasm';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend };

/** The C kernel of each tfjs kernel name. */
const UNARY_KERNELS = { Relu: 'relu_f32', Neg: 'neg_f32', Abs: 'abs_f32' } as const satisfies Record<string, UnaryKernelName>;

/** A wasm kernel function for `kernel` (Relu, Neg or Abs), falling back to `stock`. */
export function makeUnaryWasm(kernel: keyof typeof UNARY_KERNELS, stock: tf.KernelFunc): tf.KernelFunc {
  const name = UNARY_KERNELS[kernel];
  return (args) => {
    const { inputs, backend: b } = args as unknown as KernelArgs;
    const backend = b as unknown as WasmBackendLike;
    const { x } = inputs as { x: tf.TensorInfo };
    const n = x.shape.reduce((a, s) => a * s, 1);
    const ctx = x.dtype === 'float32' && n > 0 ? trainContext(backend) : null;
    if (!ctx) return stock(args);
    const out = backend.makeOutput(x.shape, 'float32');
    unaryOp(ctx, name, offsetOf(backend, x), n, offsetOf(backend, out));
    return out;
  };
}
