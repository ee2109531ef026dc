/**
 * `MaxPoolGrad` for the wasm backend. The stock kernel of tfjs-backend-wasm 4.22 starts each
 * window's running maximum at a non-negative value instead of −∞: a window whose values are
 * all negative sends its dy to the window's first pixel instead of its maximum (and ties go to
 * the last maximum, where cpu, TensorFlow and PyTorch take the first). ReLU networks never see
 * such windows' gradients (ReLU' = 0 below 0), but after Mish (≥ −0.31) they carry gradient:
 * XResNet-Mish's stem pool gradients were off by O(1) there. This kernel recomputes each
 * window's first maximum in row-major order, as cpu's `maxPoolPositions`, and adds dy there.
 *
 * In C (./wasm/poolGrads.c max_pool_grad, 4 channels at a time; halves of the batch with the
 * helper thread) where the training kernels run: the JavaScript loop took 14.5 ms for resnet18's
 * stem pool ([32,66,66,8], 3×3 stride 2) and 240 ms for cnn7th's five pools per step. The same
 * loop in JavaScript otherwise (same float32 sums in the same order: same values bit for bit).
 */
import * as tf from '@tensorflow/tfjs';
import { heapF32, WasmBackendLike } from './wasmBackend';
import { trainContext, offsetOf } from './trainWasm';
import { runPair, SPLIT_MIN_ELEMENTS } from './trainPool';

interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

export function maxPoolGradWasm(args: { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend }): tf.TensorInfo {
  const attrs = args.attrs as unknown as MaxPoolGradAttrs;
  const dy = args.inputs.dy as tf.TensorInfo;
  const input = args.inputs.input as tf.TensorInfo;
  if (input.dtype !== 'float32') throw new Error(`MaxPoolGrad (wasm): dtype ${input.dtype} is not supported, only float32`);
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number],
    attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const backend = args.backend as unknown as WasmBackendLike;
  const dx = backend.makeOutput(input.shape, 'float32');
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: Ho, outWidth: Wo } = info;
  const { strideHeight: sh, strideWidth: sw, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { top, left } = info.padInfo;
  const ctx = trainContext(backend);
  if (ctx) {
    if (N * H * W * C === 0) return dx;
    const [g, x, out] = [dy, input, dx].map((t) => offsetOf(backend, t));
    const geometry = [H, W, C, Ho, Wo, fh, fw, sh, sw, top, left];
    const h = ctx.helper && N >= 2 && N * H * W * C >= SPLIT_MIN_ELEMENTS ? Math.ceil(N / 2) : N;
    runPair(ctx.k, ctx.helper, ['max_pool_grad', [g, x, out, 0, h, ...geometry]], h < N ? ['max_pool_grad', [g, x, out, h, N, ...geometry]] : null);
    return dx;
  }
  // Views after makeOutput: an allocation may grow (and move) the wasm heap.
  const x = heapF32(backend, input);
  const g = heapF32(backend, dy);
  const out = heapF32(backend, dx);
  out.fill(0);
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < Ho; oy++) {
      const y0 = oy * sh - top;
      const yMin = Math.max(0, y0);
      const yMax = Math.min(H, y0 + fh);
      for (let ox = 0; ox < Wo; ox++) {
        const x0 = ox * sw - left;
        const xMin = Math.max(0, x0);
        const xMax = Math.min(W, x0 + fw);
        const gBase = ((n * Ho + oy) * Wo + ox) * C;
        for (let c = 0; c < C; c++) {
          let best = -Infinity;
          let at = -1;
          for (let y = yMin; y < yMax; y++) {
            for (let xx = xMin; xx < xMax; xx++) {
              const i = ((n * H + y) * W + xx) * C + c;
              if (x[i] > best) { best = x[i]; at = i; }
            }
          }
          if (at >= 0) out[at] += g[gBase + c];
        }
      }
    }
  }
  return dx;
}
