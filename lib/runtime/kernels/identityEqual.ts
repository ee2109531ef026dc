/**
 * Three stock wasm kernels that cost a training step far more than their work:
 *
 * - `Identity` copies its input (tfjs-backend-wasm 4.22). The engine clones every tensor a
 *   kernel or `tf.customGrad` saves for the backward pass (FusedConv2D saves x and its output,
 *   the batch-norm op saves x), so a training step made ≈280 copies, ≈14 ms at width 1/8. Tensor
 *   data is immutable, so this one shares the data and bumps its reference count, as the cpu
 *   backend's Identity and the wasm Reshape already do.
 * - `Equal` with broadcasting runs the stock per-element index loop (≈100 ns per element): the
 *   gradient of the head's global max pooling compares x [N, H, W, C] with its max
 *   [N, 1, 1, C] (≈13 ms for [32, 8, 8, 64]). float32 operands that broadcast go through a
 *   loop here with the innermost axis contiguous; same shapes and other dtypes keep the stock kernel.
 * - `Cast` to the dtype a tensor already has copies it too: it is the gradient of Identity, so
 *   every clone on the tape (tfjs-layers' Add layer clones its first input, Layer.apply clones an
 *   output that is an input) costs a full-size copy in the backward pass (resnet18 at width 1/8:
 *   10 per step, up to [32, 64, 64, 8]). This one shares the data, as Identity does.
 */
import * as tf from '@tensorflow/tfjs';
import { WasmBackendLike, heapF32 } from './wasmBackend';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend };

/** Identity sharing the input's data (string tensors keep the stock kernel). */
export function makeIdentityWasm(stock: tf.KernelFunc) {
  return function identityWasm(args: KernelArgs): tf.TensorInfo {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string') return stock(args) as tf.TensorInfo;
    (args.backend as unknown as WasmBackendLike).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}

/** Cast to the same dtype sharing the input's data; the stock kernel for a real conversion. */
export function makeCastWasm(stock: tf.KernelFunc) {
  return function castWasm(args: KernelArgs): tf.TensorInfo {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string' || (args.attrs as unknown as { dtype: tf.DataType }).dtype !== x.dtype) return stock(args) as tf.TensorInfo;
    (args.backend as unknown as WasmBackendLike).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}

/** Equal for broadcasting float32 operands (a loop over the output); the stock kernel otherwise. */
export function makeEqualWasm(stock: tf.KernelFunc) {
  return function equalWasm(args: KernelArgs): tf.TensorInfo {
    const a = args.inputs.a as tf.TensorInfo;
    const b = args.inputs.b as tf.TensorInfo;
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || tf.util.arraysEqual(a.shape, b.shape)) return stock(args) as tf.TensorInfo;
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const size = tf.util.sizeFromShape(outShape);
    const rank = outShape.length;
    if (size === 0 || rank === 0) return stock(args) as tf.TensorInfo;
    const backend = args.backend as unknown as WasmBackendLike;
    const out = backend.makeOutput(outShape, 'bool');
    // Per operand, the element stride of each output axis (0 where it broadcasts).
    const strides = (shape: number[]) => {
      const s = [...new Array(rank - shape.length).fill(1), ...shape];
      const st = new Array<number>(rank);
      let acc = 1;
      for (let i = rank - 1; i >= 0; i--) { st[i] = s[i] === 1 ? 0 : acc; acc *= s[i]; }
      return st;
    };
    const sa = strides(a.shape);
    const sb = strides(b.shape);
    const av = heapF32(backend, a);
    const bv = heapF32(backend, b);
    const entry = backend.dataIdMap.get(out.dataId);
    const buffer = backend.wasm.wasmMemory?.buffer ?? backend.wasm.HEAPU8.buffer;
    const ov = new Uint8Array(buffer, entry!.memoryOffset, size);
    const inner = outShape[rank - 1];
    const ia = sa[rank - 1];
    const ib = sb[rank - 1];
    const counter = new Array<number>(rank).fill(0);
    let oa = 0;
    let ob = 0;
    for (let o = 0; o < size; o += inner) {
      for (let k = 0; k < inner; k++) ov[o + k] = av[oa + k * ia] === bv[ob + k * ib] ? 1 : 0;
      // Next position of the outer axes (odometer).
      for (let d = rank - 2; d >= 0; d--) {
        counter[d]++;
        oa += sa[d];
        ob += sb[d];
        if (counter[d] < outShape[d]) break;
        oa -= sa[d] * outShape[d];
        ob -= sb[d] * outShape[d];
        counter[d] = 0;
      }
    }
    return out;
  };
}
