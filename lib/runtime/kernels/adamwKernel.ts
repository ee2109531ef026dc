/**
 * The AdamW update as wasm kernels (./wasm/adamw.c), with the same float32 operations in the
 * same order as lib/train/adamw.ts' op-by-op path, so the same bits:
 * - {@link adamwInPlace}: every parameter of a step in one C call, the moments in place;
 * - {@link adamwFused}: one parameter as one kernel with new outputs p', m', v' (where a tensor's
 *   data is shared, so that writing in place would change another tensor too), instead of ≈12
 *   op calls (each with its scalar uploads): ≈340 kernel calls per step for CNN-model-1.
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

/** One parameter's update for {@link adamwInPlace}: its tensors and its own decay and step size. */
export interface AdamWUpdate {
  p: tf.Variable;
  g: tf.Tensor;
  m: tf.Tensor;
  v: tf.Tensor;
  decay: number;
  stepSize: number;
}

/** Words per parameter in adamw_all's table (ADAMW_ENTRY in ./wasm/adamw.c). */
const ADAMW_ENTRY = 8;

/**
 * Updates, in one C call (./wasm/adamw.c adamw_all), every parameter of `updates` whose m and v
 * are float32 wasm tensors holding their data alone (reference count 1: no clone or saved
 * tensor sees them change): m and v in place, p assigned a new tensor (never in place:
 * tfjs-backend-wasm's XNNPACK operators keep packed copies of the weights keyed by tensor, so a
 * weight changed in place would leave them stale). Returns the updates it left (shared moments,
 * another dtype) for {@link adamwFused}, or null where the C kernels are off (another backend,
 * no SIMD, FAT2019_TRAIN_WASM=0).
 *
 * Why: one kernel call per parameter, with its three new tensors and three freed, cost the
 * AdamW step (wasm, 2 threads, AMD EPYC 2-core VM at load 9.6, medians of 21, interleaved)
 * 4.9 ms for ResNet-18 at width 1/8 (62 parameters), 6.4 ms for XResNet-50 (167), 1.2 ms for
 * MobileNetV2 (158); one call takes 0.46, 0.95 and 0.53 ms.
 */
export function adamwInPlace<U extends AdamWUpdate>(updates: U[], c: Omit<AdamWConstants, 'decay' | 'stepSize'>): U[] | null {
  if (tf.getBackend() !== 'wasm' || !tf.getKernel(ADAMW_KERNEL, 'wasm')) return null;
  const backend = tf.backend() as unknown as WasmBackendLike & { refCount(dataId: object): number };
  const k = trainKernels(backend);
  if (!k) return null;
  const alone = (t: tf.Tensor) => t.dtype === 'float32' && backend.dataIdMap.get(t.dataId) !== undefined && backend.refCount(t.dataId) === 1;
  const onHeap = (t: tf.Tensor) => t.dtype === 'float32' && backend.dataIdMap.get(t.dataId) !== undefined;
  const here: U[] = [];
  const left: U[] = [];
  for (const u of updates) {
    const ok = alone(u.m) && alone(u.v) && onHeap(u.p) && onHeap(u.g) && u.m.dataId !== u.v.dataId
      && u.p.dataId !== u.m.dataId && u.p.dataId !== u.v.dataId && u.g.dataId !== u.m.dataId && u.g.dataId !== u.v.dataId;
    (ok && u.p.size > 0 ? here : left).push(u);
  }
  if (here.length === 0) return left;
  const outs = here.map((u) => backend.makeOutput(u.p.shape, 'float32'));
  const table = backend.makeOutput([ADAMW_ENTRY * here.length], 'float32');
  try {
    const at = offsetOf(backend, table);
    const buffer = backend.wasm.wasmMemory?.buffer ?? backend.wasm.HEAPU8.buffer;
    const words = new Uint32Array(buffer, at, ADAMW_ENTRY * here.length);
    const floats = new Float32Array(buffer, at, ADAMW_ENTRY * here.length);
    here.forEach((u, i) => {
      const e = ADAMW_ENTRY * i;
      words[e] = offsetOf(backend, u.p);
      words[e + 1] = offsetOf(backend, u.g);
      words[e + 2] = offsetOf(backend, u.m);
      words[e + 3] = offsetOf(backend, u.v);
      words[e + 4] = offsetOf(backend, outs[i]);
      words[e + 5] = u.p.size;
      floats[e + 6] = u.decay;
      floats[e + 7] = u.stepSize;
    });
    k.adamw_all(at, here.length, c.beta1, 1 - c.beta1, c.beta2, 1 - c.beta2, c.sqrtBc2, c.eps);
  } finally {
    backend.disposeData(table.dataId);
  }
  const engine = tf.engine() as unknown as { makeTensorFromTensorInfo(t: tf.TensorInfo): tf.Tensor };
  here.forEach((u, i) => {
    const t = engine.makeTensorFromTensorInfo(outs[i]);
    u.p.assign(t);
    t.dispose();
  });
  return left;
}
