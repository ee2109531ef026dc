/**
 * `Sum` and `Mean` over the leading axes for the wasm backend (per-channel statistics).
 *
 * Why: batch norm reduces NHWC tensors over [N, H, W] in its forward (moments) and backward
 * passes, and so do the conv bias gradients. The stock wasm reductions only reduce innermost
 * axes, so they first transpose the whole tensor; that was ≈15% of a CNN-model-1 training step.
 * Viewed as [R, C] (R = product of the reduced leading dims), the column sums are one pass over
 * memory in row order. Sums accumulate in float64 (more exact than the stock float32 sums).
 * Every other case (other axes, non-float32) goes to the stock kernel. With WebAssembly SIMD
 * the sums run in C on tfjs' heap (./wasm/trainKernels.c col_sums: same float64 sums in the
 * same order, so the same result as the JavaScript loop, ≈10× faster for few columns).
 */
import * as tf from '@tensorflow/tfjs';
import { WasmBackendLike, heapF32 } from './wasmBackend';
import { trainContext, colSumsOp, offsetOf } from './trainWasm';

/** Number of leading axes reduced, or -1 when `axes` are not exactly 0..k−1 (k < rank). */
export function leadingAxesCount(axis: number | number[], shape: number[]): number {
  const axes = [...new Set(tf.util.parseAxisParam(axis, shape))].sort((a, b) => a - b);
  if (axes.length === 0 || axes.length >= shape.length) return -1;
  for (let i = 0; i < axes.length; i++) if (axes[i] !== i) return -1;
  return axes.length;
}

/** Column sums of x viewed as [rows, cols] into `out` (float64 accumulation). */
export function columnSums(x: Float32Array, rows: number, cols: number, out: Float32Array, scale: number): void {
  const acc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) acc[c] += x[base + c];
  }
  for (let c = 0; c < cols; c++) out[c] = acc[c] * scale;
}

/** Makes the Sum or Mean kernel function; `stock` handles every other case. */
export function makeLeadingReduceWasm(kind: 'Sum' | 'Mean', stock: tf.KernelFunc) {
  return function leadingReduceWasm(args: {
    inputs: tf.NamedTensorInfoMap;
    attrs: tf.NamedAttrMap;
    backend: tf.KernelBackend;
  }): tf.TensorInfo {
    const x = args.inputs.x as tf.TensorInfo;
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const k = x.dtype === 'float32' ? leadingAxesCount(axis, x.shape) : -1;
    // Tiny column counts (e.g. full reductions of a [N, 1] tensor) stay with the stock kernel.
    if (k < 0) return stock(args) as tf.TensorInfo;
    const backend = args.backend as unknown as WasmBackendLike;
    const rows = x.shape.slice(0, k).reduce((a, b) => a * b, 1);
    const tail = x.shape.slice(k);
    const cols = tail.reduce((a, b) => a * b, 1);
    const outShape = keepDims ? [...x.shape.slice(0, k).map(() => 1), ...tail] : tail;
    const out = backend.makeOutput(outShape, 'float32');
    const scale = kind === 'Mean' && rows > 0 ? 1 / rows : 1;
    const ctx = rows > 0 && cols > 0 ? trainContext(backend) : null;
    if (ctx) {
      colSumsOp(ctx, offsetOf(backend, x), rows, cols, offsetOf(backend, out), scale);
      return out;
    }
    // Views after the allocation: growing the heap detaches older views.
    columnSums(heapF32(backend, x), rows, cols, heapF32(backend, out), scale);
    return out;
  };
}
