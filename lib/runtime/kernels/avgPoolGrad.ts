/**
 * `AvgPoolGrad` for the wasm backend. Where the training kernels run: every float32 pool in C
 * (./wasm/poolGrads.c avg_pool_grad): each dx is the float64 sum of the dy of the windows that
 * cover it times 1/(window area), rounded once — cpu's arithmetic, equal to it bit for bit; rows
 * split in halves with the helper thread. The stock kernel walked every window generically: 288 ms
 * for cnn7th's five pools per step (width 1/8), 16 ms for xresnet50's three.
 *
 * Otherwise, the common case 2×2 windows with stride 2 and no padding (every ConvBlock's
 * pooling in CNN-model-1) in one JavaScript pass: each input pixel belongs to exactly one window,
 * so dx[n, i, j, c] = dy[n, ⌊i/2⌋, ⌊j/2⌋, c] · ¼ (one product by ¼ per element, as the stock
 * kernel); other pools go to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { heapF32, WasmBackendLike } from './wasmBackend';
import { trainContext, offsetOf } from './trainWasm';
import { runPair, SPLIT_MIN_ELEMENTS } from './trainPool';

interface PoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const isTwo = (v: number | number[]) => (typeof v === 'number' ? v === 2 : v.length === 2 && v[0] === 2 && v[1] === 2);

/** The kernel, falling back on `stock` where neither the C kernel nor the 2×2 JavaScript pass applies. */
export function makeAvgPoolGradWasm(stock: tf.KernelFunc) {
  return function avgPoolGradWasm(args: { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend }): tf.TensorInfo {
    const attrs = args.attrs as unknown as PoolGradAttrs;
    const dy = args.inputs.dy as tf.TensorInfo;
    const input = args.inputs.input as tf.TensorInfo;
    const [N, H, W, C] = input.shape;
    const backend = args.backend as unknown as WasmBackendLike;
    const ctx = input.dtype === 'float32' ? trainContext(backend) : null;
    if (ctx) {
      const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number],
        attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
      const dx = backend.makeOutput(input.shape, 'float32');
      const rows = N * H;
      if (rows * W * C === 0) return dx;
      const geometry = [H, W, C, info.outHeight, info.outWidth, info.effectiveFilterHeight, info.effectiveFilterWidth,
        info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, 1 / (info.filterHeight * info.filterWidth)];
      const [g, out] = [offsetOf(backend, dy), offsetOf(backend, dx)];
      const h = ctx.helper && rows >= 2 && rows * W * C >= SPLIT_MIN_ELEMENTS ? Math.ceil(rows / 2) : rows;
      runPair(ctx.k, ctx.helper, ['avg_pool_grad', [g, out, 0, h, ...geometry]], h < rows ? ['avg_pool_grad', [g, out, h, rows, ...geometry]] : null);
      return dx;
    }
    const unpadded = attrs.pad === 'valid' || attrs.pad === 0;
    if (!isTwo(attrs.filterSize) || !isTwo(attrs.strides) || !unpadded || H % 2 !== 0 || W % 2 !== 0 || input.dtype !== 'float32') {
      return stock(args) as tf.TensorInfo;
    }
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
