/**
 * Building blocks shared by the PyTorch-style families (ResNet, MobileNetV2, XResNet, the
 * 7th-place CNN): convolutions padded as PyTorch pads them, BatchNorm, activations (Mish is a
 * serialisable custom layer so saved models load again), residual additions.
 */
import * as tf from '@tensorflow/tfjs';
import { batchNorm } from './head';

type Sym = tf.SymbolicTensor;

/**
 * Mish (Misra 2019): x · tanh(softplus(x)), fastai's `Mish`. Registered with tfjs'
 * serialisation so `model.json` files that use it load (importing lib/models registers it).
 */
export class Mish extends tf.layers.Layer {
  static className = 'Mish';

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return tf.tidy(() => tf.mul(x, tf.tanh(tf.softplus(x))));
  }
}
tf.serialization.registerClass(Mish);

export type Activation = 'relu' | 'relu6' | 'mish';

/** The activation layer named `name`. */
export function activation(x: Sym, kind: Activation, name: string): Sym {
  if (kind === 'mish') return new Mish({ name }).apply(x) as Sym;
  return tf.layers.reLU({ name, maxValue: kind === 'relu6' ? 6 : undefined }).apply(x) as Sym;
}

export interface ConvOptions {
  filters: number;
  kernel: number;
  stride?: number;
  /** Bias (PyTorch `bias=True`); default false, as before a BatchNorm. */
  bias?: boolean;
}

/**
 * A k×k convolution padded as PyTorch's `padding=k//2`. With stride 1 that is tfjs' 'same';
 * with stride 2 'same' would pad only after the input (TF convention), shifting every window
 * by one pixel against PyTorch, so the input is zero-padded k//2 on all sides first.
 */
export function conv(x: Sym, o: ConvOptions, name: string): Sym {
  const stride = o.stride ?? 1;
  const pad = Math.floor(o.kernel / 2);
  let input = x;
  if (stride > 1 && pad > 0) {
    input = tf.layers.zeroPadding2d({ name: `${name}_pad`, padding: pad }).apply(x) as Sym;
  }
  return tf.layers.conv2d({
    name, filters: o.filters, kernelSize: o.kernel, strides: stride,
    padding: stride > 1 && pad > 0 ? 'valid' : 'same', useBias: o.bias ?? false, kernelInitializer: 'zeros',
  }).apply(input) as Sym;
}

/** Depthwise k×k convolution (groups = channels), padded as PyTorch's `padding=k//2`, no bias. */
export function depthwiseConv(x: Sym, kernel: number, stride: number, name: string): Sym {
  const pad = Math.floor(kernel / 2);
  let input = x;
  if (stride > 1 && pad > 0) input = tf.layers.zeroPadding2d({ name: `${name}_pad`, padding: pad }).apply(x) as Sym;
  return tf.layers.depthwiseConv2d({
    name, kernelSize: kernel, strides: stride, depthMultiplier: 1,
    padding: stride > 1 && pad > 0 ? 'valid' : 'same', useBias: false, depthwiseInitializer: 'zeros',
  }).apply(input) as Sym;
}

/** conv → BatchNorm → activation (none when `act` is null): fastai's `ConvLayer`. */
export function convBnAct(x: Sym, o: ConvOptions, act: Activation | null, name: string): Sym {
  let y = conv(x, o, `${name}_conv`);
  y = batchNorm(`${name}_bn`).apply(y) as Sym;
  return act ? activation(y, act, `${name}_act`) : y;
}

/**
 * 3×3 max pool, stride 2, PyTorch padding 1. Padding with zeros instead of −∞ is exact after
 * ReLU (inputs ≥ 0); after Mish (≥ −0.31) a window of only negative values at the border
 * gives 0 instead of its maximum, a small, documented difference.
 */
export function maxPool3s2(x: Sym, name: string): Sym {
  const padded = tf.layers.zeroPadding2d({ name: `${name}_pad`, padding: 1 }).apply(x) as Sym;
  return tf.layers.maxPooling2d({ name, poolSize: 3, strides: 2, padding: 'valid' }).apply(padded) as Sym;
}

/** Element-wise sum of the residual branch and the shortcut. */
export function add(a: Sym, b: Sym, name: string): Sym {
  return tf.layers.add({ name }).apply([a, b]) as Sym;
}

/** Global average pool → (dropout) → Dense: the classifier of torchvision/fastai networks. */
export function poolLinearHead(x: Sym, numClasses: number, dropout: number, name = 'head'): Sym {
  let y = tf.layers.globalAveragePooling2d({ name: `${name}_avgpool` }).apply(x) as Sym;
  if (dropout > 0) y = tf.layers.dropout({ name: `${name}_drop`, rate: dropout }).apply(y) as Sym;
  return tf.layers.dense({ name: `${name}_fc`, units: numClasses, kernelInitializer: 'zeros' }).apply(y) as Sym;
}
