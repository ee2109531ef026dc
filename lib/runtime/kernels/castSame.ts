/**
 * `Cast` to the dtype a tensor already has, sharing its data (reference-counted, as the cpu
 * backend's Cast and ./identityEqual's Identity do) instead of the stock wasm kernel's copy.
 * tfjs-core's avgPool op casts its result to the input dtype, so every float32 average pool
 * made a full copy of its output: ≈16 ms per cnn7th step at width 1/8 ([32,128,128,8]:
 * 7.8 ms). Casts that change the dtype go to the stock kernel.
 */
import type * as tf from '@tensorflow/tfjs';
import type { WasmBackendLike } from './wasmBackend';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend };

export function makeCastWasm(stock: tf.KernelFunc) {
  return function castWasm(args: KernelArgs): tf.TensorInfo {
    const x = args.inputs.x as tf.TensorInfo;
    const { dtype } = args.attrs as unknown as { dtype: tf.DataType };
    if (dtype !== x.dtype || dtype === 'string') return stock(args) as tf.TensorInfo;
    (args.backend as unknown as WasmBackendLike).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype };
  };
}
