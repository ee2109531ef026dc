/// <reference lib="dom" />
// (tslab compiles notebook imports without the DOM lib; this file uses WebAssembly/Blob types.)
/**
 * Calling registered wasm kernels from inside other kernels.
 *
 * A kernel composed of other kernels must not go through `tf.*` ops (those would be taped and
 * tracked by the engine); it calls the kernel functions directly on `TensorInfo`s and frees
 * every intermediate with `backend.disposeData`. Kernels that return a view of their input
 * (Reshape, some Transposes) bump the input's reference count, so disposing the view is
 * always right.
 */
import * as tf from '@tensorflow/tfjs';
import { convForwardC } from './conv2dForward';
import { heapF32, type WasmBackendLike } from './wasmBackend';

type Attrs = Record<string, unknown>;

/** Runs the kernel registered for (name, 'wasm') and returns its single output. */
function runWasmKernel(
  name: string,
  inputs: Record<string, tf.TensorInfo>,
  attrs: Attrs,
  backend: WasmBackendLike,
): tf.TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`wasm kernel ${name} is not registered`);
  const out = kernel.kernelFunc({
    inputs: inputs as tf.NamedTensorInfoMap,
    attrs: attrs as unknown as tf.NamedAttrMap,
    backend: backend as unknown as tf.KernelBackend,
  });
  return Array.isArray(out) ? out[0] : out;
}

/** Small typed wrappers, each returning a new TensorInfo the caller must dispose. */
export class WasmOps {
  private readonly live: tf.TensorInfo[] = [];

  constructor(readonly backend: WasmBackendLike) {}

  /** Frees every intermediate made through this object except `keep`. */
  disposeAllBut(keep: tf.TensorInfo): void {
    for (const t of this.live) if (t !== keep) this.backend.disposeData(t.dataId);
    this.live.length = 0;
  }

  private track(t: tf.TensorInfo): tf.TensorInfo {
    this.live.push(t);
    return t;
  }

  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    return this.track(runWasmKernel('Transpose', { x }, { perm }, this.backend));
  }

  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.track(runWasmKernel('Reshape', { x }, { shape }, this.backend));
  }

  reverse(x: tf.TensorInfo, dims: number[]): tf.TensorInfo {
    return this.track(runWasmKernel('Reverse', { x }, { dims }, this.backend));
  }

  /**
   * A filter [fh, fw, Ci, Co] rotated by 180° in space (both spatial axes reversed). The taps
   * are contiguous blocks of Ci·Co floats, so this is fh·fw block copies; the stock Reverse
   * kernel goes element by element (≈85 ms for 3×3×512×512 vs ≈2 ms here).
   */
  flipSpatial(filter: tf.TensorInfo): tf.TensorInfo {
    const [fh, fw, ci, co] = filter.shape;
    const out = this.track(this.backend.makeOutput([fh, fw, ci, co], 'float32'));
    const src = heapF32(this.backend, filter);
    const dst = heapF32(this.backend, out);
    const block = ci * co;
    const taps = fh * fw;
    for (let t = 0; t < taps; t++) dst.set(src.subarray(t * block, (t + 1) * block), (taps - 1 - t) * block);
    return out;
  }

  pad(x: tf.TensorInfo, paddings: Array<[number, number]>): tf.TensorInfo {
    return this.track(runWasmKernel('PadV2', { x }, { paddings, constantValue: 0 }, this.backend));
  }

  slice(x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
    return this.track(runWasmKernel('Slice', { x }, { begin, size }, this.backend));
  }

  /** NHWC depthwise convolution (filter [fh, fw, C, m]) with explicit padding [top, bottom, left, right]. */
  depthwiseConv2d(x: tf.TensorInfo, filter: tf.TensorInfo, strides: Pair, dilations: Pair, pads: Pads): tf.TensorInfo {
    return this.convKernel('DepthwiseConv2dNative', x, filter, strides, dilations, pads);
  }

  /** NHWC forward convolution with explicit padding [top, bottom, left, right]. */
  conv2d(x: tf.TensorInfo, filter: tf.TensorInfo, strides: Pair, dilations: Pair, pads: Pads): tf.TensorInfo {
    // The project's C kernel where it applies (dilation 1), else the registered Conv2D.
    const c = dilations[0] === 1 && dilations[1] === 1 ? convForwardC(this.backend, x, filter, null, strides, pads, false) : null;
    return c ? this.track(c) : this.convKernel('Conv2D', x, filter, strides, dilations, pads);
  }

  /** A registered NHWC convolution kernel with explicit padding. */
  private convKernel(name: string, x: tf.TensorInfo, filter: tf.TensorInfo, strides: Pair, dilations: Pair, pads: Pads): tf.TensorInfo {
    const pad = [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]];
    return this.track(runWasmKernel(name, { x, filter }, {
      strides, dilations, pad, dataFormat: 'NHWC', dimRoundingMode: undefined,
    }, this.backend));
  }
}

type Pair = [number, number];
/** Padding [top, bottom, left, right]. */
type Pads = [number, number, number, number];

/** [strideH, strideW] from a number or pair. */
export function pair(v: number | [number, number] | number[]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}
