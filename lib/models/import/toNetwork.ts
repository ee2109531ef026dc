/**
 * Puts a PyTorch checkpoint's weights into the project's network (lib/models), matching layers by
 * kind and shape in forward order, never by name (the author's module names are unknown).
 *
 * PyTorch → tfjs layouts: Conv2d weight `[O, I, kh, kw]` → kernel `[kh, kw, I, O]` (NCHW → NHWC);
 * Linear weight `[out, in]` → kernel `[in, out]`; BatchNorm weight, bias, running_mean,
 * running_var → gamma, beta, moving mean, moving variance. The head's first BatchNorm sees
 * concat(max, avg) in both (fastai AdaptiveConcatPool2d = lib/models/head), so its weights
 * map one to one.
 */
import * as tf from '@tensorflow/tfjs';
import type { Architecture, ModelConfig } from '../../config';
import { MODEL_DEFAULTS } from '../../config';
import { tensorToFloat32, type TorchTensor } from '../../io/torchFile';
import { BN_EPSILON } from '../head';
import { getArchitecture, validateModelConfig } from '../index';
import type { TorchCheckpoint, TorchLayer } from './torchCheckpoint';
import { PANNS_VARIANTS } from '../panns';
import { isPannsArchitecture, pannsFromCheckpoint } from './panns';

/** First conv's output channels at width 1 (both architectures start with 64). */
const FIRST_CONV_WIDTH = 64;

/**
 * The architectures a checkpoint can be imported into (those of the reference), with the pooling
 * modules each may contain in a module tree; any other pooling changes the network.
 */
const POOLINGS: Record<string, RegExp> = {
  cnnModel1: /^(AvgPool2d|AdaptiveConcatPool2d)$/,
  vgg16bn: /^(MaxPool2d|AdaptiveConcatPool2d)$/,
};

interface NetworkLayer {
  kind: 'conv2d' | 'batchnorm' | 'linear';
  layer: tf.layers.Layer;
  /** Expected PyTorch shapes of weight (and bias / running stats). */
  weightShape: number[];
}

const shapeText = (s: readonly number[]): string => `[${s.join(', ')}]`;

function networkLayers(model: tf.LayersModel): NetworkLayer[] {
  const out: NetworkLayer[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const w = layer.getWeights();
    if (cls === 'Conv2D') {
      const [kh, kw, i, o] = w[0].shape;
      out.push({ kind: 'conv2d', layer, weightShape: [o, i, kh, kw] });
    } else if (cls === 'BatchNormalization') {
      out.push({ kind: 'batchnorm', layer, weightShape: [w[0].shape[0]] });
    } else if (cls === 'Dense') {
      const [i, o] = w[0].shape;
      out.push({ kind: 'linear', layer, weightShape: [o, i] });
    } else if (w.length > 0) {
      throw new Error(`internal: layer ${layer.name} (${cls}) has weights the import does not set`);
    }
  }
  return out;
}

function describeTorch(l: TorchLayer): string {
  const w = l.tensors.get('weight');
  return `${l.className || l.kind} '${l.path}' weight ${w ? shapeText(w.shape) : '(none)'}`;
}

function kindCounts(kinds: string[]): string {
  const counts = new Map<string, number>();
  for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
}

/** Architectures {@link networkFromCheckpoint} imports into: the reference's (by layer order) and PANNs (by state_dict name, ./panns). */
export const IMPORTABLE_ARCHITECTURES: readonly string[] = [...Object.keys(POOLINGS), ...Object.keys(PANNS_VARIANTS)];

/**
 * The network's width multiplier, head units and class count implied by the checkpoint's first
 * conv and last linear (fastai head: Linear(headUnits → classes) last).
 */
function inferShape(ckpt: TorchCheckpoint, source: string): { widthMultiplier: number; headUnits: number; numClasses: number } {
  const firstConv = ckpt.layers.find((l) => l.kind === 'conv2d');
  const lastLinear = [...ckpt.layers].reverse().find((l) => l.kind === 'linear');
  if (!firstConv || !lastLinear) {
    throw new Error(`${source}: no ${!firstConv ? 'Conv2d' : 'Linear'} layer found (${kindCounts(ckpt.layers.map((l) => l.kind))}): not CNN-model-1 or VGG16-BN`);
  }
  const [numClasses, headUnits] = lastLinear.tensors.get('weight')!.shape;
  return { widthMultiplier: firstConv.tensors.get('weight')!.shape[0] / FIRST_CONV_WIDTH, headUnits, numClasses };
}

/**
 * The first difference between the checkpoint's layers and the network's, as a message, or
 * null when they match (same kinds and shapes in the same order, standard conv/BN settings).
 */
function firstDifference(ckpt: TorchCheckpoint, net: NetworkLayer[], arch: Architecture): string | null {
  if (ckpt.poolings) {
    const odd = ckpt.poolings.find((p) => !POOLINGS[arch].test(p.className));
    if (odd) return `module '${odd.path}' is a ${odd.className}, which ${arch} does not have (a different network, or a torchvision ≥ 0.3 VGG body with its 7×7 average pool?)`;
  }
  const n = Math.max(ckpt.layers.length, net.length);
  for (let i = 0; i < n; i++) {
    const t = ckpt.layers[i];
    const m = net[i];
    const at = `parametric layer ${i + 1}`;
    if (!t) return `${at}: the file has no more layers, ${arch} expects ${m.kind} '${m.layer.name}' weight ${shapeText(m.weightShape)}`;
    if (!m) return `${at}: the file has ${describeTorch(t)}, ${arch} has no more layers`;
    const w = t.tensors.get('weight');
    if (t.kind !== m.kind || !w || shapeText(w.shape) !== shapeText(m.weightShape)) {
      return `${at}: the file has ${describeTorch(t)}, ${arch} expects ${m.kind} '${m.layer.name}' weight ${shapeText(m.weightShape)}`;
    }
    const needs = m.kind === 'batchnorm' ? ['bias', 'running_mean', 'running_var'] : ['bias'];
    for (const name of needs) {
      const x = t.tensors.get(name);
      const size = m.kind === 'conv2d' || m.kind === 'linear' ? m.weightShape[0] : m.weightShape[0];
      if (!x || x.numel !== size) return `${at}: ${describeTorch(t)} has ${x ? `${name} of ${x.numel} values` : `no ${name}`}, ${arch} needs ${size}`;
    }
    const extra = [...t.tensors.keys()].filter((k) => k !== 'weight' && !needs.includes(k));
    if (extra.length > 0) return `${at}: ${describeTorch(t)} has extra tensors (${extra.join(', ')}) ${arch} does not use`;
    const a = t.attrs;
    if (m.kind === 'conv2d') {
      const bad = (v: number[] | undefined, want: number) => v !== undefined && v.some((x) => x !== want);
      if (bad(a.stride, 1) || bad(a.padding, 1) || bad(a.dilation, 1) || (a.groups !== undefined && a.groups !== 1)) {
        return `${at}: ${describeTorch(t)} has stride ${a.stride}, padding ${a.padding}, dilation ${a.dilation}, groups ${a.groups}; ${arch} uses 1, 1, 1, 1`;
      }
    }
    if (m.kind === 'batchnorm' && a.eps !== undefined && Math.abs(a.eps - BN_EPSILON) > 1e-12) {
      return `${at}: ${describeTorch(t)} has eps ${a.eps}, ${arch} uses ${BN_EPSILON}`;
    }
  }
  return null;
}

function tensor(t: TorchTensor, shape?: number[]): tf.Tensor {
  return tf.tensor(tensorToFloat32(t), shape ?? t.shape, 'float32');
}

/** Options of {@link networkFromCheckpoint}. */
export interface NetworkFromCheckpointOptions {
  /** Model config fields to keep (input size, dropout); arch, width and classes come from the file. */
  base?: Partial<ModelConfig>;
}

/**
 * Builds `arch` at the checkpoint's width and class count and loads its weights. Throws an Error
 * naming `source` and the first differing layer when the checkpoint is not that network.
 */
export function networkFromCheckpoint(
  ckpt: TorchCheckpoint, arch: Architecture, source: string, options: NetworkFromCheckpointOptions = {},
): { model: tf.LayersModel; config: ModelConfig } {
  if (isPannsArchitecture(arch)) return pannsFromCheckpoint(ckpt, arch, source, options.base);
  if (!POOLINGS[arch]) throw new Error(`${source}: importing into ${arch} is not supported (only ${IMPORTABLE_ARCHITECTURES.join(', ')})`);
  const { widthMultiplier, headUnits, numClasses } = inferShape(ckpt, source);
  const config: ModelConfig = {
    ...MODEL_DEFAULTS, ...options.base, arch, widthMultiplier, headUnits, numClasses, inputNormalization: ckpt.normalization,
  };
  validateModelConfig(config);
  // placeholder weights: every one is replaced below, so no initialisation is drawn
  const model = getArchitecture(arch).build(config);
  try {
    const net = networkLayers(model);
    const diff = firstDifference(ckpt, net, arch);
    if (diff) {
      throw new Error(`${source}: not ${arch} (width ${widthMultiplier}, ${headUnits} head units, ${numClasses} classes): ${diff}. ` +
        `The file has ${kindCounts(ckpt.layers.map((l) => l.kind))}; ${arch} has ${kindCounts(net.map((l) => l.kind))}.`);
    }
    net.forEach((m, i) => {
      const t = ckpt.layers[i].tensors;
      const weights = tf.tidy(() => {
        if (m.kind === 'conv2d') return [tensor(t.get('weight')!).transpose([2, 3, 1, 0]), tensor(t.get('bias')!)];
        if (m.kind === 'linear') return [tensor(t.get('weight')!).transpose([1, 0]), tensor(t.get('bias')!)];
        return ['weight', 'bias', 'running_mean', 'running_var'].map((k) => tensor(t.get(k)!, [m.weightShape[0]]));
      });
      m.layer.setWeights(weights);
      tf.dispose(weights);
    });
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, config };
}
