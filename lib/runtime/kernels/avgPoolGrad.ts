/**
 * `AvgPoolGrad` for the wasm backend's common case, 2×2 windows with stride 2 and no padding
 * (every ConvBlock's pooling in CNN-model-1): each input pixel belongs to exactly one window, so
 * dx[n, i, j, c] = dy[n, ⌊i/2⌋, ⌊j/2⌋, c] · ¼. One pass over the wasm heap in JS; the stock
 * kernel walks every window generically and took ≈6 % of a width-1/8 training step. Same
 * values bit for bit (one product by ¼ per element, as the stock kernel). Other pool shapes
 * go to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { heapF32, WasmBackendLike } from './wasmBackend';

interface PoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const isTwo = (v: number | number[]) => (typeof v === 'number' ? v === 2 : v.length === 2 && v[0] === 2 && v[1] === 2);

/** The kernel, falling back on `stock` for anything but 2×2 / stride 2 / unpadded windows. */
export function makeAvgPoolGradWasm(stock: tf.KernelFunc) {
  return function avgPoolGradWasm(args: { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend }): tf.TensorInfo {
    const attrs = args.attrs as unknown as PoolGradAttrs;
    const dy = args.inputs.dy as tf.TensorInfo;
    const input = args.inputs.input as tf.TensorInfo;
    const [N, H, W, C] = input.shape;
    const unpadded = attrs.pad === 'valid' || attrs.pad === 0;
    if (!isTwo(attrs.filterSize) || !isTwo(attrs.strides) || !unpadded || H % 2 !== 0 || W % 2 !== 0 || input.dtype !== 'float32') {
      return stock(args) as tf.TensorInfo;
    }
    const backend = args.backend as unknown as WasmBackendLike;
    const dx = backend.makeOutput([N, H, W, C], 'float32');
    const src = heapF32(backend, dy);
    const dst = heapF32(backend, dx);
    const Ho = H / 2;
    const Wo = W / 2;
    const rowOut = W * C;
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < Ho; i++) {
        const srcRow = ((n * Ho + i) * Wo) * C;
        const top = ((n * H + 2 * i) * W) * C;
        const bottom = top + rowOut;
        for (let j = 0; j < Wo; j++) {
          const s = srcRow + j * C;
          const d = 2 * j * C;
          for (let c = 0; c < C; c++) {
            const v = src[s + c] * 0.25;
            dst[top + d + c] = v;
            dst[top + d + C + c] = v;
            dst[bottom + d + c] = v;
            dst[bottom + d + C + c] = v;
          }
        }
      }
    }
    return dx;
  };
}
