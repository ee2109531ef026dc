/**
 * A LayersModel compiled for inference: every BatchNormalization that follows a convolution
 * (or precedes a Dense layer) is folded into that layer's weights and bias once, with its
 * moving mean and variance, and conv + bias + ReLU runs as one `FusedConv2D` call (the C
 * kernel's epilogue, ../runtime/kernels/wasm/convForward.c and winograd.c, adds the bias and
 * clamps in the same pass as the sums). A conv block is then one kernel instead of three
 * (conv, FusedBatchNorm, Relu), and the whole batch runs as one pass (LayersModel.predict cuts
 * it into batches of 32).
 *
 * Why: full-width CNN-model-1, batch 64, 2 threads, under tf.profile: FusedBatchNorm and Relu
 * were 1.46 s of 10.3 s of kernel time (figures in the commit message and
 * notes/p-infer.md).
 *
 * Folding, per output channel c (inference BN: y = γ·(x − μ)/√(σ² + ε) + β):
 *     s = γ / √(σ² + ε),   W'[..., c] = W[..., c] · s,   b' = (b − μ) · s + β
 * and for a BN before a Dense layer (through Dropout, the identity at inference), per input
 * feature i: W'[i, :] = s_i · W[i, :],  b' = b + Σ_i (β_i − μ_i·s_i) · W[i, :].
 * The same function in float32, rounded differently: outputs agree within float32 rounding.
 *
 * Layers not part of a recognised pattern run as they are (`layer.apply`, inference mode), so
 * any network compiles; a model that is not a plain single-input, single-output graph of
 * layers used once each (a nested model, a shared layer) gives null and the caller keeps
 * `model.predict`. Browser-safe: tfjs only.
 */
import * as tf from '@tensorflow/tfjs';

type Layer = tf.layers.Layer;
type SymbolicTensor = tf.SymbolicTensor;
type FusedActivation = 'linear' | 'relu' | 'relu6';

/** One step of the compiled forward pass: reads `inputs` (value ids), writes `output`. */
interface Step {
  inputs: number[];
  output: number;
  run(xs: tf.Tensor[]): tf.Tensor;
  /** What it is (tests, profiles): e.g. `conv+bn+relu block1_1_conv`. */
  describe: string;
}

/** The compiled network; `predict` leaves only its result, `dispose` frees the folded weights. */
export interface FoldedModel {
  /** Logits of `x` (NHWC, the model's input), one pass whatever the batch. */
  predict(x: tf.Tensor): tf.Tensor;
  /** Each step, in order (what was fused into what). */
  readonly steps: readonly string[];
  /** How many BatchNormalization layers were folded into a conv or Dense layer. */
  readonly foldedBatchNorms: number;
  /**
   * Channels `predict` takes: the model's, or 1 when {@link FoldOptions.repeatedInput} let the
   * first conv sum its filter over the (identical) input channels.
   */
  readonly inputChannels: number;
  /** Frees the folded weights (not the model's). */
  dispose(): void;
}

/** The one node of a layer used once, or null (shared layers, nested models). */
function onlyNode(layer: Layer) {
  return layer.inboundNodes.length === 1 ? layer.inboundNodes[0] : null;
}

/** The activation a Keras-style layer config names, if the fused kernels take it. */
function fusableActivation(name: unknown): FusedActivation | null {
  return name === undefined || name === null || name === 'linear' ? 'linear' : name === 'relu' ? 'relu' : name === 'relu6' ? 'relu6' : null;
}

/** The activation of an activation layer (ReLU, ReLU(6), Activation('relu'|'relu6')), or null. */
function activationLayerKind(layer: Layer): FusedActivation | null {
  const cfg = layer.getConfig() as Record<string, unknown>;
  if (layer.getClassName() === 'ReLU') {
    if (cfg.maxValue === undefined || cfg.maxValue === null) return 'relu';
    return cfg.maxValue === 6 ? 'relu6' : null;
  }
  if (layer.getClassName() === 'Activation') {
    const a = fusableActivation(cfg.activation);
    return a === 'linear' ? null : a;
  }
  return null;
}

/** A BN layer over the last axis of a rank-`rank` input, as per-channel scale s and shift t (tensors, owned by the caller). */
function batchNormAffine(layer: Layer, rank: number): { scale: tf.Tensor1D; shift: tf.Tensor1D } | null {
  if (layer.getClassName() !== 'BatchNormalization') return null;
  const cfg = layer.getConfig() as { axis?: number | number[]; epsilon?: number; center?: boolean; scale?: boolean };
  const axis = Array.isArray(cfg.axis) ? (cfg.axis.length === 1 ? cfg.axis[0] : NaN) : cfg.axis ?? -1;
  if (axis !== -1 && axis !== rank - 1) return null;
  const byName = (suffix: string) => layer.weights.find((w) => w.originalName.endsWith(`/${suffix}`))?.read();
  const mean = byName('moving_mean');
  const variance = byName('moving_variance');
  if (!mean || !variance || mean.rank !== 1) return null;
  const gamma = cfg.scale === false ? null : byName('gamma');
  const beta = cfg.center === false ? null : byName('beta');
  if ((cfg.scale !== false && !gamma) || (cfg.center !== false && !beta)) return null;
  return tf.tidy(() => {
    const inv = tf.rsqrt(tf.add(variance, cfg.epsilon ?? 1e-3));
    const scale = (gamma ? tf.mul(gamma, inv) : inv) as tf.Tensor1D;
    const shift = tf.sub(beta ?? tf.zerosLike(mean), tf.mul(mean, scale)) as tf.Tensor1D;
    return { scale, shift };
  });
}

interface Graph {
  /** Value id → the layers that read it. */
  consumers: Map<number, Layer[]>;
  /** Ids of the model's output values (never folded away: the caller reads them). */
  outputs: Set<number>;
}

/** The layer that alone reads value `id`, or null (several readers, or a model output). */
function soleConsumer(g: Graph, id: number): Layer | null {
  const c = g.consumers.get(id);
  return c && c.length === 1 && !g.outputs.has(id) ? c[0] : null;
}

/** Output id of a layer used once with one output. */
function outId(layer: Layer): number {
  return onlyNode(layer)!.outputTensors[0].id;
}

/** Ids of a layer's inputs. */
function inIds(layer: Layer): number[] {
  return onlyNode(layer)!.inputTensors.map((t: SymbolicTensor) => t.id);
}

interface ConvGeometry {
  strides: [number, number];
  pad: 'valid' | 'same' | [[number, number], [number, number], [number, number], [number, number]];
}

/** Strides and padding of a Conv2D / DepthwiseConv2D layer we can run fused (NHWC, dilation 1), or null. */
function convGeometry(layer: Layer): ConvGeometry | null {
  const cfg = layer.getConfig() as { strides?: number | number[]; padding?: string; dataFormat?: string; dilationRate?: number | number[]; depthMultiplier?: number };
  if (cfg.dataFormat !== undefined && cfg.dataFormat !== 'channelsLast') return null;
  const dil = cfg.dilationRate ?? 1;
  if ((Array.isArray(dil) ? dil : [dil]).some((d) => d !== 1)) return null;
  if (cfg.padding !== 'same' && cfg.padding !== 'valid') return null;
  const s = cfg.strides ?? 1;
  const strides: [number, number] = Array.isArray(s) ? [s[0], s[1] ?? s[0]] : [s, s];
  return { strides, pad: cfg.padding };
}

/** A ZeroPadding2D layer's [[top, bottom], [left, right]] (channels last), or null. */
function zeroPadding(layer: Layer): [[number, number], [number, number]] | null {
  if (layer.getClassName() !== 'ZeroPadding2D') return null;
  const cfg = layer.getConfig() as { padding?: number | number[] | number[][]; dataFormat?: string };
  if (cfg.dataFormat !== undefined && cfg.dataFormat !== 'channelsLast') return null;
  const p = cfg.padding ?? 1;
  if (typeof p === 'number') return [[p, p], [p, p]];
  if (Array.isArray(p) && p.length === 2 && typeof p[0] === 'number') return [[p[0] as number, p[0] as number], [p[1] as number, p[1] as number]];
  if (Array.isArray(p) && p.length === 2 && Array.isArray(p[0]) && Array.isArray(p[1])) return [[p[0][0], p[0][1]], [p[1][0], p[1][1]]];
  return null;
}

/** Options of {@link foldModel}. */
export interface FoldOptions {
  /**
   * Every input channel will hold the same values (the single-channel window repeated, no
   * per-channel normalisation). Then, where the input feeds one conv alone, its filter is summed
   * over the input channels once and `predict` takes one channel: conv(repeat(x), W) =
   * conv(x, Σ_c W[:, :, c, :]), zero padding included. The first layer of the 3-channel
   * networks does a third of the work, and the input is a third of the size.
   */
  repeatedInput?: boolean;
}

/**
 * Compiles `model` for inference (see the file comment), or null where it is not a plain graph
 * (the caller then keeps `model.predict`).
 */
export function foldModel(model: tf.LayersModel, options: FoldOptions = {}): FoldedModel | null {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return null;
  const layers = model.layers;
  for (const layer of layers) {
    if (layer.inboundNodes.length !== 1 || layer instanceof tf.LayersModel) return null;
    if (layer.getClassName() !== 'InputLayer' && onlyNode(layer)!.outputTensors.length !== 1) return null;
  }
  const g: Graph = { consumers: new Map(), outputs: new Set([model.outputs[0].id]) };
  for (const layer of layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    for (const id of inIds(layer)) g.consumers.set(id, [...(g.consumers.get(id) ?? []), layer]);
  }
  const owned: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => {
    owned.push(tf.keep(t));
    return t;
  };
  const steps: Step[] = [];
  const done = new Set<Layer>();
  /** Value id → the id it equals (layers that are the identity at inference). */
  const alias = new Map<number, number>();
  const resolve = (id: number): number => alias.get(id) ?? id;
  let foldedBatchNorms = 0;
  const modelChannels = model.inputs[0].shape[3] ?? 1;
  let inputChannels = modelChannels;
  const inputReaders = g.consumers.get(model.inputs[0].id) ?? [];

  /** BN → (Dropout)* starting at value `id`, folded as a Dense input: [bnLayer, dropouts…, dense] or null. */
  const bnThenDense = (bn: Layer): Layer[] | null => {
    const chain: Layer[] = [bn];
    let next = soleConsumer(g, outId(bn));
    while (next && next.getClassName() === 'Dropout') {
      chain.push(next);
      next = soleConsumer(g, outId(next));
    }
    return next && next.getClassName() === 'Dense' ? [...chain, next] : null;
  };

  for (const layer of layers) {
    if (done.has(layer) || layer.getClassName() === 'InputLayer') continue;
    const cls = layer.getClassName();
    const inputs = inIds(layer).map(resolve);
    const output = outId(layer);

    if (cls === 'Dropout') {
      alias.set(output, inputs[0]);
      done.add(layer);
      continue;
    }

    // ZeroPadding2D → Conv2D 'valid': the padding becomes the conv's own (explicit).
    const padding = zeroPadding(layer);
    const padConsumer = padding ? soleConsumer(g, output) : null;
    const convLayer = cls === 'Conv2D' || cls === 'DepthwiseConv2D' ? layer
      // (tf.fused.depthwiseConv2d takes no explicit padding: a padded depthwise conv keeps its pad layer.)
      : padConsumer && padConsumer.getClassName() === 'Conv2D'
        && (padConsumer.getConfig() as { padding?: string }).padding === 'valid' ? padConsumer : null;
    const geometry = convLayer ? convGeometry(convLayer) : null;
    const convCfg = convLayer?.getConfig() as { activation?: string; useBias?: boolean; depthMultiplier?: number } | undefined;
    if (convLayer && geometry && fusableActivation(convCfg?.activation) && (convCfg?.depthMultiplier ?? 1) === 1) {
      const depthwise = convLayer.getClassName() === 'DepthwiseConv2D';
      const chain: Layer[] = convLayer === layer ? [layer] : [layer, convLayer];
      let activation = fusableActivation(convCfg?.activation)!;
      const [kernelVar, biasVar] = convLayer.weights;
      let filter: tf.Tensor4D = kernelVar.read() as tf.Tensor4D;
      let bias: tf.Tensor1D | null = convCfg?.useBias === false || !biasVar ? null : (biasVar.read() as tf.Tensor1D);
      let last = convLayer;
      // conv → BN (when the conv has no activation of its own).
      const next = activation === 'linear' ? soleConsumer(g, outId(last)) : null;
      const affine = next ? batchNormAffine(next, 4) : null;
      if (affine && next) {
        const folded = tf.tidy(() => {
          // Depthwise filter [fh, fw, C, 1]: the channel is axis 2; conv filter [fh, fw, Ci, Co]: axis 3.
          const s = depthwise ? affine.scale.reshape([1, 1, -1, 1]) : affine.scale;
          const f = tf.mul(filter, s) as tf.Tensor4D;
          const b = tf.add(bias ? tf.mul(bias, affine.scale) : tf.zerosLike(affine.shift), affine.shift) as tf.Tensor1D;
          return { f, b };
        });
        tf.dispose([affine.scale, affine.shift]);
        filter = keep(folded.f);
        bias = keep(folded.b);
        chain.push(next);
        last = next;
        foldedBatchNorms++;
      }
      // → ReLU / ReLU6.
      const act = activation === 'linear' ? soleConsumer(g, outId(last)) : null;
      const actKind = act ? activationLayerKind(act) : null;
      if (act && actKind) {
        activation = actKind;
        chain.push(act);
        last = act;
      }
      // The model input, read by this conv (or its pad layer) alone, with identical channels.
      if (options.repeatedInput && !depthwise && modelChannels > 1 && inputs.length === 1 && inputs[0] === model.inputs[0].id
        && inputReaders.length === 1 && inputReaders[0] === layer && filter.shape[2] === modelChannels) {
        const f = filter;
        filter = keep(tf.tidy(() => tf.sum(f, 2, true) as tf.Tensor4D));
        inputChannels = 1;
      }
      const pad: ConvGeometry['pad'] = convLayer === layer ? geometry.pad
        : [[0, 0], [padding![0][0], padding![0][1]], [padding![1][0], padding![1][1]], [0, 0]];
      const strides = geometry.strides;
      const f = filter;
      const b = bias ?? undefined;
      steps.push({
        inputs, output: outId(last), describe: `${chain.map((l) => l.getClassName()).join('+')} ${convLayer.name}${filter.shape[2] === 1 && inputChannels === 1 && inputs[0] === model.inputs[0].id ? ' (channels summed)' : ''}`,
        run: depthwise
          ? ([x]) => tf.fused.depthwiseConv2d({ x: x as tf.Tensor4D, filter: f, strides, pad: pad as 'valid' | 'same', bias: b, activation })
          : ([x]) => tf.fused.conv2d({ x: x as tf.Tensor4D, filter: f, strides, pad, bias: b, activation }),
      });
      for (const l of chain) done.add(l);
      continue;
    }

    // BN → (Dropout)* → Dense on features [B, F]: folded into the Dense layer; then → ReLU.
    const denseChain = cls === 'BatchNormalization' ? bnThenDense(layer) : cls === 'Dense' ? [layer] : null;
    const dense = denseChain ? denseChain[denseChain.length - 1] : null;
    const denseCfg = dense?.getConfig() as { activation?: string; useBias?: boolean } | undefined;
    const inputRank = onlyNode(layer)!.inputTensors[0].shape.length;
    if (dense && denseChain && inputRank === 2 && fusableActivation(denseCfg?.activation)) {
      const [kernelVar, biasVar] = dense.weights;
      let kernel = kernelVar.read() as tf.Tensor2D;
      let bias: tf.Tensor1D | null = denseCfg?.useBias === false || !biasVar ? null : (biasVar.read() as tf.Tensor1D);
      const affine = denseChain.length > 1 ? batchNormAffine(layer, 2) : null;
      if (denseChain.length > 1 && !affine) {
        // A BN we cannot read as an affine map: it runs as a layer (below), the Dense on its own later.
        denseChain.length = 0;
      }
      if (affine) {
        const folded = tf.tidy(() => {
          const k = tf.mul(kernel, affine.scale.reshape([-1, 1])) as tf.Tensor2D;
          const shiftTerm = tf.matMul(affine.shift.reshape([1, -1]), kernel).reshape([-1]);
          return { k, b: (bias ? tf.add(bias, shiftTerm) : shiftTerm) as tf.Tensor1D };
        });
        tf.dispose([affine.scale, affine.shift]);
        kernel = keep(folded.k);
        bias = keep(folded.b);
        foldedBatchNorms++;
      }
      if (denseChain.length > 0) {
        let activation = fusableActivation(denseCfg?.activation)!;
        let last = dense;
        const act = activation === 'linear' ? soleConsumer(g, outId(dense)) : null;
        const actKind = act ? activationLayerKind(act) : null;
        if (act && actKind) {
          activation = actKind;
          denseChain.push(act);
          last = act;
        }
        const k = kernel;
        const b = bias ?? undefined;
        steps.push({
          inputs, output: outId(last), describe: `${denseChain.map((l) => l.getClassName()).join('+')} ${dense.name}`,
          run: ([x]) => tf.fused.matMul({ a: x as tf.Tensor2D, b: k, bias: b, activation }),
        });
        for (const l of denseChain) done.add(l);
        continue;
      }
    }

    // Anything else runs as the layer itself, in inference mode.
    steps.push({
      inputs, output, describe: `${cls} ${layer.name}`,
      run: (xs) => layer.apply(xs.length === 1 ? xs[0] : xs, { training: false }) as tf.Tensor,
    });
    done.add(layer);
  }

  const inputId = model.inputs[0].id;
  const outputId = resolve(model.outputs[0].id);
  // How many steps read each value, to free it after its last reader.
  const readers = new Map<number, number>();
  for (const s of steps) for (const id of new Set(s.inputs)) readers.set(id, (readers.get(id) ?? 0) + 1);
  return {
    steps: steps.map((s) => s.describe),
    foldedBatchNorms,
    inputChannels,
    predict(x: tf.Tensor): tf.Tensor {
      return tf.tidy(() => {
        const values = new Map<number, tf.Tensor>([[inputId, x]]);
        const left = new Map(readers);
        for (const s of steps) {
          const xs = s.inputs.map((id) => {
            const v = values.get(id);
            if (!v) throw new Error(`foldModel: value ${id} is not computed before ${s.describe}`);
            return v;
          });
          values.set(s.output, s.run(xs));
          // Free what no later step reads (activations of a 64-window batch are hundreds of MB),
          // unless it is the input or the same tensor as a live value (a layer that returned its input).
          for (const id of new Set(s.inputs)) {
            const n = left.get(id)! - 1;
            left.set(id, n);
            if (n > 0 || id === inputId || id === outputId) continue;
            const t = values.get(id)!;
            values.delete(id);
            if (![...values.values()].includes(t)) t.dispose();
          }
        }
        const y = values.get(outputId);
        if (!y) throw new Error('foldModel: the output was not computed');
        return y;
      });
    },
    dispose() {
      tf.dispose(owned);
      owned.length = 0;
    },
  };
}
