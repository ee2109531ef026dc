/**
 * wasm `BatchMatMul` and `_FusedMatMul` (bias, relu or none) in C for float32 products whose
 * batch dimensions match (./wasm/matmul.c matmul_rows; rows in halves with the helper thread for
 * big products), the same bits as the stock kernels. Why: the stock ones are XNNPACK's, which on
 * the threaded binary hand every product to its thread pool: a classifier head's [32,64]×[64,80]
 * took 0.9–5 ms a call (measured in ResNet-18 and XResNet-18 steps at width 1/8, 2-core AMD EPYC)
 * for ≈10 µs of arithmetic, and a step has three (the forward and two gradients). Other dtypes,
 * broadcast batches, other activations, a bias or relu with a transpose or a batch, and empty
 * products go to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import type { WasmBackendLike } from './wasmBackend';
import { trainContext, offsetOf } from './trainWasm';
import { runPair } from './trainPool';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend };

/** Products with fewer multiply-adds stay on one thread (a hand-over costs ≈20 µs). */
const SPLIT_MIN_MACS = 1 << 20;

function matMulWasm(args: KernelArgs, stock: tf.KernelFunc, fused: boolean): tf.TensorInfo | tf.TensorInfo[] {
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const attrs = args.attrs as unknown as { transposeA: boolean; transposeB: boolean; activation?: string };
  const backend = args.backend as unknown as WasmBackendLike;
  const activation = fused ? attrs.activation ?? 'linear' : 'linear';
  if (!a || !b || a.dtype !== 'float32' || b.dtype !== 'float32' || preluActivationWeights || (activation !== 'linear' && activation !== 'relu')) {
    return stock(args as never);
  }
  const [ra, rb] = [a.shape.length, b.shape.length];
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batch = tf.util.sizeFromShape(batchA);
  const M = attrs.transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = attrs.transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const N = attrs.transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const Kb = attrs.transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  // tfjs-backend-wasm 4.22 multiplies one matrix without transposes through XNNPACK (one sum
  // over k from the bias) and otherwise in a loop that sums k in blocks of 48 (a bias, if any,
  // added afterwards, and relu: those cases stay stock). The C kernel follows each order.
  const blocked = attrs.transposeA || attrs.transposeB || batch !== 1;
  if (blocked && activation !== 'linear') return stock(args as never);
  const biasOk = !bias || (!blocked && (bias.dtype === 'float32' && tf.util.sizeFromShape(bias.shape) === N && bias.shape[bias.shape.length - 1] === N));
  const ctx = ra >= 2 && rb >= 2 && tf.util.arraysEqual(batchA, batchB) && K === Kb && biasOk && batch * M * N * K > 0 ? trainContext(backend) : null;
  if (!ctx) return stock(args as never);
  const out = backend.makeOutput([...batchA, M, N], 'float32');
  const bT = attrs.transposeB ? backend.makeOutput([K, N], 'float32') : null;
  const [pa, pb, po] = [offsetOf(backend, a), offsetOf(backend, b), offsetOf(backend, out)];
  const pBias = bias ? offsetOf(backend, bias) : 0;
  const relu = activation === 'relu' ? 1 : 0;
  for (let i = 0; i < batch; i++) {
    let bMat = pb + 4 * i * K * N;
    if (bT) {
      // [N, K] → [K, N] first, so that every product runs on the vector path (a copy: same bits).
      ctx.k.transpose_f32(bMat, N, K, offsetOf(backend, bT));
      bMat = offsetOf(backend, bT);
    }
    const aMat = pa + 4 * i * M * K;
    const oMat = po + 4 * i * M * N;
    const h = ctx.helper && M >= 2 && M * N * K >= SPLIT_MIN_MACS ? Math.ceil(M / 2) : M;
    const geometry = [M, K, N, attrs.transposeA ? 1 : 0, 0, relu, blocked ? 48 : 0];
    runPair(ctx.k, ctx.helper, ['matmul_rows', [aMat, bMat, pBias, oMat, 0, h, ...geometry]],
      h < M ? ['matmul_rows', [aMat, bMat, pBias, oMat, h, M, ...geometry]] : null);
  }
  if (bT) backend.disposeData(bT.dataId);
  return out;
}

/** `BatchMatMul` in C where it applies, else `stock`. */
export function makeBatchMatMulWasm(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => matMulWasm(args as unknown as KernelArgs, stock, false) as tf.TensorInfo;
}

/** `_FusedMatMul` (bias; linear or relu) in C where it applies, else `stock`. */
export function makeFusedMatMulWasm(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => matMulWasm(args as unknown as KernelArgs, stock, true) as tf.TensorInfo;
}
