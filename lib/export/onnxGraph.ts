/**
 * tfjs LayersModel → ONNX graph, generically over layer types: the functional graph is walked
 * layer by layer (model.layers is in topological order; each layer's one inbound node names its
 * input tensors), and each layer class has a converter ({@link registerOnnxLayer} adds one, e.g.
 * for a custom layer a network file defines).
 *
 * Layout: tfjs is NHWC; the ONNX graph is NCHW, the layout ONNX Runtime and PyTorch compute in.
 * Input `input` `[batch, C, H, W]` (C = the tfjs model's input channels, H = mel bands, W =
 * frames, values 0..1); output `[batch, classes]` (logits, or probabilities with an activation).
 * Kernels are transposed once at export; axes of Concatenate/Softmax are remapped; Flatten and
 * Reshape go through NHWC order so they keep tfjs's element order.
 *
 * BatchNorm: folded into the convolution or dense layer before it (when that layer's output
 * feeds only the BatchNorm and it has no activation of its own) or into the dense layer after
 * it (rank-2 features: BatchNorm → Dropout* → Dense, as in the fastai head); any other
 * BatchNorm becomes an ONNX BatchNormalization node. Dropout-like layers are identities.
 */
import type * as tf from '@tensorflow/tfjs';
import {
  ONNX_IR_VERSION, ONNX_OPSET, attributes, floatTensor, int64Tensor, valueInfo,
  type ModelProto, type NodeProto, type TensorProto, type Dim,
} from './onnxProto';

/** A tensor of the ONNX graph: its name and its tfjs (NHWC) shape, batch first (null = any). */
export interface OnnxValue {
  name: string;
  shape: ReadonlyArray<number | null>;
}

/** The activation appended to the graph's output ('none': logits). */
export type OnnxOutputActivation = 'none' | 'sigmoid' | 'softmax';

export interface TfjsToOnnxOptions {
  /** Appended to the output: 'none' (default, logits), 'sigmoid' or 'softmax'. */
  activation?: OnnxOutputActivation;
  /** Stored in the file's metadata_props (e.g. classes, source checksum). */
  metadata?: Record<string, string>;
  /** Graph name (default the model's name). */
  graphName?: string;
  /** Fold BatchNorm into neighbouring convolutions / dense layers (default true). */
  foldBatchNorm?: boolean;
  /** producer_version written to the file. */
  producerVersion?: string;
}

/** Names of the graph's input and output. */
const ONNX_INPUT_NAME = 'input';
const ONNX_OUTPUT_NAME = 'output';

/** What a layer converter gets: its layer, the ONNX values of its inputs, and the graph builder. */
export interface LayerContext {
  layer: tf.layers.Layer;
  /** The layer's serialized config (getConfig()). */
  config: Record<string, unknown>;
  inputs: OnnxValue[];
  /** tfjs shapes (NHWC, batch first) of the layer's outputs. */
  outputShapes: Array<ReadonlyArray<number | null>>;
  graph: OnnxGraphBuilder;
}

/** Converts one layer; returns the ONNX values of its outputs (in the layer's output order). */
export type LayerConverter = (ctx: LayerContext) => OnnxValue[];

const CONVERTERS = new Map<string, LayerConverter>();

/** Adds (or replaces) the converter of tfjs layer class `className`. */
function registerOnnxLayer(className: string, converter: LayerConverter): void {
  CONVERTERS.set(className, converter);
}

/** Layer classes the exporter converts. */
function onnxLayerClasses(): string[] {
  return [...CONVERTERS.keys()].sort();
}

/** Nodes and initializers being assembled, with unique names. */
class OnnxGraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly used = new Set<string>();

  /** A fresh name starting with `base` (tfjs layer names are unique, so usually `base` itself). */
  name(base: string): string {
    let n = base;
    for (let i = 1; this.used.has(n); i++) n = `${base}_${i}`;
    this.used.add(n);
    return n;
  }

  /** Adds a node; returns its (single) output name. */
  node(op: string, inputs: string[], base: string, attrs: Parameters<typeof attributes>[0] = {}): string {
    const out = this.name(base);
    this.nodes.push({ name: out, op_type: op, input: inputs, output: [out], attribute: attributes(attrs) });
    return out;
  }

  /** Adds a float initializer; returns its name. */
  floats(base: string, dims: readonly number[], values: Float32Array): string {
    const name = this.name(base);
    this.initializers.push(floatTensor(name, dims, values));
    return name;
  }

  /** Adds an int64 initializer; returns its name. */
  int64s(base: string, values: readonly number[]): string {
    const name = this.name(base);
    this.initializers.push(int64Tensor(name, values));
    return name;
  }

  /**
   * Applies a tfjs activation by name (`relu`, `relu6`, `mish`, …) to `x` of rank `rank`;
   * returns the output name (`x` itself for 'linear'). Throws naming an unknown activation.
   */
  activation(name: string, x: string, rank: number, base: string): string {
    switch (name) {
      case 'linear': return x;
      case 'relu': return this.node('Relu', [x], base);
      case 'relu6': return this.node('Clip', [x, this.floats(`${base}_min`, [], new Float32Array([0])), this.floats(`${base}_max`, [], new Float32Array([6]))], base);
      case 'sigmoid': return this.node('Sigmoid', [x], base);
      case 'tanh': return this.node('Tanh', [x], base);
      case 'softplus': return this.node('Softplus', [x], base);
      case 'softsign': return this.node('Softsign', [x], base);
      case 'elu': return this.node('Elu', [x], base, { alpha: { float: 1 } });
      case 'selu': return this.node('Selu', [x], base, { alpha: { float: 1.6732632423543772 }, gamma: { float: 1.0507009873554805 } });
      case 'hardSigmoid': return this.node('HardSigmoid', [x], base, { alpha: { float: 0.2 }, beta: { float: 0.5 } });
      case 'softmax': return this.node('Softmax', [x], base, { axis: rank === 4 ? 1 : rank - 1 });
      case 'swish': return this.node('Mul', [x, this.node('Sigmoid', [x], `${base}_sigmoid`)], base);
      case 'mish': return this.node('Mul', [x, this.node('Tanh', [this.node('Softplus', [x], `${base}_softplus`)], `${base}_tanh`)], base);
      case 'gelu': {
        // 0.5·x·(1 + erf(x/√2)), as tfjs computes it.
        const erf = this.node('Erf', [this.node('Div', [x, this.floats(`${base}_sqrt2`, [], new Float32Array([Math.SQRT2]))], `${base}_div`)], `${base}_erf`);
        const onePlus = this.node('Add', [erf, this.floats(`${base}_one`, [], new Float32Array([1]))], `${base}_add`);
        return this.node('Mul', [this.node('Mul', [x, onePlus], `${base}_mul`), this.floats(`${base}_half`, [], new Float32Array([0.5]))], base);
      }
      default:
        throw new Error(`activation '${name}' has no ONNX conversion (known: linear, relu, relu6, sigmoid, tanh, softplus, softsign, elu, selu, hardSigmoid, softmax, swish, mish, gelu)`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by converters.

function weightsByName(layer: tf.layers.Layer): Map<string, tf.Tensor> {
  const values = layer.getWeights();
  const out = new Map<string, tf.Tensor>();
  layer.weights.forEach((w, i) => {
    const short = w.originalName.split('/').pop() ?? w.originalName;
    out.set(short, values[i]);
  });
  return out;
}

function weight(layer: tf.layers.Layer, name: string): { values: Float32Array; shape: number[] } {
  const t = weightsByName(layer).get(name);
  if (!t) throw new Error(`layer ${layer.name}: weight '${name}' not found (has ${[...weightsByName(layer).keys()].join(', ')})`);
  return { values: Float32Array.from(t.dataSync() as Float32Array), shape: t.shape };
}

function optionalWeight(layer: tf.layers.Layer, name: string): Float32Array | null {
  const t = weightsByName(layer).get(name);
  return t ? Float32Array.from(t.dataSync() as Float32Array) : null;
}

function pair(v: unknown, what: string, layer: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0], v[1]];
  throw new Error(`layer ${layer}: ${what} must be a number or a pair, got ${JSON.stringify(v)}`);
}

function requireChannelsLast(ctx: LayerContext): void {
  const fmt = ctx.config.dataFormat;
  if (fmt !== undefined && fmt !== 'channelsLast') throw new Error(`layer ${ctx.layer.name}: dataFormat '${String(fmt)}' is not supported (channelsLast only)`);
}

function requireRank(ctx: LayerContext, rank: number): void {
  for (const v of ctx.inputs) {
    if (v.shape.length !== rank) throw new Error(`layer ${ctx.layer.name} (${ctx.layer.getClassName()}): input must have rank ${rank}, got shape [${v.shape.join(', ')}]`);
  }
}

/**
 * ONNX pads `[top, left, bottom, right]` of a 2-D window op, or `null` for auto_pad SAME_UPPER
 * (a spatial size unknown at export). TF's 'same' puts the odd pixel at the end.
 */
function spatialPads(padding: unknown, inShape: ReadonlyArray<number | null>, kernel: [number, number], strides: [number, number], dilation: [number, number], layer: string): number[] | null {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding !== 'same') throw new Error(`layer ${layer}: padding '${String(padding)}' is not supported (same, valid)`);
  const begin: number[] = [];
  const end: number[] = [];
  for (let a = 0; a < 2; a++) {
    const size = inShape[1 + a];
    if (size == null) return null;
    const k = (kernel[a] - 1) * dilation[a] + 1;
    const out = Math.ceil(size / strides[a]);
    const total = Math.max((out - 1) * strides[a] + k - size, 0);
    begin.push(Math.floor(total / 2));
    end.push(total - Math.floor(total / 2));
  }
  return [...begin, ...end];
}

function padAttrs(pads: number[] | null): { pads?: number[]; auto_pad?: string } {
  return pads === null ? { auto_pad: 'SAME_UPPER' } : { pads };
}

/** tfjs kernel `[kh, kw, in, out]` → ONNX `[out, in, kh, kw]`. */
function convKernelToOnnx(k: Float32Array, shape: number[]): Float32Array {
  const [kh, kw, cin, cout] = shape;
  const out = new Float32Array(k.length);
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let c = 0; c < cin; c++) for (let o = 0; o < cout; o++) {
    out[((o * cin + c) * kh + i) * kw + j] = k[((i * kw + j) * cin + c) * cout + o];
  }
  return out;
}

/** tfjs depthwise kernel `[kh, kw, in, mult]` → ONNX grouped `[in·mult, 1, kh, kw]` (output channel c·mult + m, as tfjs). */
function depthwiseKernelToOnnx(k: Float32Array, shape: number[]): Float32Array {
  const [kh, kw, cin, mult] = shape;
  const out = new Float32Array(k.length);
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let c = 0; c < cin; c++) for (let m = 0; m < mult; m++) {
    out[((c * mult + m) * kh + i) * kw + j] = k[((i * kw + j) * cin + c) * mult + m];
  }
  return out;
}

/** Per-channel affine `y = scale·x + shift` of an inference-mode BatchNormalization layer. */
export interface ChannelAffine {
  scale: Float64Array;
  shift: Float64Array;
}

function batchNormAffine(layer: tf.layers.Layer, config: Record<string, unknown>): ChannelAffine {
  const mean = weight(layer, 'moving_mean').values;
  const variance = weight(layer, 'moving_variance').values;
  const gamma = optionalWeight(layer, 'gamma');
  const beta = optionalWeight(layer, 'beta');
  const eps = typeof config.epsilon === 'number' ? config.epsilon : 1e-3;
  const scale = new Float64Array(mean.length);
  const shift = new Float64Array(mean.length);
  for (let c = 0; c < mean.length; c++) {
    scale[c] = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + eps);
    shift[c] = (beta ? beta[c] : 0) - mean[c] * scale[c];
  }
  return { scale, shift };
}

function checkBatchNormAxis(layer: tf.layers.Layer, config: Record<string, unknown>, rank: number): void {
  const axis = config.axis ?? -1;
  const a = typeof axis === 'number' ? (axis < 0 ? axis + rank : axis) : -1;
  if (a !== rank - 1) throw new Error(`layer ${layer.name}: BatchNormalization over axis ${JSON.stringify(axis)} is not supported (the channel axis, -1, only)`);
}

/** Scales output channels of an ONNX conv kernel `[out, …]` and its bias by a BatchNorm. */
function foldIntoOutputs(kernel: Float32Array, bias: Float32Array, outChannels: number, bn: ChannelAffine): void {
  const per = kernel.length / outChannels;
  for (let o = 0; o < outChannels; o++) {
    const s = bn.scale[o];
    for (let i = 0; i < per; i++) kernel[o * per + i] *= s;
    bias[o] = bias[o] * s + bn.shift[o];
  }
}

/** NHWC axis of a rank-`rank` tensor → the ONNX (NCHW for rank 4) axis. */
function onnxAxis(axis: number, rank: number, layer: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`layer ${layer}: axis ${axis} out of range for rank ${rank}`);
  return rank === 4 ? [0, 2, 3, 1][a] : a;
}

function toNhwc(g: OnnxGraphBuilder, v: OnnxValue, base: string): string {
  return v.shape.length === 4 ? g.node('Transpose', [v.name], `${base}_nhwc`, { perm: [0, 2, 3, 1] }) : v.name;
}

function fromNhwc(g: OnnxGraphBuilder, name: string, rank: number, base: string): string {
  return rank === 4 ? g.node('Transpose', [name], base, { perm: [0, 3, 1, 2] }) : name;
}

// ---------------------------------------------------------------------------------------------
// Converters of the built-in layers. A converter may read `pending` folds set up by the walker.

/** BatchNorm affines waiting to be folded into a layer: by layer name, 'out' (after) or 'in' (before). */
interface PendingFolds {
  out: Map<string, ChannelAffine>;
  in: Map<string, ChannelAffine>;
}

let pending: PendingFolds = { out: new Map(), in: new Map() };

function convLike(ctx: LayerContext, kind: 'conv' | 'depthwise'): OnnxValue[] {
  requireRank(ctx, 4);
  requireChannelsLast(ctx);
  const { layer, config, graph } = ctx;
  const x = ctx.inputs[0];
  const kernelSize = pair(config.kernelSize, 'kernelSize', layer.name);
  const strides = pair(config.strides ?? 1, 'strides', layer.name);
  const dilation = pair(config.dilationRate ?? 1, 'dilationRate', layer.name);
  const k = weight(layer, kind === 'conv' ? 'kernel' : 'depthwise_kernel');
  let onnxKernel: Float32Array;
  let dims: number[];
  let group = 1;
  if (kind === 'conv') {
    onnxKernel = convKernelToOnnx(k.values, k.shape);
    dims = [k.shape[3], k.shape[2], k.shape[0], k.shape[1]];
  } else {
    onnxKernel = depthwiseKernelToOnnx(k.values, k.shape);
    dims = [k.shape[2] * k.shape[3], 1, k.shape[0], k.shape[1]];
    group = k.shape[2];
  }
  const outChannels = dims[0];
  const bias = new Float32Array(outChannels);
  const b = config.useBias === false ? null : optionalWeight(layer, 'bias');
  if (b) bias.set(b);
  const bn = pending.out.get(layer.name);
  let hasBias = b !== null;
  if (bn) {
    foldIntoOutputs(onnxKernel, bias, outChannels, bn);
    hasBias = true;
  }
  const pads = spatialPads(config.padding ?? 'valid', x.shape, kernelSize, strides, dilation, layer.name);
  const inputs = [x.name, graph.floats(`${layer.name}_W`, dims, onnxKernel)];
  if (hasBias) inputs.push(graph.floats(`${layer.name}_B`, [outChannels], bias));
  const conv = graph.node('Conv', inputs, `${layer.name}_conv`, {
    kernel_shape: kernelSize, strides, dilations: dilation, group, ...padAttrs(pads),
  });
  const act = graph.activation(String(config.activation ?? 'linear'), conv, 4, layer.name);
  return [{ name: act, shape: ctx.outputShapes[0] }];
}

registerOnnxLayer('Conv2D', (ctx) => convLike(ctx, 'conv'));
registerOnnxLayer('DepthwiseConv2D', (ctx) => convLike(ctx, 'depthwise'));

registerOnnxLayer('SeparableConv2D', (ctx) => {
  requireRank(ctx, 4);
  requireChannelsLast(ctx);
  const { layer, config, graph } = ctx;
  const x = ctx.inputs[0];
  const kernelSize = pair(config.kernelSize, 'kernelSize', layer.name);
  const strides = pair(config.strides ?? 1, 'strides', layer.name);
  const dilation = pair(config.dilationRate ?? 1, 'dilationRate', layer.name);
  const dk = weight(layer, 'depthwise_kernel');
  const pk = weight(layer, 'pointwise_kernel');
  const pads = spatialPads(config.padding ?? 'valid', x.shape, kernelSize, strides, dilation, layer.name);
  const mid = dk.shape[2] * dk.shape[3];
  const depthwise = graph.node('Conv', [x.name, graph.floats(`${layer.name}_depthwise_W`, [mid, 1, dk.shape[0], dk.shape[1]], depthwiseKernelToOnnx(dk.values, dk.shape))],
    `${layer.name}_depthwise`, { kernel_shape: kernelSize, strides, dilations: dilation, group: dk.shape[2], ...padAttrs(pads) });
  const pw = convKernelToOnnx(pk.values, pk.shape);
  const outChannels = pk.shape[3];
  const bias = new Float32Array(outChannels);
  const b = config.useBias === false ? null : optionalWeight(layer, 'bias');
  if (b) bias.set(b);
  const bn = pending.out.get(layer.name);
  if (bn) foldIntoOutputs(pw, bias, outChannels, bn);
  const conv = graph.node('Conv', [depthwise, graph.floats(`${layer.name}_pointwise_W`, [outChannels, mid, 1, 1], pw), graph.floats(`${layer.name}_B`, [outChannels], bias)],
    `${layer.name}_pointwise`, { kernel_shape: [1, 1] });
  return [{ name: graph.activation(String(config.activation ?? 'linear'), conv, 4, layer.name), shape: ctx.outputShapes[0] }];
});

registerOnnxLayer('Dense', (ctx) => {
  const { layer, config, graph } = ctx;
  const x = ctx.inputs[0];
  if (x.shape.length !== 2) throw new Error(`layer ${layer.name}: Dense on a rank-${x.shape.length} input is not supported (flatten or pool to [batch, features] first)`);
  const k = weight(layer, 'kernel');
  const [nIn, nOut] = k.shape;
  const kernel = Float32Array.from(k.values);
  const bias = new Float32Array(nOut);
  const b = config.useBias === false ? null : optionalWeight(layer, 'bias');
  if (b) bias.set(b);
  const before = pending.in.get(layer.name);
  if (before) {
    // W·(s ⊙ x + t) + b = (diag(s)·W)ᵀx + (Wᵀt + b), W stored [in][out].
    for (let o = 0; o < nOut; o++) {
      let extra = 0;
      for (let i = 0; i < nIn; i++) extra += k.values[i * nOut + o] * before.shift[i];
      bias[o] += extra;
    }
    for (let i = 0; i < nIn; i++) for (let o = 0; o < nOut; o++) kernel[i * nOut + o] *= before.scale[i];
  }
  const after = pending.out.get(layer.name);
  if (after) {
    for (let i = 0; i < nIn; i++) for (let o = 0; o < nOut; o++) kernel[i * nOut + o] *= after.scale[o];
    for (let o = 0; o < nOut; o++) bias[o] = bias[o] * after.scale[o] + after.shift[o];
  }
  const gemm = graph.node('Gemm', [x.name, graph.floats(`${layer.name}_W`, [nIn, nOut], kernel), graph.floats(`${layer.name}_B`, [nOut], bias)], `${layer.name}_gemm`);
  return [{ name: graph.activation(String(config.activation ?? 'linear'), gemm, 2, layer.name), shape: ctx.outputShapes[0] }];
});

registerOnnxLayer('BatchNormalization', (ctx) => {
  const { layer, config, graph } = ctx;
  const x = ctx.inputs[0];
  const rank = x.shape.length;
  checkBatchNormAxis(layer, config, rank);
  if (rank !== 4 && rank !== 2) throw new Error(`layer ${layer.name}: BatchNormalization on rank ${rank} is not supported (2 or 4)`);
  const { scale, shift } = batchNormAffine(layer, config);
  const C = scale.length;
  // An inference BatchNormalization node with the folded affine: mean 0, variance 1 − eps.
  const eps = 1e-5;
  const out = graph.node('BatchNormalization', [
    x.name,
    graph.floats(`${layer.name}_scale`, [C], Float32Array.from(scale)),
    graph.floats(`${layer.name}_bias`, [C], Float32Array.from(shift)),
    graph.floats(`${layer.name}_mean`, [C], new Float32Array(C)),
    graph.floats(`${layer.name}_var`, [C], new Float32Array(C).fill(1 - eps)),
  ], layer.name, { epsilon: { float: eps } });
  return [{ name: out, shape: ctx.outputShapes[0] }];
});

function identity(ctx: LayerContext): OnnxValue[] {
  return [{ name: ctx.inputs[0].name, shape: ctx.outputShapes[0] }];
}
for (const cls of ['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']) registerOnnxLayer(cls, identity);

registerOnnxLayer('Activation', (ctx) => [{
  name: ctx.graph.activation(String(ctx.config.activation), ctx.inputs[0].name, ctx.inputs[0].shape.length, ctx.layer.name),
  shape: ctx.outputShapes[0],
}]);

/** lib/models' Mish layer (a custom tfjs class): x · tanh(softplus(x)). */
registerOnnxLayer('Mish', (ctx) => [{ name: ctx.graph.activation('mish', ctx.inputs[0].name, ctx.inputs[0].shape.length, ctx.layer.name), shape: ctx.outputShapes[0] }]);

registerOnnxLayer('ReLU', (ctx) => {
  const { config, graph, layer } = ctx;
  const x = ctx.inputs[0].name;
  const max = config.maxValue;
  if (max == null) return [{ name: graph.node('Relu', [x], layer.name), shape: ctx.outputShapes[0] }];
  const clip = graph.node('Clip', [x, graph.floats(`${layer.name}_min`, [], new Float32Array([0])), graph.floats(`${layer.name}_max`, [], new Float32Array([Number(max)]))], layer.name);
  return [{ name: clip, shape: ctx.outputShapes[0] }];
});

registerOnnxLayer('LeakyReLU', (ctx) => [{
  name: ctx.graph.node('LeakyRelu', [ctx.inputs[0].name], ctx.layer.name, { alpha: { float: Number(ctx.config.alpha ?? 0.3) } }),
  shape: ctx.outputShapes[0],
}]);

registerOnnxLayer('ELU', (ctx) => [{
  name: ctx.graph.node('Elu', [ctx.inputs[0].name], ctx.layer.name, { alpha: { float: Number(ctx.config.alpha ?? 1) } }),
  shape: ctx.outputShapes[0],
}]);

registerOnnxLayer('Softmax', (ctx) => {
  const rank = ctx.inputs[0].shape.length;
  const axis = onnxAxis(Number(ctx.config.axis ?? -1), rank, ctx.layer.name);
  return [{ name: ctx.graph.node('Softmax', [ctx.inputs[0].name], ctx.layer.name, { axis }), shape: ctx.outputShapes[0] }];
});

function pooling(op: 'MaxPool' | 'AveragePool') {
  return (ctx: LayerContext): OnnxValue[] => {
    requireRank(ctx, 4);
    requireChannelsLast(ctx);
    const { layer, config, graph } = ctx;
    const kernel = pair(config.poolSize ?? 2, 'poolSize', layer.name);
    const strides = pair(config.strides ?? kernel, 'strides', layer.name);
    const pads = spatialPads(config.padding ?? 'valid', ctx.inputs[0].shape, kernel, strides, [1, 1], layer.name);
    // AveragePool: TF divides by the pixels inside the image (count_include_pad 0, ONNX's default).
    const out = graph.node(op, [ctx.inputs[0].name], layer.name, { kernel_shape: kernel, strides, ...padAttrs(pads) });
    return [{ name: out, shape: ctx.outputShapes[0] }];
  };
}
registerOnnxLayer('MaxPooling2D', pooling('MaxPool'));
registerOnnxLayer('AveragePooling2D', pooling('AveragePool'));

function globalPooling(op: 'GlobalMaxPool' | 'GlobalAveragePool') {
  return (ctx: LayerContext): OnnxValue[] => {
    requireRank(ctx, 4);
    requireChannelsLast(ctx);
    const { layer, graph } = ctx;
    const pooled = graph.node(op, [ctx.inputs[0].name], `${layer.name}_pool`);
    const rank = ctx.outputShapes[0].length;
    // tfjs keeps [batch, C] (or [batch, 1, 1, C] with keepDims, which is [batch, C, 1, 1] here).
    const out = rank === 2 ? graph.node('Flatten', [pooled], layer.name, { axis: 1 }) : pooled;
    return [{ name: out, shape: ctx.outputShapes[0] }];
  };
}
registerOnnxLayer('GlobalMaxPooling2D', globalPooling('GlobalMaxPool'));
registerOnnxLayer('GlobalAveragePooling2D', globalPooling('GlobalAveragePool'));

registerOnnxLayer('Concatenate', (ctx) => {
  const rank = ctx.inputs[0].shape.length;
  const axis = onnxAxis(Number(ctx.config.axis ?? -1), rank, ctx.layer.name);
  return [{ name: ctx.graph.node('Concat', ctx.inputs.map((v) => v.name), ctx.layer.name, { axis }), shape: ctx.outputShapes[0] }];
});

function merge(op: string, variadic: string | null) {
  return (ctx: LayerContext): OnnxValue[] => {
    const { graph, layer } = ctx;
    const ranks = new Set(ctx.inputs.map((v) => v.shape.length));
    if (ranks.size !== 1) throw new Error(`layer ${layer.name} (${layer.getClassName()}): inputs of different ranks are not supported`);
    const names = ctx.inputs.map((v) => v.name);
    let out: string;
    if (names.length === 2 || !variadic) {
      out = names[0];
      for (let i = 1; i < names.length; i++) out = graph.node(op, [out, names[i]], i === names.length - 1 ? layer.name : `${layer.name}_${i}`);
    } else {
      out = graph.node(variadic, names, layer.name);
    }
    return [{ name: out, shape: ctx.outputShapes[0] }];
  };
}
registerOnnxLayer('Add', merge('Add', 'Sum'));
registerOnnxLayer('Multiply', merge('Mul', null));
registerOnnxLayer('Subtract', merge('Sub', null));
registerOnnxLayer('Maximum', merge('Max', 'Max'));
registerOnnxLayer('Minimum', merge('Min', 'Min'));
registerOnnxLayer('Average', (ctx) => [{ name: ctx.graph.node('Mean', ctx.inputs.map((v) => v.name), ctx.layer.name), shape: ctx.outputShapes[0] }]);

registerOnnxLayer('Flatten', (ctx) => {
  const x = ctx.inputs[0];
  const nhwc = toNhwc(ctx.graph, x, ctx.layer.name);
  return [{ name: ctx.graph.node('Flatten', [nhwc], ctx.layer.name, { axis: 1 }), shape: ctx.outputShapes[0] }];
});

registerOnnxLayer('Reshape', (ctx) => {
  const { graph, layer } = ctx;
  const x = ctx.inputs[0];
  const target = ctx.config.targetShape as number[];
  const nhwc = toNhwc(graph, x, layer.name);
  const reshaped = graph.node('Reshape', [nhwc, graph.int64s(`${layer.name}_shape`, [0, ...target])], `${layer.name}_reshape`);
  return [{ name: fromNhwc(graph, reshaped, target.length + 1, layer.name), shape: ctx.outputShapes[0] }];
});

registerOnnxLayer('Permute', (ctx) => {
  // tfjs' dims are 1-based over the non-batch axes of the NHWC tensor (PANNs' bn0 puts the mel
  // axis last and back): transpose the NHWC view, then return to the graph's layout.
  const { graph, layer } = ctx;
  const x = ctx.inputs[0];
  const dims = ctx.config.dims as number[];
  const nhwc = toNhwc(graph, x, layer.name);
  const moved = graph.node('Transpose', [nhwc], `${layer.name}_transpose`, { perm: [0, ...dims] });
  return [{ name: fromNhwc(graph, moved, dims.length + 1, layer.name), shape: ctx.outputShapes[0] }];
});

registerOnnxLayer('ZeroPadding2D', (ctx) => {
  requireRank(ctx, 4);
  requireChannelsLast(ctx);
  const { graph, layer } = ctx;
  const p = ctx.config.padding as [[number, number], [number, number]];
  const pads = graph.int64s(`${layer.name}_pads`, [0, 0, p[0][0], p[1][0], 0, 0, p[0][1], p[1][1]]);
  return [{ name: graph.node('Pad', [ctx.inputs[0].name, pads], layer.name, { mode: 'constant' }), shape: ctx.outputShapes[0] }];
});

// ---------------------------------------------------------------------------------------------
// The walk.

/** Layers that pass their input through unchanged at inference. */
const IDENTITY_CLASSES = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);
/** Layers a following BatchNorm folds into (their outputs are per-channel linear before the activation). */
const FOLD_INTO_OUTPUT = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Dense']);

interface GraphIndex {
  /** Layers consuming each tensor (by SymbolicTensor id). */
  consumers: Map<number, tf.layers.Layer[]>;
  /** Tensor ids that are model outputs. */
  outputs: Set<number>;
}

function soleInboundNode(layer: tf.layers.Layer): { inputs: tf.SymbolicTensor[]; outputs: tf.SymbolicTensor[] } {
  if (layer.inboundNodes.length !== 1) {
    throw new Error(`layer ${layer.name} is applied ${layer.inboundNodes.length} times (shared layers are not supported by the ONNX exporter)`);
  }
  const node = layer.inboundNodes[0];
  return { inputs: node.inputTensors, outputs: node.outputTensors };
}

function indexGraph(model: tf.LayersModel): GraphIndex {
  const consumers = new Map<number, tf.layers.Layer[]>();
  for (const layer of model.layers) {
    for (const t of soleInboundNode(layer).inputs) {
      const list = consumers.get(t.id) ?? [];
      list.push(layer);
      consumers.set(t.id, list);
    }
  }
  return { consumers, outputs: new Set(model.outputs.map((t) => t.id)) };
}

/** The only consumer of tensor `id` (null when it has several, none, or is a model output). */
function soleConsumer(index: GraphIndex, id: number): tf.layers.Layer | null {
  const list = index.consumers.get(id) ?? [];
  return list.length === 1 && !index.outputs.has(id) ? list[0] : null;
}

function activationName(layer: tf.layers.Layer): string {
  const a = (layer.getConfig() as Record<string, unknown>).activation;
  return a === undefined ? 'linear' : String(a);
}

/**
 * Plans BatchNorm folds: returns the BatchNorm layers that emit nothing (folded), and fills
 * `pending` with the affine each receiving layer applies.
 */
function planFolds(model: tf.LayersModel, index: GraphIndex): Set<string> {
  const folded = new Set<string>();
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const config = layer.getConfig() as Record<string, unknown>;
    const { inputs, outputs } = soleInboundNode(layer);
    const rank = inputs[0].shape.length;
    if (rank !== 2 && rank !== 4) continue;
    checkBatchNormAxis(layer, config, rank);
    // Backward: producer is a conv/dense with no activation, whose output only this BN reads.
    const producer = inputs[0].sourceLayer as tf.layers.Layer;
    if (FOLD_INTO_OUTPUT.has(producer.getClassName()) && activationName(producer) === 'linear' &&
        soleConsumer(index, inputs[0].id) === layer && !pending.out.has(producer.name)) {
      pending.out.set(producer.name, batchNormAffine(layer, config));
      folded.add(layer.name);
      continue;
    }
    // Forward (rank 2): BN → identity layers → Dense, each step the only consumer.
    if (rank === 2) {
      let id = outputs[0].id;
      let next = soleConsumer(index, id);
      while (next && IDENTITY_CLASSES.has(next.getClassName())) {
        id = soleInboundNode(next).outputs[0].id;
        next = soleConsumer(index, id);
      }
      if (next && next.getClassName() === 'Dense' && !pending.in.has(next.name)) {
        pending.in.set(next.name, batchNormAffine(layer, config));
        folded.add(layer.name);
      }
    }
  }
  return folded;
}

/**
 * The ONNX model of `model` (a functional or sequential tfjs LayersModel with one NHWC image
 * input and one `[batch, classes]` output). Throws naming the layer for anything unsupported.
 */
export function tfjsToOnnx(model: tf.LayersModel, options: TfjsToOnnxOptions = {}): ModelProto {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new Error(`ONNX export: the model must have one input and one output, got ${model.inputs.length} and ${model.outputs.length}`);
  }
  const inShape = model.inputs[0].shape;
  if (inShape.length !== 4) throw new Error(`ONNX export: the model input must be NHWC [batch, H, W, C], got [${inShape.join(', ')}]`);
  const outShape = model.outputs[0].shape;
  if (outShape.length !== 2 || outShape[1] == null) throw new Error(`ONNX export: the model output must be [batch, classes], got [${outShape.join(', ')}]`);
  const activation = options.activation ?? 'none';
  if (!['none', 'sigmoid', 'softmax'].includes(activation)) throw new Error(`ONNX export: activation must be none, sigmoid or softmax, got '${activation}'`);

  const graph = new OnnxGraphBuilder();
  graph.name(ONNX_INPUT_NAME);
  graph.name(ONNX_OUTPUT_NAME);
  const index = indexGraph(model);
  pending = { out: new Map(), in: new Map() };
  try {
    const folded = options.foldBatchNorm === false ? new Set<string>() : planFolds(model, index);
    const values = new Map<number, OnnxValue>();
    for (const layer of model.layers) {
      const cls = layer.getClassName();
      const { inputs, outputs } = soleInboundNode(layer);
      if (cls === 'InputLayer') {
        values.set(outputs[0].id, { name: ONNX_INPUT_NAME, shape: outputs[0].shape });
        continue;
      }
      const inValues = inputs.map((t) => {
        const v = values.get(t.id);
        if (!v) throw new Error(`internal: layer ${layer.name} reads a tensor not produced yet (${t.name})`);
        return v;
      });
      if (folded.has(layer.name)) {
        values.set(outputs[0].id, { name: inValues[0].name, shape: outputs[0].shape });
        continue;
      }
      const converter = CONVERTERS.get(cls);
      if (!converter) {
        throw new Error(`ONNX export: layer ${layer.name} of class ${cls} has no converter (supported: ${onnxLayerClasses().join(', ')}); add one with registerOnnxLayer`);
      }
      const out = converter({ layer, config: layer.getConfig() as Record<string, unknown>, inputs: inValues, outputShapes: outputs.map((t) => t.shape), graph });
      out.forEach((v, i) => values.set(outputs[i].id, v));
    }
    const last = values.get(model.outputs[0].id);
    if (!last) throw new Error('internal: the model output was never produced');
    // Name the output: an Identity when the last value is the input or an activation follows.
    const finalOp = activation === 'sigmoid' ? 'Sigmoid' : activation === 'softmax' ? 'Softmax' : 'Identity';
    const finalNode: NodeProto = { name: ONNX_OUTPUT_NAME, op_type: finalOp, input: [last.name], output: [ONNX_OUTPUT_NAME], attribute: attributes(finalOp === 'Softmax' ? { axis: 1 } : {}) };
    const renamed = graph.nodes.find((n) => n.output[0] === last.name);
    if (finalOp === 'Identity' && renamed && !graph.nodes.some((n) => n !== renamed && n.input.includes(last.name))) {
      renamed.output[0] = ONNX_OUTPUT_NAME;
    } else {
      graph.nodes.push(finalNode);
    }

    const [, H, W, C] = inShape;
    const inputDims: Dim[] = ['batch', C ?? 'channels', H ?? 'height', W ?? 'width'];
    const classes = outShape[1];
    const outputDoc = activation === 'none' ? 'logits' : `${activation} probabilities`;
    return {
      ir_version: ONNX_IR_VERSION,
      opset_import: [{ domain: '', version: ONNX_OPSET }],
      producer_name: 'fat2019-ts',
      producer_version: options.producerVersion ?? '0',
      doc_string: `Exported from the tfjs model '${model.name}'. Input NCHW [batch, channels, mel bands, frames], values 0..1 (the log-mel image / 255, repeated on every channel); output [batch, ${classes}] ${outputDoc}.`,
      graph: {
        name: options.graphName ?? model.name,
        node: graph.nodes,
        initializer: graph.initializers,
        input: [valueInfo(ONNX_INPUT_NAME, inputDims, 'NCHW: [batch, channels, mel bands, frames], 0..1')],
        output: [valueInfo(ONNX_OUTPUT_NAME, ['batch', classes], outputDoc)],
      },
      metadata_props: Object.entries({ ...(options.metadata ?? {}), 'fat2019.input_layout': 'NCHW', 'fat2019.output': activation === 'none' ? 'logits' : activation })
        .map(([key, value]) => ({ key, value })),
    };
  } finally {
    pending = { out: new Map(), in: new Map() };
  }
}
