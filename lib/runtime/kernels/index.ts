/**
 * Registers the training kernels the project adds to tfjs (see conv2dGrads.ts, depthwiseGrads.ts,
 * batchNormGrad.ts, maxPoolGrad.ts).
 * Registration is global to the one tfjs-core instance and idempotent: a second call (or a
 * second copy of this module, as notebooks may load) finds the markers and does nothing.
 */
import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilterWasm, makeConv2dBackpropInputWasm } from './conv2dGrads';
import { depthwiseBackpropFilterWasm, depthwiseBackpropInputWasm } from './depthwiseGrads';
import { makeDepthwiseConv2dWasm, makeFusedDepthwiseConv2DWasm } from './depthwiseForward';
import { fusedBatchNormGradConfig } from './batchNormGrad';
import { makeLeadingReduceWasm } from './reduce';
import { installBatchNormTraining, uninstallBatchNormTraining, registerBatchNormTrainKernels } from './batchNormTraining';
import { makeAvgPoolGradWasm } from './avgPoolGrad';
import { maxPoolGradWasm } from './maxPoolGrad';
import { makeIdentityWasm, makeEqualWasm, makeCastWasm } from './identityEqual';
import { registerAdamWKernel } from './adamwKernel';
import { makeConv2DWasm, makeFusedConv2DWasm } from './conv2dForward';
import { registerReluGradKernel, reluGradConfig } from './reluGrad';
import { registerClipGradKernel, clipGradConfig, makeClipByValueWasm } from './clipGrad';
import { makePadWasm, makeSliceWasm } from './padSlice';
import { makeAvgPoolWasm, makeMaxPoolWasm } from './poolForward';
import { makeUnaryWasm } from './unary';
import { makeBatchMatMulWasm, makeFusedMatMulWasm } from './matMul';
import { meanGradConfig, registerMeanGradKernel } from './meanGrad';

export { conv2dBackpropFilterWasm, makeConv2dBackpropInputWasm } from './conv2dGrads';
export { depthwiseBackpropFilterWasm, depthwiseBackpropInputWasm } from './depthwiseGrads';
export { fusedBatchNormGradConfig } from './batchNormGrad';
export { makeLeadingReduceWasm, leadingAxesCount, columnSums } from './reduce';
export { makeAvgPoolGradWasm } from './avgPoolGrad';
export { maxPoolGradWasm } from './maxPoolGrad';
export { makeIdentityWasm, makeEqualWasm, makeCastWasm } from './identityEqual';
export { batchNormTraining, installBatchNormTraining, uninstallBatchNormTraining } from './batchNormTraining';

/** Which custom kernels/gradients to install; all on by default. */
export interface CustomKernelOptions {
  conv2dBackpropFilter?: boolean;
  conv2dBackpropInput?: boolean;
  /** wasm `DepthwiseConv2dNativeBackpropFilter`/`Input` (absent from tfjs-backend-wasm 4.22). */
  depthwiseGrads?: boolean;
  /** wasm `DepthwiseConv2dNative`/`FusedDepthwiseConv2D` through the project's C kernel where it applies (./depthwiseForward). */
  depthwiseForward?: boolean;
  batchNormGrad?: boolean;
  /** wasm `Sum`/`Mean` over leading axes without a transpose (batch-norm statistics). */
  reductions?: boolean;
  /** wasm `AvgPoolGrad` for 2×2 / stride-2 windows in one JS pass (./avgPoolGrad). */
  avgPoolGrad?: boolean;
  /** wasm `MaxPoolGrad` that routes dy to each window's first maximum, as cpu (the stock one misroutes all-negative windows; ./maxPoolGrad). */
  maxPoolGrad?: boolean;
  /** BatchNormalization layers train through one op with a closed-form gradient (./batchNormTraining). */
  batchNormTraining?: boolean;
  /** wasm `Identity` sharing its input's data instead of copying it (./identityEqual). */
  identity?: boolean;
  /** wasm `Cast` to the same dtype (Identity's gradient) sharing its input's data (./identityEqual). */
  cast?: boolean;
  /** wasm `Equal` for broadcasting float32 operands without the stock per-element index loop (./identityEqual). */
  equal?: boolean;
  /** wasm `Conv2D`/`FusedConv2D` through the project's C kernel where it applies (./conv2dForward). */
  convForward?: boolean;
  /** `Relu` gradient in one wasm kernel instead of Step, Cast and Multiply (./reluGrad). */
  reluGrad?: boolean;
  /** `ClipByValue` gradient (ReLU6) in one wasm kernel instead of four comparisons and a select (./clipGrad). */
  clipGrad?: boolean;
  /** wasm `ClipByValue` (ReLU6's forward) by a C kernel with the helper thread (./clipGrad). */
  clipForward?: boolean;
  /** wasm `PadV2` and `Slice` as C row copies (./padSlice). */
  padSlice?: boolean;
  /** wasm `AvgPool`/`MaxPool` returning an empty output instead of calling XNNPACK, which writes out of bounds there; `MaxPool`, and `AvgPool` of at most 9 pixels, in C (./poolForward). */
  emptyPools?: boolean;
  /** wasm `Relu`, `Neg`, `Abs` on float32 in C on the calling thread instead of XNNPACK's thread pool (./unary). */
  unary?: boolean;
  /** wasm `BatchMatMul`/`_FusedMatMul` on float32 in C on the calling thread instead of XNNPACK's thread pool (./matMul). */
  matMul?: boolean;
  /** `Mean` gradient over consecutive axes in one wasm kernel instead of Fill, a broadcasting Multiply and RealDiv (./meanGrad). */
  meanGrad?: boolean;
}

/** A wasm kernel the project registers in place of (or beside) tfjs' own. */
interface KernelEntry {
  kernel: string;
  /** The function to register, given the stock one (undefined where tfjs has none). */
  make: (stock: tf.KernelFunc | undefined) => unknown;
  /** Installed only where a stock kernel is registered (the wasm backend is loaded). */
  needsStock: boolean;
  /** restoreStockKernels leaves it (wasm has no stock kernel training could use instead). */
  keep?: boolean;
}
/** A gradient the project registers in place of tfjs' own. */
interface GradientEntry {
  gradient: tf.GradConfig;
  /** Registers the kernel the gradient calls (a new kernel name). */
  setup?: () => void;
}
/** Something that is not a kernel: the BatchNormalization layer's training path. */
interface LayerEntry {
  layer: string;
  install: () => void;
  uninstall: () => void;
}
/** One line of the table: the option that turns it on (all on by default) and what it installs. */
type CustomKernel = { option: keyof CustomKernelOptions } & (KernelEntry | GradientEntry | LayerEntry);

const always = (f: unknown) => () => f;

/**
 * Every custom kernel, gradient and layer, in the order they are installed. registerCustomKernels,
 * restoreStockKernels and installedCustomKernels all read this one table.
 */
const CUSTOM_KERNELS: CustomKernel[] = [
  { option: 'conv2dBackpropFilter', kernel: 'Conv2DBackpropFilter', make: always(conv2dBackpropFilterWasm), needsStock: false, keep: true },
  { option: 'conv2dBackpropInput', kernel: 'Conv2DBackpropInput', make: makeConv2dBackpropInputWasm, needsStock: false },
  { option: 'depthwiseGrads', kernel: 'DepthwiseConv2dNativeBackpropFilter', make: always(depthwiseBackpropFilterWasm), needsStock: false, keep: true },
  { option: 'depthwiseGrads', kernel: 'DepthwiseConv2dNativeBackpropInput', make: always(depthwiseBackpropInputWasm), needsStock: false, keep: true },
  { option: 'depthwiseForward', kernel: 'DepthwiseConv2dNative', make: (stock) => makeDepthwiseConv2dWasm(stock!), needsStock: true },
  { option: 'depthwiseForward', kernel: 'FusedDepthwiseConv2D', make: (stock) => makeFusedDepthwiseConv2DWasm(stock!), needsStock: true },
  { option: 'reductions', kernel: 'Sum', make: (stock) => makeLeadingReduceWasm('Sum', stock!), needsStock: true },
  { option: 'reductions', kernel: 'Mean', make: (stock) => makeLeadingReduceWasm('Mean', stock!), needsStock: true },
  { option: 'batchNormGrad', gradient: fusedBatchNormGradConfig },
  { option: 'avgPoolGrad', kernel: 'AvgPoolGrad', make: (stock) => makeAvgPoolGradWasm(stock!), needsStock: true },
  { option: 'maxPoolGrad', kernel: 'MaxPoolGrad', make: always(maxPoolGradWasm), needsStock: true },
  { option: 'reluGrad', gradient: reluGradConfig, setup: registerReluGradKernel },
  { option: 'clipGrad', gradient: clipGradConfig, setup: registerClipGradKernel },
  { option: 'clipForward', kernel: 'ClipByValue', make: (stock) => makeClipByValueWasm(stock!), needsStock: true },
  { option: 'meanGrad', gradient: meanGradConfig, setup: registerMeanGradKernel },
  { option: 'padSlice', kernel: 'PadV2', make: (stock) => makePadWasm(stock!), needsStock: true },
  { option: 'padSlice', kernel: 'Slice', make: (stock) => makeSliceWasm(stock!), needsStock: true },
  { option: 'emptyPools', kernel: 'AvgPool', make: (stock) => makeAvgPoolWasm(stock!), needsStock: true },
  { option: 'emptyPools', kernel: 'MaxPool', make: (stock) => makeMaxPoolWasm(stock!), needsStock: true },
  { option: 'identity', kernel: 'Identity', make: (stock) => makeIdentityWasm(stock!), needsStock: true },
  { option: 'cast', kernel: 'Cast', make: (stock) => makeCastWasm(stock!), needsStock: true },
  { option: 'equal', kernel: 'Equal', make: (stock) => makeEqualWasm(stock!), needsStock: true },
  { option: 'convForward', kernel: 'Conv2D', make: (stock) => makeConv2DWasm(stock!), needsStock: true },
  { option: 'convForward', kernel: 'FusedConv2D', make: (stock) => makeFusedConv2DWasm(stock!), needsStock: true },
  { option: 'unary', kernel: 'Relu', make: (stock) => makeUnaryWasm('Relu', stock!), needsStock: true },
  { option: 'unary', kernel: 'Neg', make: (stock) => makeUnaryWasm('Neg', stock!), needsStock: true },
  { option: 'unary', kernel: 'Abs', make: (stock) => makeUnaryWasm('Abs', stock!), needsStock: true },
  { option: 'matMul', kernel: 'BatchMatMul', make: (stock) => makeBatchMatMulWasm(stock!), needsStock: true },
  { option: 'matMul', kernel: '_FusedMatMul', make: (stock) => makeFusedMatMulWasm(stock!), needsStock: true },
  // The layer's C forward/backward kernels (wasm; used only when WebAssembly SIMD runs them).
  { option: 'batchNormTraining', layer: 'BatchNormalization',
    install: () => { registerBatchNormTrainKernels(); installBatchNormTraining(); }, uninstall: uninstallBatchNormTraining },
];

/** The name an entry has in BackendInfo.customKernels. */
function installedName(e: CustomKernel): string {
  if ('kernel' in e) return `wasm:${e.kernel}`;
  if ('gradient' in e) return `grad:${e.gradient.kernelName}`;
  return `layers:${e.layer}`;
}

interface KernelState {
  installed: Set<string>;
  /** What each installed name replaced (tfjs' own kernel or gradient), to put back. */
  stock: Map<string, tf.KernelConfig | tf.GradConfig>;
}

const STATE_KEY = Symbol.for('fat2019.customKernels.state');

function state(): KernelState {
  const g = globalThis as Record<symbol, unknown>;
  if (!g[STATE_KEY]) g[STATE_KEY] = { installed: new Set<string>(), stock: new Map() } satisfies KernelState;
  return g[STATE_KEY] as KernelState;
}

/** Names (as listed in BackendInfo.customKernels) of what is installed now. */
export function installedCustomKernels(): string[] {
  return [...state().installed].sort();
}

/**
 * Installs the custom kernels, gradients and layer the options leave on (all by default). Call
 * it after the wasm backend is initialised: the kernels that wrap a stock wasm kernel (kept as
 * their fallback) are installed only where it is registered. Returns the names installed.
 */
export function registerCustomKernels(options: CustomKernelOptions = {}): string[] {
  const st = state();
  for (const e of CUSTOM_KERNELS) {
    const name = installedName(e);
    if (!(options[e.option] ?? true) || st.installed.has(name)) continue;
    if ('kernel' in e) {
      const stock = (st.stock.get(name) as tf.KernelConfig | undefined) ?? tf.getKernel(e.kernel, 'wasm');
      if (e.needsStock && !stock) continue;
      if (stock) {
        st.stock.set(name, stock);
        tf.unregisterKernel(e.kernel, 'wasm');
      }
      tf.registerKernel({ kernelName: e.kernel, backendName: 'wasm', kernelFunc: e.make(stock?.kernelFunc) as tf.KernelFunc });
    } else if ('gradient' in e) {
      e.setup?.();
      const stock = tf.getGradient(e.gradient.kernelName);
      if (stock) st.stock.set(name, stock);
      tf.registerGradient(e.gradient);
    } else {
      e.install();
    }
    st.installed.add(name);
  }
  // The fused AdamW update (a new kernel name; used by lib/train/adamw.ts only where registered).
  registerAdamWKernel();
  return installedCustomKernels();
}

/**
 * Puts back tfjs' own kernels, gradients and layer (for A/B benchmarks and tests); `which`
 * names what stays custom with `false`. The conv filter and depthwise gradients stay: wasm has
 * no stock kernel and training needs one.
 */
export function restoreStockKernels(which: Omit<CustomKernelOptions, 'conv2dBackpropFilter' | 'depthwiseGrads'> = {}): void {
  const st = state();
  for (const e of [...CUSTOM_KERNELS].reverse()) {
    const name = installedName(e);
    if (('kernel' in e && e.keep) || !((which as CustomKernelOptions)[e.option] ?? true) || !st.installed.has(name)) continue;
    if ('layer' in e) {
      e.uninstall();
    } else {
      const stock = st.stock.get(name);
      if (!stock) continue;
      if ('kernel' in e) {
        tf.unregisterKernel(e.kernel, 'wasm');
        tf.registerKernel(stock as tf.KernelConfig);
      } else {
        tf.registerGradient(stock as tf.GradConfig);
      }
    }
    st.installed.delete(name);
  }
}
