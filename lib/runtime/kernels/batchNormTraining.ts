/**
 * Batch normalisation in training mode as one differentiable op (forward and backward each in
 * a few full-size passes), installed into tfjs-layers' `BatchNormalization` layer.
 *
 * Why: tfjs-layers (4.22) normalises a training batch with `tf.moments` followed by
 * `tf.batchNorm`, so the gradient tape holds mean → sub → square → mean → FusedBatchNorm, and
 * backpropagation runs each op's generic gradient: the two `Mean` gradients each build a
 * full-size ones tensor, multiply and divide it; `Square` and `Sub` add three more full-size
 * products, and the gradients are summed into x twice. About 13 full-size passes per layer in
 * the backward pass; the closed form below needs six (xc, dy·xc, three products and a sum)
 * and two channel reductions:
 *
 *     r = 1/√(var + ε),  xc = x − μ,  N = values per channel
 *     dβ = Σ dy,   dγ = r · Σ dy·xc
 *     dx = γr · dy − γr·dβ/N − xc · γr³·Σ(dy·xc)/N
 *
 * The forward values are unchanged (the same `tf.moments` and `FusedBatchNorm` kernels, the
 * same running-average updates). Gradients equal tfjs' mathematically; in float32 they differ
 * by rounding (a different order of the same sums), so a training run is not bit-identical to
 * one with the stock layer.
 */
import * as tf from '@tensorflow/tfjs';
import { heapF32, WasmBackendLike } from './wasmBackend';
import { trainKernels, trainContext, bnForwardOp, bnBackwardOp, offsetOf } from './trainWasm';

/** Kernel names of the C forward/backward (wasm backend only; ./wasm/trainKernels.c). */
const BN_TRAIN_FORWARD = 'Fat2019BatchNormTrainForward';
const BN_TRAIN_BACKWARD = 'Fat2019BatchNormTrainBackward';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend };

/**
 * What both kernels start with: the C kernels (or an error naming the kernel), x [..., C] seen as
 * [rows, cols], three outputs shaped like x, [C] and [C], the byte offset of a tensor, epsilon.
 */
function prepare(kernel: string, { inputs, attrs, backend: b }: KernelArgs) {
  const backend = b as unknown as WasmBackendLike;
  const ctx = trainContext(backend);
  if (!ctx) throw new Error(`${kernel}: the C kernels are not available`);
  const { x } = inputs as Record<string, tf.TensorInfo>;
  const cols = x.shape[x.shape.length - 1];
  const rows = x.shape.reduce((a, v) => a * v, 1) / cols;
  const outputs = [backend.makeOutput(x.shape, 'float32'), backend.makeOutput([cols], 'float32'), backend.makeOutput([cols], 'float32')];
  const off = (t: tf.TensorInfo) => offsetOf(backend, t);
  return { ctx, rows, cols, outputs, off, eps: (attrs as unknown as { epsilon: number }).epsilon };
}

/** Inputs x [..., C], gamma [C], beta [C]; attrs {epsilon}. Outputs y, mean [C], variance [C]. */
function bnTrainForwardKernel(args: KernelArgs): tf.TensorInfo[] {
  const { ctx, rows, cols, outputs, off, eps } = prepare(BN_TRAIN_FORWARD, args);
  const [y, mean, variance] = outputs;
  const { x, gamma, beta } = args.inputs as Record<string, tf.TensorInfo>;
  bnForwardOp(ctx, off(x), rows, cols, off(gamma), off(beta), eps, off(mean), off(variance), off(y));
  return outputs;
}

/** Inputs dy, x [..., C], mean, variance, gamma [C]; attrs {epsilon}. Outputs dx, dgamma, dbeta. */
function bnTrainBackwardKernel(args: KernelArgs): tf.TensorInfo[] {
  const { ctx, rows, cols, outputs, off, eps } = prepare(BN_TRAIN_BACKWARD, args);
  const [dx, dgamma, dbeta] = outputs;
  const { dy, x, mean, variance, gamma } = args.inputs as Record<string, tf.TensorInfo>;
  bnBackwardOp(ctx, off(dy), off(x), rows, cols, off(mean), off(variance), off(gamma), eps, off(dx), off(dgamma), off(dbeta));
  return outputs;
}

/** Registers the two C batch-norm kernels for 'wasm' (idempotent). */
export function registerBatchNormTrainKernels(): void {
  const kernels = [[BN_TRAIN_FORWARD, bnTrainForwardKernel], [BN_TRAIN_BACKWARD, bnTrainBackwardKernel]] as const;
  for (const [kernelName, kernelFunc] of kernels) {
    if (!tf.getKernel(kernelName, 'wasm')) {
      tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
    }
  }
}

/** Whether x, γ, β can go through the C kernels (wasm backend, float32, per-channel γ, β). */
function useCKernels(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): boolean {
  if (tf.getBackend() !== 'wasm' || x.dtype !== 'float32' || x.rank < 2) return false;
  const cols = x.shape[x.rank - 1];
  if (cols === 0 || x.size === 0 || gamma.size !== cols || beta.size !== cols) return false;
  if (gamma.dtype !== 'float32' || beta.dtype !== 'float32') return false;
  if (!tf.getKernel(BN_TRAIN_FORWARD, 'wasm') || !tf.getKernel(BN_TRAIN_BACKWARD, 'wasm')) return false;
  return trainKernels(tf.backend() as unknown as WasmBackendLike) !== null;
}

type Call = (this: BnLayer, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

interface BnLayer {
  axis: number;
  epsilon: number;
  momentum: number;
  center: boolean;
  scale: boolean;
  gamma: tf.LayerVariable | null;
  beta: tf.LayerVariable | null;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

/** The prototype of tfjs-layers' BatchNormalization layer (the one tfjs-core instance's). */
function batchNormPrototype(): { call: Call } {
  return Object.getPrototypeOf(tf.layers.batchNormalization({})) as { call: Call };
}

/**
 * y = γ·(x − μ)/√(σ² + ε) + β with μ, σ² the batch statistics over every axis but the last,
 * differentiable in x, γ and β (closed-form gradient). Returns y and the (biased) statistics;
 * the caller owns `mean` and `variance` (they are kept out of the enclosing tidy).
 */
export function batchNormTraining(
  x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number,
): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } {
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  let stats: { mean: tf.Tensor; variance: tf.Tensor } | null = null;
  const fused = useCKernels(x, gamma, beta);
  const op = tf.customGrad((xIn, gIn, bIn, save) => {
    const xt = xIn as tf.Tensor;
    const g = gIn as tf.Tensor;
    const b = bIn as tf.Tensor;
    let y: tf.Tensor;
    let mean: tf.Tensor;
    let variance: tf.Tensor;
    if (fused) {
      // One C kernel: the statistics (as below) and the normalisation (as FusedBatchNorm).
      [y, mean, variance] = tf.engine().runKernel(BN_TRAIN_FORWARD, { x: xt, gamma: g, beta: b }, { epsilon }) as tf.Tensor[];
    } else {
      ({ mean, variance } = wasmMoments(xt) ?? tf.moments(xt, axes));
      y = tf.batchNorm(xt, mean, variance, b, g, epsilon);
    }
    (save as tf.GradSaveFunc)([xt, mean, variance, g]);
    stats = { mean: tf.keep(mean.clone()), variance: tf.keep(variance.clone()) };
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const d = dy as tf.Tensor;
        const [xs, mu, v, gm] = saved;
        if (fused && tf.getBackend() === 'wasm') {
          // The same closed form in two passes (./wasm/trainKernels.c bn_train_backward).
          return tf.engine().runKernel(BN_TRAIN_BACKWARD, { dy: d, x: xs, mean: mu, variance: v, gamma: gm }, { epsilon }) as tf.Tensor[];
        }
        const n = xs.size / mu.size;
        const r = tf.rsqrt(tf.add(v, epsilon));
        const gr = tf.mul(gm, r);
        const xc = tf.sub(xs, mu);
        const sumDy = tf.sum(d, axes);
        const sumDyXc = tf.sum(tf.mul(d, xc), axes);
        const coefXc = tf.mul(tf.mul(gr, tf.square(r)), tf.mul(sumDyXc, -1 / n));
        const shift = tf.mul(gr, tf.mul(sumDy, -1 / n));
        const dx = tf.add(tf.add(tf.mul(d, gr), tf.mul(xc, coefXc)), shift);
        return [dx, tf.mul(sumDyXc, r), sumDy];
      },
    };
  });
  const y = op(x, gamma, beta) as tf.Tensor;
  const s = stats as { mean: tf.Tensor; variance: tf.Tensor } | null;
  if (!s) throw new Error('batchNormTraining: statistics were not computed');
  return { y, mean: s.mean, variance: s.variance };
}

/**
 * `tf.moments(x, leading axes)` on the wasm backend in two read passes over the heap instead of
 * Mean → Sub → Square → Mean (two of them full-size writes). The arithmetic is the kernels':
 * the project's wasm Mean sums columns in float64 and scales by 1/rows (./reduce), Sub and
 * Square round each result to float32, so the statistics come out the same. null off wasm.
 */
function wasmMoments(x: tf.Tensor): { mean: tf.Tensor1D; variance: tf.Tensor1D } | null {
  if (tf.getBackend() !== 'wasm' || x.dtype !== 'float32' || x.rank < 2) return null;
  const backend = tf.backend() as unknown as WasmBackendLike;
  if (!backend.dataIdMap.get(x.dataId)) return null;
  const cols = x.shape[x.rank - 1];
  const rows = x.size / cols;
  if (rows === 0) return null;
  const k = cols > 0 ? trainKernels(backend) : null;
  if (k) {
    // Same sums in C on the heap (./wasm/trainKernels.c moments).
    const acc = backend.makeOutput([2 * cols], 'float32');
    const mean = backend.makeOutput([cols], 'float32');
    const variance = backend.makeOutput([cols], 'float32');
    k.moments(offsetOf(backend, x), rows, cols, offsetOf(backend, acc), offsetOf(backend, mean), offsetOf(backend, variance));
    backend.disposeData(acc.dataId);
    const engine = tf.engine() as unknown as { makeTensorFromTensorInfo(t: tf.TensorInfo): tf.Tensor };
    return { mean: engine.makeTensorFromTensorInfo(mean) as tf.Tensor1D, variance: engine.makeTensorFromTensorInfo(variance) as tf.Tensor1D };
  }
  const data = heapF32(backend, x);
  const acc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) acc[c] += data[base + c];
  }
  const mean = new Float32Array(cols);
  for (let c = 0; c < cols; c++) mean[c] = acc[c] * (1 / rows);
  acc.fill(0);
  const f = Math.fround;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const d = f(data[base + c] - mean[c]);
      acc[c] += f(d * d);
    }
  }
  const variance = new Float32Array(cols);
  for (let c = 0; c < cols; c++) variance[c] = acc[c] * (1 / rows);
  return { mean: tf.tensor1d(mean), variance: tf.tensor1d(variance) };
}

const STOCK_KEY = Symbol.for('fat2019.batchNormTraining.stockCall');

/**
 * Makes every BatchNormalization layer (channels-last, with γ and β) train through
 * {@link batchNormTraining}; other configurations and inference keep the stock code.
 * Returns false if already installed.
 */
export function installBatchNormTraining(): boolean {
  const proto = batchNormPrototype() as { call: Call } & Record<symbol, Call | undefined>;
  if (proto[STOCK_KEY]) return false;
  const stock = proto.call;
  proto[STOCK_KEY] = stock;
  proto.call = function call(this: BnLayer, inputs, kwargs) {
    const training = kwargs?.training === true;
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const lastAxis = this.axis === -1 || this.axis === input.rank - 1;
    if (!training || !lastAxis || !this.gamma || !this.beta || (Array.isArray(inputs) && inputs.length !== 1)) {
      return stock.call(this, inputs, kwargs);
    }
    return tf.tidy(() => {
      const { y, mean, variance } = batchNormTraining(input, this.gamma!.read(), this.beta!.read(), this.epsilon);
      // The running averages exactly as tfjs-layers updates them.
      const decay = 1 - this.momentum;
      for (const [variable, value] of [[this.movingMean, mean], [this.movingVariance, variance]] as const) {
        tf.tidy(() => {
          const orig = variable.read();
          variable.write(tf.sub(orig, tf.mul(tf.sub(orig, value), decay)));
        });
      }
      mean.dispose();
      variance.dispose();
      return y;
    });
  };
  return true;
}

/** Puts tfjs-layers' own BatchNormalization.call back. Returns false if it was not replaced. */
export function uninstallBatchNormTraining(): boolean {
  const proto = batchNormPrototype() as { call: Call } & Record<symbol, Call | undefined>;
  const stock = proto[STOCK_KEY];
  if (!stock) return false;
  proto.call = stock;
  delete proto[STOCK_KEY];
  return true;
}
