/**
 * Registers the training kernels the project adds to tfjs (see conv2dGrads.ts, depthwiseGrads.ts,
 * batchNormGrad.ts, maxPoolGrad.ts).
 * Registration is global to the one tfjs-core instance and idempotent: a second call (or a
 * second copy of this module, as notebooks may load) finds the markers and does nothing.
 */
import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilterWasm, makeConv2dBackpropInputWasm } from './conv2dGrads';
import { depthwiseBackpropFilterWasm, depthwiseBackpropInputWasm } from './depthwiseGrads';
import { fusedBatchNormGradConfig } from './batchNormGrad';
import { makeLeadingReduceWasm } from './reduce';
import { installBatchNormTraining, uninstallBatchNormTraining, registerBatchNormTrainKernels } from './batchNormTraining';
import { makeAvgPoolGradWasm } from './avgPoolGrad';
import { maxPoolGradWasm } from './maxPoolGrad';
import { makeIdentityWasm, makeEqualWasm } from './identityEqual';
import { registerAdamWKernel } from './adamwKernel';
import { makeConv2DWasm, makeFusedConv2DWasm } from './conv2dForward';
import { registerReluGradKernel, reluGradConfig } from './reluGrad';

export { conv2dBackpropFilterWasm, makeConv2dBackpropInputWasm } from './conv2dGrads';
export { depthwiseBackpropFilterWasm, depthwiseBackpropInputWasm } from './depthwiseGrads';
export { fusedBatchNormGradConfig } from './batchNormGrad';
export { makeLeadingReduceWasm, leadingAxesCount, columnSums } from './reduce';
export { makeAvgPoolGradWasm } from './avgPoolGrad';
export { maxPoolGradWasm } from './maxPoolGrad';
export { makeIdentityWasm, makeEqualWasm } from './identityEqual';
export { batchNormTraining, installBatchNormTraining, uninstallBatchNormTraining } from './batchNormTraining';

/** Which custom kernels/gradients to install; all on by default. */
export interface CustomKernelOptions {
  conv2dBackpropFilter?: boolean;
  conv2dBackpropInput?: boolean;
  /** wasm `DepthwiseConv2dNativeBackpropFilter`/`Input` (absent from tfjs-backend-wasm 4.22). */
  depthwiseGrads?: boolean;
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
  /** wasm `Equal` for broadcasting float32 operands without the stock per-element index loop (./identityEqual). */
  equal?: boolean;
  /** wasm `Conv2D`/`FusedConv2D` through the project's C kernel where it applies (./conv2dForward). */
  convForward?: boolean;
  /** `Relu` gradient in one wasm kernel instead of Step, Cast and Multiply (./reluGrad). */
  reluGrad?: boolean;
}

interface KernelState {
  installed: Set<string>;
  stockBackpropInput?: tf.KernelConfig;
  stockBatchNormGrad?: tf.GradConfig;
  stockReductions?: Record<string, tf.KernelConfig>;
  stockAvgPoolGrad?: tf.KernelConfig;
  stockMaxPoolGrad?: tf.KernelConfig;
  stockIdentity?: tf.KernelConfig;
  stockEqual?: tf.KernelConfig;
  stockConv2D?: tf.KernelConfig;
  stockFusedConv2D?: tf.KernelConfig;
  stockReluGrad?: tf.GradConfig;
}

const STATE_KEY = Symbol.for('fat2019.customKernels.state');

function state(): KernelState {
  const g = globalThis as Record<symbol, unknown>;
  if (!g[STATE_KEY]) g[STATE_KEY] = { installed: new Set<string>() } satisfies KernelState;
  return g[STATE_KEY] as KernelState;
}

/** Names (as listed in BackendInfo.customKernels) of what is installed now. */
export function installedCustomKernels(): string[] {
  return [...state().installed].sort();
}

/**
 * Installs the wasm conv-gradient kernels and the batch-norm gradient (all backends). Call it
 * after the wasm backend is initialised: the stock `Conv2DBackpropInput`, kept as the fallback
 * for NCHW, gets its wasm bindings from the backend's setup. Returns the names installed.
 */
export function registerCustomKernels(options: CustomKernelOptions = {}): string[] {
  const st = state();
  const want = {
    conv2dBackpropFilter: options.conv2dBackpropFilter ?? true,
    conv2dBackpropInput: options.conv2dBackpropInput ?? true,
    depthwiseGrads: options.depthwiseGrads ?? true,
    batchNormGrad: options.batchNormGrad ?? true,
    reductions: options.reductions ?? true,
    batchNormTraining: options.batchNormTraining ?? true,
    avgPoolGrad: options.avgPoolGrad ?? true,
    maxPoolGrad: options.maxPoolGrad ?? true,
    identity: options.identity ?? true,
    equal: options.equal ?? true,
    convForward: options.convForward ?? true,
    reluGrad: options.reluGrad ?? true,
  };
  if (want.conv2dBackpropFilter && !st.installed.has('wasm:Conv2DBackpropFilter')) {
    if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
    tf.registerKernel({
      kernelName: 'Conv2DBackpropFilter',
      backendName: 'wasm',
      kernelFunc: conv2dBackpropFilterWasm as unknown as tf.KernelFunc,
    });
    st.installed.add('wasm:Conv2DBackpropFilter');
  }
  if (want.conv2dBackpropInput && !st.installed.has('wasm:Conv2DBackpropInput')) {
    const stock = tf.getKernel('Conv2DBackpropInput', 'wasm');
    if (stock) {
      st.stockBackpropInput = stock;
      tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
    }
    tf.registerKernel({
      kernelName: 'Conv2DBackpropInput',
      backendName: 'wasm',
      kernelFunc: makeConv2dBackpropInputWasm(st.stockBackpropInput?.kernelFunc) as unknown as tf.KernelFunc,
    });
    st.installed.add('wasm:Conv2DBackpropInput');
  }
  if (want.depthwiseGrads) {
    const kernels = [
      ['DepthwiseConv2dNativeBackpropFilter', depthwiseBackpropFilterWasm],
      ['DepthwiseConv2dNativeBackpropInput', depthwiseBackpropInputWasm],
    ] as const;
    for (const [kernelName, kernelFunc] of kernels) {
      if (st.installed.has(`wasm:${kernelName}`)) continue;
      if (tf.getKernel(kernelName, 'wasm')) tf.unregisterKernel(kernelName, 'wasm');
      tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
      st.installed.add(`wasm:${kernelName}`);
    }
  }
  if (want.reductions) {
    for (const kind of ['Sum', 'Mean'] as const) {
      if (st.installed.has(`wasm:${kind}`)) continue;
      const stock = st.stockReductions?.[kind] ?? tf.getKernel(kind, 'wasm');
      // Without a stock kernel (wasm not loaded) there is nothing to fall back on: skip.
      if (!stock) continue;
      st.stockReductions = { ...st.stockReductions, [kind]: stock };
      tf.unregisterKernel(kind, 'wasm');
      tf.registerKernel({
        kernelName: kind,
        backendName: 'wasm',
        kernelFunc: makeLeadingReduceWasm(kind, stock.kernelFunc) as unknown as tf.KernelFunc,
      });
      st.installed.add(`wasm:${kind}`);
    }
  }
  if (want.batchNormGrad && !st.installed.has('grad:FusedBatchNorm')) {
    st.stockBatchNormGrad = tf.getGradient('FusedBatchNorm');
    tf.registerGradient(fusedBatchNormGradConfig);
    st.installed.add('grad:FusedBatchNorm');
  }
  if (want.avgPoolGrad && !st.installed.has('wasm:AvgPoolGrad')) {
    const stock = st.stockAvgPoolGrad ?? tf.getKernel('AvgPoolGrad', 'wasm');
    // Without the stock kernel (wasm not loaded) there is nothing to fall back on: skip.
    if (stock) {
      st.stockAvgPoolGrad = stock;
      tf.unregisterKernel('AvgPoolGrad', 'wasm');
      tf.registerKernel({ kernelName: 'AvgPoolGrad', backendName: 'wasm', kernelFunc: makeAvgPoolGradWasm(stock.kernelFunc) as unknown as tf.KernelFunc });
      st.installed.add('wasm:AvgPoolGrad');
    }
  }
  if (want.maxPoolGrad && !st.installed.has('wasm:MaxPoolGrad')) {
    const stock = st.stockMaxPoolGrad ?? tf.getKernel('MaxPoolGrad', 'wasm');
    // Only where the wasm backend is registered (its stock kernel is there to replace).
    if (stock) {
      st.stockMaxPoolGrad = stock;
      tf.unregisterKernel('MaxPoolGrad', 'wasm');
      tf.registerKernel({ kernelName: 'MaxPoolGrad', backendName: 'wasm', kernelFunc: maxPoolGradWasm as unknown as tf.KernelFunc });
      st.installed.add('wasm:MaxPoolGrad');
    }
  }
  // The fused AdamW update (a new kernel name; used by lib/train/adamw.ts only where registered).
  registerAdamWKernel();
  if (want.reluGrad && !st.installed.has('grad:Relu')) {
    registerReluGradKernel();
    st.stockReluGrad = tf.getGradient('Relu');
    tf.registerGradient(reluGradConfig);
    st.installed.add('grad:Relu');
  }
  const wrapped = [
    ['Identity', want.identity, 'stockIdentity', makeIdentityWasm],
    ['Equal', want.equal, 'stockEqual', makeEqualWasm],
    ['Conv2D', want.convForward, 'stockConv2D', makeConv2DWasm],
    ['FusedConv2D', want.convForward, 'stockFusedConv2D', makeFusedConv2DWasm],
  ] as const;
  for (const [kernelName, on, key, make] of wrapped) {
    if (!on || st.installed.has(`wasm:${kernelName}`)) continue;
    const stock = st[key] ?? tf.getKernel(kernelName, 'wasm');
    // Only where the wasm backend is registered (its stock kernel is there to wrap).
    if (!stock) continue;
    st[key] = stock;
    tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: make(stock.kernelFunc) as unknown as tf.KernelFunc });
    st.installed.add(`wasm:${kernelName}`);
  }
  if (want.batchNormTraining && !st.installed.has('layers:BatchNormalization')) {
    // The layer's C forward/backward kernels (wasm; used only when WebAssembly SIMD runs them).
    registerBatchNormTrainKernels();
    installBatchNormTraining();
    st.installed.add('layers:BatchNormalization');
  }
  return installedCustomKernels();
}

/**
 * Puts back tfjs' own `Conv2DBackpropInput`, batch-norm gradient and layer (for A/B benchmarks and
 * tests). `Conv2DBackpropFilter` stays: wasm has no stock kernel and training needs one.
 */
export function restoreStockKernels(
  which: { conv2dBackpropInput?: boolean; batchNormGrad?: boolean; reductions?: boolean; batchNormTraining?: boolean; avgPoolGrad?: boolean; maxPoolGrad?: boolean; identity?: boolean; equal?: boolean; convForward?: boolean; reluGrad?: boolean } = {},
): void {
  const st = state();
  if ((which.reluGrad ?? true) && st.installed.has('grad:Relu') && st.stockReluGrad) {
    tf.registerGradient(st.stockReluGrad);
    st.installed.delete('grad:Relu');
  }
  for (const [kernelName, on, config] of [['Identity', which.identity, st.stockIdentity], ['Equal', which.equal, st.stockEqual],
    ['Conv2D', which.convForward, st.stockConv2D], ['FusedConv2D', which.convForward, st.stockFusedConv2D]] as const) {
    if ((on ?? true) && st.installed.has(`wasm:${kernelName}`) && config) {
      tf.unregisterKernel(kernelName, 'wasm');
      tf.registerKernel(config);
      st.installed.delete(`wasm:${kernelName}`);
    }
  }
  if ((which.avgPoolGrad ?? true) && st.installed.has('wasm:AvgPoolGrad') && st.stockAvgPoolGrad) {
    tf.unregisterKernel('AvgPoolGrad', 'wasm');
    tf.registerKernel(st.stockAvgPoolGrad);
    st.installed.delete('wasm:AvgPoolGrad');
  }
  if ((which.maxPoolGrad ?? true) && st.installed.has('wasm:MaxPoolGrad') && st.stockMaxPoolGrad) {
    tf.unregisterKernel('MaxPoolGrad', 'wasm');
    tf.registerKernel(st.stockMaxPoolGrad);
    st.installed.delete('wasm:MaxPoolGrad');
  }
  if ((which.batchNormTraining ?? true) && st.installed.has('layers:BatchNormalization')) {
    uninstallBatchNormTraining();
    st.installed.delete('layers:BatchNormalization');
  }
  const input = which.conv2dBackpropInput ?? true;
  const bn = which.batchNormGrad ?? true;
  if ((which.reductions ?? true) && st.stockReductions) {
    for (const [kind, config] of Object.entries(st.stockReductions)) {
      if (!st.installed.has(`wasm:${kind}`)) continue;
      tf.unregisterKernel(kind, 'wasm');
      tf.registerKernel(config);
      st.installed.delete(`wasm:${kind}`);
    }
  }
  if (input && st.installed.has('wasm:Conv2DBackpropInput') && st.stockBackpropInput) {
    tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
    tf.registerKernel(st.stockBackpropInput);
    st.installed.delete('wasm:Conv2DBackpropInput');
  }
  if (bn && st.installed.has('grad:FusedBatchNorm') && st.stockBatchNormGrad) {
    tf.registerGradient(st.stockBatchNormGrad);
    st.installed.delete('grad:FusedBatchNorm');
  }
}
