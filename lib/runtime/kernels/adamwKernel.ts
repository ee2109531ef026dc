/**
 * The AdamW update of one parameter as one wasm kernel (./wasm/trainKernels.c adamw) instead of
 * ≈12 op calls (each with its scalar uploads): ≈340 kernel calls per step for CNN-model-1.
 * Same float32 operations in the same order as lib/train/adamw.ts' op-by-op path, so the same
 * bits. Inputs p, g, m, v (float32, same shape); outputs p', m', v'.
 */
import * as tf from '@tensorflow/tfjs';
import { trainKernels, offsetOf } from './trainWasm';
import type { WasmBackendLike } from './wasmBackend';

const ADAMW_KERNEL = 'Fat2019AdamW';

/** Per-step constants, as the op-by-op path uses them (rounded to float32 by the kernel). */
export interface AdamWConstants {
  beta1: number;
  beta2: number;
  sqrtBc2: number;
  eps: number;
  decay: number;
  stepSize: number;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend };

function adamwKernel({ inputs, attrs, backend: b }: KernelArgs): tf.TensorInfo[] {
  const backend = b as unknown as WasmBackendLike;
  const k = trainKernels(backend);
  if (!k) throw new Error(`${ADAMW_KERNEL}: the C kernels are not available`);
  const { p, g, m, v } = inputs as Record<string, tf.TensorInfo>;
  const c = attrs as unknown as AdamWConstants;
  const n = p.shape.reduce((a, s) => a * s, 1);
  const outs = [p, m, v].map((t) => backend.makeOutput(t.shape, 'float32'));
  const off = (t: tf.TensorInfo) => offsetOf(backend, t);
  if (n > 0) {
    k.adamw(off(p), off(g), off(m), off(v), n, c.beta1, 1 - c.beta1, c.beta2, 1 - c.beta2, c.sqrtBc2, c.eps, c.decay,
      c.stepSize, off(outs[0]), off(outs[1]), off(outs[2]));
  }
  return outs;
}

/** Registers the kernel for 'wasm' (idempotent). */
export function registerAdamWKernel(): void {
  if (!tf.getKernel(ADAMW_KERNEL, 'wasm')) {
    tf.registerKernel({ kernelName: ADAMW_KERNEL, backendName: 'wasm', kernelFunc: adamwKernel as unknown as tf.KernelFunc });
  }
}

/**
 * [p', m', v'] from the fused kernel, or null where it does not apply (another backend, not
 * float32, the C kernels unavailable or the kernel not registered).
 */
export function adamwFused(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, c: AdamWConstants): tf.Tensor[] | null {
  if (tf.getBackend() !== 'wasm' || !tf.getKernel(ADAMW_KERNEL, 'wasm')) return null;
  if (p.dtype !== 'float32' || g.dtype !== 'float32' || m.dtype !== 'float32' || v.dtype !== 'float32') return null;
  if (!trainKernels(tf.backend() as unknown as WasmBackendLike)) return null;
  return tf.engine().runKernel(ADAMW_KERNEL, { p, g, m, v }, c as unknown as tf.NamedAttrMap) as tf.Tensor[];
}
