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
import { trainKernels, trainContext, bnForwardOp, bnBackwardOp, offsetOf, reluGradOp } from './trainWasm';

/** Kernel names of the C forward/backward and running averages (wasm backend only; ./wasm/reductions.c). */
const BN_TRAIN_FORWARD = 'Fat2019BatchNormTrainForward';
const BN_TRAIN_BACKWARD = 'Fat2019BatchNormTrainBackward';
const BN_RUNNING_UPDATE = 'Fat2019BatchNormRunningUpdate';

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

/**
 * Inputs x [..., C], gamma [C], beta [C], optionally residual (shaped like x); attrs {epsilon,
 * relu}. Outputs y (plus the residual, then relu(y) with relu), mean [C], variance [C].
 */
function bnTrainForwardKernel(args: KernelArgs): tf.TensorInfo[] {
  const { ctx, rows, cols, outputs, off, eps } = prepare(BN_TRAIN_FORWARD, args);
  const [y, mean, variance] = outputs;
  const { x, gamma, beta, residual } = args.inputs as Record<string, tf.TensorInfo | undefined> as Record<string, tf.TensorInfo> & { residual?: tf.TensorInfo };
  const relu = (args.attrs as unknown as { relu?: boolean }).relu === true;
  bnForwardOp(ctx, off(x), rows, cols, off(gamma), off(beta), eps, off(mean), off(variance), off(y), relu, residual ? off(residual) : 0);
  return outputs;
}

/**
 * Inputs dy, x [..., C], mean, variance, gamma [C], and y (the forward's output) where the
 * forward applied relu; attrs {epsilon, residual}. Outputs dx, dgamma, dbeta, and with residual
 * (the forward added one) the residual's gradient too. With y, dy first goes through relu's
 * gradient (dy·step(y), the relu_grad kernel); that masked dy is the residual's gradient.
 */
function bnTrainBackwardKernel(args: KernelArgs): tf.TensorInfo[] {
  const { ctx, rows, cols, outputs, off, eps } = prepare(BN_TRAIN_BACKWARD, args);
  const [dx, dgamma, dbeta] = outputs;
  const { dy, x, mean, variance, gamma, y } = args.inputs as Record<string, tf.TensorInfo | undefined> as Record<string, tf.TensorInfo> & { y?: tf.TensorInfo };
  const residual = (args.attrs as unknown as { residual?: boolean }).residual === true;
  let masked: tf.TensorInfo | null = null;
  if (y) {
    masked = ctx.backend.makeOutput(dy.shape, 'float32');
    reluGradOp(ctx, off(dy), off(y), rows * cols, off(masked));
  }
  bnBackwardOp(ctx, off(masked ?? dy), off(x), rows, cols, off(mean), off(variance), off(gamma), eps, off(dx), off(dgamma), off(dbeta));
  if (!residual) {
    if (masked) ctx.backend.disposeData(masked.dataId);
    return outputs;
  }
  if (masked) return [...outputs, masked];
  // No relu: the residual's gradient is dy itself (a new reference to its data).
  ctx.backend.incRef(dy.dataId);
  return [...outputs, { dataId: dy.dataId, shape: dy.shape, dtype: dy.dtype }];
}

/** Attributes of {@link bnRunningUpdateKernel}; factor 0: tfjs-layers' update (biased variance). */
interface RunningUpdateAttrs {
  decay: number;
  momentum: number;
  factor: number;
}

/**
 * Inputs batchMean, batchVariance, mean, variance (all [C]); attrs {@link RunningUpdateAttrs}.
 * Outputs the new running mean and variance (./wasm/reductions.c bn_running_update).
 */
function bnRunningUpdateKernel({ inputs, attrs, backend: b }: KernelArgs): tf.TensorInfo[] {
  const backend = b as unknown as WasmBackendLike;
  const k = trainKernels(backend);
  if (!k) throw new Error(`${BN_RUNNING_UPDATE}: the C kernels are not available`);
  const { batchMean, batchVariance, mean, variance } = inputs as Record<string, tf.TensorInfo>;
  const { decay, momentum, factor } = attrs as unknown as RunningUpdateAttrs;
  const cols = mean.shape.reduce((a, v) => a * v, 1);
  const outputs = [backend.makeOutput(mean.shape, 'float32'), backend.makeOutput(variance.shape, 'float32')];
  const off = (t: tf.TensorInfo) => offsetOf(backend, t);
  k.bn_running_update(off(batchMean), off(batchVariance), off(mean), off(variance), cols, decay, momentum, factor, factor > 0 ? 1 : 0,
    off(outputs[0]), off(outputs[1]));
  return outputs;
}

/** Registers the C batch-norm kernels for 'wasm' (idempotent). */
export function registerBatchNormTrainKernels(): void {
  const kernels = [[BN_TRAIN_FORWARD, bnTrainForwardKernel], [BN_TRAIN_BACKWARD, bnTrainBackwardKernel],
    [BN_RUNNING_UPDATE, bnRunningUpdateKernel]] as const;
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
 * differentiable in x, γ and β (closed-form gradient); with `residual` (shaped like x), y +
 * residual, differentiable in it too; with `relu`, relu of that (the same values and gradients
 * as tf.add and tf.relu after it). Returns y and the (biased) statistics; the caller owns `mean`
 * and `variance` (they are kept out of the enclosing tidy).
 */
export function batchNormTraining(
  x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number, relu = false, residual: tf.Tensor | null = null,
): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } {
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  let stats: { mean: tf.Tensor; variance: tf.Tensor } | null = null;
  const fused = useCKernels(x, gamma, beta) && (residual === null || (residual.dtype === 'float32' && tf.util.arraysEqual(residual.shape, x.shape)));
  const forward = (xt: tf.Tensor, g: tf.Tensor, b: tf.Tensor, r: tf.Tensor | null, save: tf.GradSaveFunc) => {
    let y: tf.Tensor;
    let mean: tf.Tensor;
    let variance: tf.Tensor;
    if (fused) {
      // One C kernel: the statistics (as below), the normalisation (as FusedBatchNorm), the residual, relu.
      [y, mean, variance] = tf.engine().runKernel(BN_TRAIN_FORWARD, { x: xt, gamma: g, beta: b, ...(r ? { residual: r } : {}) },
        { epsilon, relu }) as tf.Tensor[];
    } else {
      ({ mean, variance } = wasmMoments(xt) ?? tf.moments(xt, axes));
      y = tf.batchNorm(xt, mean, variance, b, g, epsilon);
      if (r) y = tf.add(y, r);
      if (relu) y = tf.relu(y);
    }
    save(relu ? [xt, mean, variance, g, y] : [xt, mean, variance, g]);
    // Kept, not cloned: the tape saved its own clones (one Identity call fewer each).
    stats = { mean: tf.keep(mean), variance: tf.keep(variance) };
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]): tf.Tensor[] => {
        const [xs, mu, v, gm, yRelu] = saved;
        if (fused && tf.getBackend() === 'wasm') {
          // The same closed form in two passes (./wasm/trainKernels.c bn_train_backward), after
          // relu's gradient, which is also the residual's gradient.
          const inputs = { dy: dy as tf.Tensor, x: xs, mean: mu, variance: v, gamma: gm, ...(relu ? { y: yRelu } : {}) };
          return tf.engine().runKernel(BN_TRAIN_BACKWARD, inputs, { epsilon, residual: r !== null }) as tf.Tensor[];
        }
        // relu's gradient as tfjs forms it: dy·step(x), where step(relu(z)) = step(z).
        const d = relu ? tf.mul(dy as tf.Tensor, tf.step(yRelu)) : dy as tf.Tensor;
        const n = xs.size / mu.size;
        const rs = tf.rsqrt(tf.add(v, epsilon));
        const gr = tf.mul(gm, rs);
        const xc = tf.sub(xs, mu);
        const sumDy = tf.sum(d, axes);
        const sumDyXc = tf.sum(tf.mul(d, xc), axes);
        const coefXc = tf.mul(tf.mul(gr, tf.square(rs)), tf.mul(sumDyXc, -1 / n));
        const shift = tf.mul(gr, tf.mul(sumDy, -1 / n));
        const dx = tf.add(tf.add(tf.mul(d, gr), tf.mul(xc, coefXc)), shift);
        return r ? [dx, tf.mul(sumDyXc, rs), sumDy, d] : [dx, tf.mul(sumDyXc, rs), sumDy];
      },
    };
  };
  const y = (residual
    ? tf.customGrad((xIn, gIn, bIn, rIn, save) => forward(xIn as tf.Tensor, gIn as tf.Tensor, bIn as tf.Tensor, rIn as tf.Tensor, save as tf.GradSaveFunc))(x, gamma, beta, residual)
    : tf.customGrad((xIn, gIn, bIn, save) => forward(xIn as tf.Tensor, gIn as tf.Tensor, bIn as tf.Tensor, null, save as tf.GradSaveFunc))(x, gamma, beta)) as tf.Tensor;
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

/**
 * Running averages after a training batch with `count` values per channel: tfjs-layers' update
 * (running ← running − (running − batch)·(1 − momentum), with the biased batch variance), or
 * with `unbiased` PyTorch's (the variance from the unbiased batch variance: as tfjs' update, then
 * base + (new − base)·n/(n−1) with base = running·momentum, the correction lib/train/bnStats
 * applies after a step, operation for operation). Returns the new [mean, variance].
 * On wasm one C call (./wasm/reductions.c bn_running_update, the same float32 operations, so the
 * same bits) instead of six taped ops (each with its saved clones) and four for the correction:
 * 28 kernel calls per layer fewer, 560 per ResNet-18 step.
 */
function runningAverages(mean: tf.Tensor, variance: tf.Tensor, batchMean: tf.Tensor, batchVariance: tf.Tensor,
  momentum: number, count: number, unbiased: boolean): [tf.Tensor, tf.Tensor] {
  const decay = 1 - momentum;
  const factor = unbiased && count > 1 ? count / (count - 1) : 0;
  const all = [mean, variance, batchMean, batchVariance];
  if (tf.getBackend() === 'wasm' && tf.getKernel(BN_RUNNING_UPDATE, 'wasm') && all.every((t) => t.dtype === 'float32' && t.size === mean.size)
    && trainKernels(tf.backend() as unknown as WasmBackendLike)) {
    const attrs: RunningUpdateAttrs = { decay, momentum, factor };
    return tf.engine().runKernel(BN_RUNNING_UPDATE, { batchMean, batchVariance, mean, variance }, attrs as unknown as tf.NamedAttrMap) as [tf.Tensor, tf.Tensor];
  }
  return tf.tidy(() => {
    const newMean = tf.sub(mean, tf.mul(tf.sub(mean, batchMean), decay));
    const tfjsVariance = tf.sub(variance, tf.mul(tf.sub(variance, batchVariance), decay));
    if (factor === 0) return [newMean, tfjsVariance];
    const base = tf.mul(variance, momentum);
    return [newMean, tf.add(base, tf.mul(tf.sub(tfjsVariance, base), factor))];
  });
}

const STOCK_KEY = Symbol.for('fat2019.batchNormTraining.stockCall');
/** Set on a BatchNormalization layer by {@link fuseBatchNormRelu}. */
const FUSE_RELU_KEY = Symbol.for('fat2019.batchNormTraining.fuseRelu');
/** Set on a BatchNormalization layer by {@link fuseBatchNormRelu} when a residual Add → ReLU follows it: its call is deferred to the Add. */
const DEFER_KEY = Symbol.for('fat2019.batchNormTraining.deferToAdd');
/** Set on that Add layer: the BatchNormalization layer whose deferred call it makes. */
const RESIDUAL_KEY = Symbol.for('fat2019.batchNormTraining.residualBatchNorm');
/** What a deferred batch-norm call returned (its input, reshaped) → the layer, for the Add to normalise. */
const deferred = new WeakMap<tf.Tensor, BnLayer>();
/** Outputs of batch-norm training calls that applied relu already (the ReLU layer passes them on). */
const reluApplied = new WeakSet<tf.Tensor>();
/** Set on a layer by {@link requestUnbiasedRunningVariance}. */
const UNBIASED_KEY = Symbol.for('fat2019.batchNormTraining.unbiasedRunningVariance');

/**
 * Asks a BatchNormalization layer to update its running variance as PyTorch does (from the
 * unbiased batch variance) in its training calls until {@link releaseUnbiasedRunningVariance}.
 * Returns false (and asks nothing) where {@link installBatchNormTraining} is not in place or the
 * layer keeps tfjs' code (no γ or β, not the last axis): the caller then corrects tfjs' update
 * itself (lib/train/bnStats).
 */
export function requestUnbiasedRunningVariance(layer: tf.layers.Layer): boolean {
  if (layer.getClassName() !== 'BatchNormalization' || !(batchNormPrototype() as unknown as Record<symbol, unknown>)[STOCK_KEY]) return false;
  const bn = layer as unknown as BnLayer;
  const rank = (layer.input as tf.SymbolicTensor).shape.length;
  if (!bn.gamma || !bn.beta || !(bn.axis === -1 || bn.axis === rank - 1)) return false;
  (layer as unknown as Record<symbol, boolean>)[UNBIASED_KEY] = true;
  return true;
}

/** Ends a {@link requestUnbiasedRunningVariance}. */
export function releaseUnbiasedRunningVariance(layer: tf.layers.Layer): void {
  delete (layer as unknown as Record<symbol, boolean>)[UNBIASED_KEY];
}

/**
 * A BatchNormalization layer's training call through {@link batchNormTraining} (with the
 * residual added and relu applied where asked) and its running averages' update.
 */
function trainingCall(layer: BnLayer, input: tf.Tensor, relu: boolean, residual: tf.Tensor | null): tf.Tensor {
  const unbiased = (layer as unknown as Record<symbol, boolean>)[UNBIASED_KEY] === true;
  return tf.tidy(() => {
    const { y, mean, variance } = batchNormTraining(input, layer.gamma!.read(), layer.beta!.read(), layer.epsilon, relu, residual);
    if (relu) reluApplied.add(y);
    const count = input.size / input.shape[input.rank - 1];
    const [newMean, newVariance] = runningAverages(layer.movingMean.read(), layer.movingVariance.read(), mean, variance,
      layer.momentum, count, unbiased);
    layer.movingMean.write(newMean);
    layer.movingVariance.write(newVariance);
    tf.dispose([mean, variance, newMean, newVariance]);
    return y;
  });
}

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
  installReluPassThrough();
  proto.call = function call(this: BnLayer, inputs, kwargs) {
    const training = kwargs?.training === true;
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const lastAxis = this.axis === -1 || this.axis === input.rank - 1;
    const unbiased = (this as unknown as Record<symbol, boolean>)[UNBIASED_KEY] === true;
    if (!training || !lastAxis || !this.gamma || !this.beta || (Array.isArray(inputs) && inputs.length !== 1)) {
      // requestUnbiasedRunningVariance only asks layers that take the path below.
      if (training && unbiased) throw new Error(`BatchNormalization ${(this as unknown as tf.layers.Layer).name}: PyTorch's running variance was asked for an input the project's training path does not take`);
      return stock.call(this, inputs, kwargs);
    }
    const flags = this as unknown as Record<symbol, unknown>;
    if (flags[DEFER_KEY] && useCKernels(input, this.gamma.read(), this.beta.read())) {
      // Normalised by the residual Add that follows, with the add and the relu (fuseBatchNormRelu).
      const standIn = tf.reshape(input, input.shape);
      deferred.set(standIn, this);
      return standIn;
    }
    // Fused where the C kernels run (elsewhere relu inside the op is still a Relu kernel).
    const relu = flags[FUSE_RELU_KEY] === true && useCKernels(input, this.gamma.read(), this.beta.read());
    return trainingCall(this, input, relu, null);
  };
  installResidualAdd();
  return true;
}

/** A layer's place in the graph (tfjs-layers internals). */
interface GraphLayer {
  inboundNodes: Array<{ inboundLayers: tf.layers.Layer[] }>;
  outboundNodes: Array<{ outboundLayer: tf.layers.Layer }>;
}

/** Per model, the layers {@link fuseBatchNormRelu} marks. */
interface Fusions {
  /** BatchNormalization layers followed by a plain ReLU layer and nothing else. */
  beforeRelu: tf.layers.Layer[];
  /** A BatchNormalization layer whose only consumer is an Add of two tensors followed by a plain ReLU layer and nothing else. */
  residual: Array<{ bn: tf.layers.Layer; add: tf.layers.Layer }>;
}
const fusionsOf = new WeakMap<tf.LayersModel, Fusions>();

/** A BatchNormalization layer the training path takes (γ, β, last axis), applied once, consumed once, not a model output. */
function fusableBatchNorm(layer: tf.layers.Layer, outputs: Set<tf.layers.Layer>): boolean {
  if (layer.getClassName() !== 'BatchNormalization' || outputs.has(layer)) return false;
  const bn = layer as unknown as GraphLayer & BnLayer;
  const rank = (layer.input as tf.SymbolicTensor).shape.length;
  if (!bn.gamma || !bn.beta || !(bn.axis === -1 || bn.axis === rank - 1)) return false;
  return bn.inboundNodes.length === 1 && bn.outboundNodes.length === 1;
}

/** A plain ReLU layer (no cap) applied once, or none. */
function onlyPlainRelu(layer: tf.layers.Layer, outputs: Set<tf.layers.Layer>): boolean {
  const g = layer as unknown as GraphLayer;
  if (outputs.has(layer) || g.outboundNodes.length !== 1) return false;
  const next = g.outboundNodes[0].outboundLayer;
  return next.getClassName() === 'ReLU' && (next as unknown as { maxValue?: number | null }).maxValue == null
    && (next as unknown as GraphLayer).inboundNodes.length === 1;
}

function fusions(model: tf.LayersModel): Fusions {
  const known = fusionsOf.get(model);
  if (known) return known;
  const outputs = new Set(model.outputs.map((o) => o.sourceLayer));
  const beforeRelu = model.layers.filter((layer) => fusableBatchNorm(layer, outputs) && onlyPlainRelu(layer, outputs));
  const residual: Fusions['residual'] = [];
  for (const add of model.layers) {
    const g = add as unknown as GraphLayer;
    if (add.getClassName() !== 'Add' || g.inboundNodes.length !== 1 || !onlyPlainRelu(add, outputs)) continue;
    const sources = g.inboundNodes[0].inboundLayers;
    if (sources.length !== 2 || sources[0] === sources[1]) continue;
    const bn = sources.find((l) => fusableBatchNorm(l, outputs));
    if (bn) residual.push({ bn, add });
  }
  const found = { beforeRelu, residual };
  fusionsOf.set(model, found);
  return found;
}

let fusionEnabled = !/^(0|false|off)$/i.test(typeof process !== 'undefined' ? process.env.FAT2019_FUSE_BN_RELU ?? '' : '');

/** Turns {@link fuseBatchNormRelu} off (for A/B runs and tests) or back on; returns the previous setting. */
export function setBatchNormReluFusion(on: boolean): boolean {
  const was = fusionEnabled;
  fusionEnabled = on;
  return was;
}

/**
 * Until the returned function is called, in `model`'s training calls:
 * - every BatchNormalization layer whose only consumer is a plain ReLU layer (conv → BN → ReLU)
 *   applies the relu itself, and that ReLU layer passes the result on: one C pass writes
 *   relu(BN(x)) (./wasm/reductions.c bn_train_forward) and the backward applies relu's gradient
 *   before BN's in the same kernel, instead of a Relu kernel (a full pass), its saved copy and a
 *   ReluGrad kernel;
 * - every BatchNormalization layer whose only consumer is a residual Add followed by a plain ReLU
 *   (the end of a ResNet block: conv → BN → add(·, shortcut) → ReLU) hands its call to the Add,
 *   which writes relu(BN(x) + shortcut) in that same C pass (the ReLU layer passing it on); the
 *   backward's masked dy is the shortcut's gradient. Instead of an Add and a Relu kernel, a saved
 *   copy and a ReluGrad kernel per block: on the threaded binary the stock Relu went through
 *   XNNPACK's thread pool, 0.4–1 ms a call here.
 * Values and gradients are the same bits. A training-time graph pass only: the layers, their
 * names and weights, and inference are unchanged. Does nothing where
 * {@link installBatchNormTraining} is not in place or FAT2019_FUSE_BN_RELU=0 (for A/B timing).
 */
export function fuseBatchNormRelu(model: tf.LayersModel): () => void {
  if (!fusionEnabled || !(batchNormPrototype() as unknown as Record<symbol, unknown>)[STOCK_KEY]) return () => {};
  const { beforeRelu, residual } = fusions(model);
  const flag = (layer: tf.layers.Layer) => layer as unknown as Record<symbol, unknown>;
  for (const layer of beforeRelu) flag(layer)[FUSE_RELU_KEY] = true;
  for (const { bn, add } of residual) {
    flag(bn)[DEFER_KEY] = true;
    flag(add)[RESIDUAL_KEY] = bn;
  }
  return () => {
    for (const layer of beforeRelu) delete flag(layer)[FUSE_RELU_KEY];
    for (const { bn, add } of residual) {
      delete flag(bn)[DEFER_KEY];
      delete flag(add)[RESIDUAL_KEY];
    }
  };
}

type MergeCall = (this: tf.layers.Layer, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

/** The prototype of tfjs-layers' Add layer. */
function addPrototype(): { call: MergeCall } & Record<symbol, MergeCall | undefined> {
  return Object.getPrototypeOf(tf.layers.add({})) as { call: MergeCall } & Record<symbol, MergeCall | undefined>;
}

/**
 * Add layers marked by {@link fuseBatchNormRelu} make the deferred call of their batch-norm
 * input: relu(BN(x) + other) in one op where the shapes match (the ReLU layer after passes it
 * on), else BN(x) and then the stock add.
 */
function installResidualAdd(): void {
  const proto = addPrototype();
  if (proto[STOCK_KEY]) return;
  const stock = proto.call;
  proto[STOCK_KEY] = stock;
  proto.call = function call(inputs, kwargs) {
    const bn = (this as unknown as Record<symbol, BnLayer | undefined>)[RESIDUAL_KEY];
    const i = bn && Array.isArray(inputs) && inputs.length === 2 ? inputs.findIndex((t) => deferred.get(t) === bn) : -1;
    if (!bn || i < 0) return stock.call(this, inputs, kwargs);
    const [x, other] = [(inputs as tf.Tensor[])[i], (inputs as tf.Tensor[])[1 - i]];
    deferred.delete(x);
    if (other.dtype === 'float32' && tf.util.arraysEqual(other.shape, x.shape)) return trainingCall(bn, x, true, other);
    const y = trainingCall(bn, x, false, null);
    return stock.call(this, i === 0 ? [y, other] : [other, y], kwargs);
  };
}

function uninstallResidualAdd(): void {
  const proto = addPrototype();
  const stock = proto[STOCK_KEY];
  if (!stock) return;
  proto.call = stock;
  delete proto[STOCK_KEY];
}

type ReluCall = (this: { maxValue?: number | null }, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

/** The prototype of tfjs-layers' ReLU layer. */
function reluPrototype(): { call: ReluCall } & Record<symbol, ReluCall | undefined> {
  return Object.getPrototypeOf(tf.layers.reLU({})) as { call: ReluCall } & Record<symbol, ReluCall | undefined>;
}

/**
 * ReLU layers pass on what a fused batch-norm call made (relu is idempotent, so this is right
 * whoever calls them). As a reshape, not the input itself: tfjs-layers' apply copies an output
 * that is one of the inputs (an Identity kernel, whose gradient is a Cast that copies on wasm);
 * a reshape shares the data forwards and backwards.
 *
 * ReLU layers with a maxValue (MobileNetV2's ReLU6) run as one clipByValue(x, 0, max) instead of
 * tfjs-layers' relu then clipByValue: the same values, one full pass and its gradient pass
 * fewer (mobilenetv2 at width 1, batch 32 as 4×8: Relu 324 and ReluGrad 39 of a 2348 ms profiled
 * step). The gradient then passes dy where x is exactly 0 (relu's gave 0 there); PyTorch's
 * ReLU6 gives 0 at both ends, tfjs' composite at 0 only: the three differ only where the input
 * is exactly 0 or 6. FAT2019_RELU6_ONE_OP=0 keeps tfjs-layers' two ops (read per call, A/B).
 */
function installReluPassThrough(): void {
  const proto = reluPrototype();
  if (proto[STOCK_KEY]) return;
  const stock = proto.call;
  proto[STOCK_KEY] = stock;
  proto.call = function call(inputs, kwargs) {
    const input = Array.isArray(inputs) && inputs.length === 1 ? inputs[0] : inputs;
    if (!Array.isArray(input) && this.maxValue == null && reluApplied.has(input)) return tf.reshape(input, input.shape);
    if (!Array.isArray(input) && this.maxValue != null
      && !/^(0|false|off)$/i.test(typeof process !== 'undefined' ? process.env.FAT2019_RELU6_ONE_OP ?? '' : '')) {
      return tf.clipByValue(input, 0, this.maxValue);
    }
    return stock.call(this, inputs, kwargs);
  };
}

function uninstallReluPassThrough(): void {
  const proto = reluPrototype();
  const stock = proto[STOCK_KEY];
  if (!stock) return;
  proto.call = stock;
  delete proto[STOCK_KEY];
}

/** Puts tfjs-layers' own BatchNormalization.call back. Returns false if it was not replaced. */
export function uninstallBatchNormTraining(): boolean {
  const proto = batchNormPrototype() as { call: Call } & Record<symbol, Call | undefined>;
  const stock = proto[STOCK_KEY];
  if (!stock) return false;
  proto.call = stock;
  delete proto[STOCK_KEY];
  uninstallReluPassThrough();
  uninstallResidualAdd();
  return true;
}
