/**
 * Chooses and initialises the tfjs backend for training and inference.
 *
 * Order: tfjs-node-gpu → tfjs-node (native TensorFlow; optional dependencies, absent on most
 * machines) → wasm (XNNPACK, SIMD, multithreaded in Node through ./threads/wasmThreads) → cpu
 * (pure JS, slow). On wasm the project's custom kernels are installed (./kernels): the missing
 * `Conv2DBackpropFilter`, a fast `Conv2DBackpropInput`, `Sum`/`Mean` over leading axes without
 * a transpose, and a leaner batch-norm gradient.
 *
 * Environment: `FAT2019_BACKEND` = gpu | node | wasm | cpu overrides `prefer`;
 * `FAT2019_THREADS` overrides `threads` (wasm only).
 *
 * One tfjs-core instance only: everything goes through '@tensorflow/tfjs'.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type * as TfWasm from '@tensorflow/tfjs-backend-wasm';
import { registerCustomKernels, installedCustomKernels, CustomKernelOptions } from './kernels/index';
import { prepareWasmThreads, withReportedCores } from './threads/wasmThreads';

/**
 * tfjs' cpu backend prints "Hi, looks like you are running TensorFlow.js in Node.js ... install
 * our node backend" on its first tensor. This toolkit chooses its backends itself (wasm with
 * its own kernels, tfjs-node where installed: see initBackend), so on every command the advice
 * was noise on the user's first screen. Marked as already shown; tfjs' other warnings stay.
 */
function skipCpuBackendBanner(): void {
  // The engine makes a new backend from the registered factory on every initialisation, so
  // the factory is wrapped (tfjs 4.22's engine.registryFactory; absent in another version:
  // then the banner simply shows).
  const factories = (tf.engine() as unknown as { registryFactory?: Record<string, { factory: () => unknown }> }).registryFactory;
  const entry = factories?.cpu;
  if (!entry || (entry.factory as { quiet?: boolean }).quiet) return;
  const make = entry.factory;
  const quiet = (): unknown => {
    const backend = make();
    if (backend && typeof backend === 'object' && 'firstUse' in backend) (backend as { firstUse: boolean }).firstUse = false;
    return backend;
  };
  (quiet as { quiet?: boolean }).quiet = true;
  entry.factory = quiet;
}
skipCpuBackendBanner();

/** tfjs backend names this project can run on. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
/** Which package provides the backend. */
export type BackendFlavour = 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';
/** A backend request: a tfjs name, a flavour's short name (as in FAT2019_BACKEND), or 'auto'. */
export type BackendPreference = BackendName | 'auto' | 'gpu' | 'node';

/** What {@link initBackend} chose and why. */
export interface BackendInfo {
  /** tfjs backend name (`tf.getBackend()`). */
  name: BackendName;
  flavour: BackendFlavour;
  /** Compute threads: XNNPACK pool size on wasm, 1 on cpu, os cores for tfjs-node. */
  threads: number;
  /** Why each earlier choice was skipped, e.g. "tfjs-node-gpu: not installed". */
  reasons: string[];
  /** Custom kernels/gradients installed, e.g. "wasm:Conv2DBackpropFilter". */
  customKernels: string[];
  /** wasm only: whether the SIMD binary runs. */
  simd?: boolean;
}

/** Options of {@link initBackend}. Environment variables override `prefer` and `threads`. */
export interface InitBackendOptions {
  /** Start the search at this backend (earlier ones are skipped); default 'auto'. */
  prefer?: BackendPreference;
  /** wasm threads; default: the number of logical cores (at most 8, the worker pool size). */
  threads?: number;
  /** Log the choice with console.log. */
  verbose?: boolean;
  /** Turn single custom kernels off (A/B benchmarks); all on by default. */
  customKernels?: CustomKernelOptions;
}

const ORDER: BackendFlavour[] = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];
/** Most wasm threads: tfjs pre-creates 8 pthread workers and caps XNNPACK's pool there. */
const MAX_WASM_THREADS = 8;
const STATE_KEY = Symbol.for('fat2019.backend.state');

interface BackendState {
  promise: Promise<BackendInfo>;
}

function globalState(): BackendState | undefined {
  return (globalThis as Record<symbol, unknown>)[STATE_KEY] as BackendState | undefined;
}

/** Maps a preference (option or FAT2019_BACKEND value) to the first flavour to try. */
export function parseBackendPreference(value: string, source: string): BackendFlavour | 'auto' {
  const v = value.trim().toLowerCase();
  switch (v) {
    case '': case 'auto': return 'auto';
    case 'gpu': case 'tfjs-node-gpu': case 'tensorflow': return 'tfjs-node-gpu';
    case 'node': case 'tfjs-node': return 'tfjs-node';
    case 'wasm': return 'wasm';
    case 'cpu': return 'cpu';
    default:
      throw new Error(`${source} must be one of gpu, node, wasm, cpu, auto; got '${value}'`);
  }
}

/** Threads from an option or FAT2019_THREADS, validated. */
export function parseThreads(value: string | number, source: string): number {
  const n = typeof value === 'number' ? value : Number(value.trim());
  if (!Number.isInteger(n) || n < 1) throw new Error(`${source} must be an integer >= 1, got '${value}'`);
  return Math.min(n, MAX_WASM_THREADS);
}

/**
 * Selects, initialises and returns the backend. Idempotent: later calls return the first
 * call's info whatever their options (tfjs allows one wasm initialisation per process).
 */
export function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const existing = globalState();
  if (existing) return existing.promise;
  const promise = selectBackend(options);
  (globalThis as Record<symbol, unknown>)[STATE_KEY] = { promise } satisfies BackendState;
  // A failed selection may be retried (e.g. after fixing FAT2019_BACKEND in a notebook).
  promise.catch(() => { delete (globalThis as Record<symbol, unknown>)[STATE_KEY]; });
  return promise;
}

/** One line for logs, e.g. "backend wasm (SIMD, 2 threads; custom: …; skipped: …)". */
export function describeBackend(info: BackendInfo): string {
  const parts: string[] = [];
  if (info.flavour === 'wasm') parts.push(`${info.simd ? 'SIMD' : 'no SIMD'}, ${info.threads} thread${info.threads === 1 ? '' : 's'}`);
  else parts.push(`${info.threads} thread${info.threads === 1 ? '' : 's'}`);
  if (info.customKernels.length > 0) parts.push(`custom: ${info.customKernels.join(', ')}`);
  if (info.reasons.length > 0) parts.push(`skipped: ${info.reasons.join('; ')}`);
  return `backend ${info.flavour} (${parts.join('; ')})`;
}

async function selectBackend(options: InitBackendOptions): Promise<BackendInfo> {
  const envPrefer = process.env.FAT2019_BACKEND;
  const prefer = envPrefer !== undefined && envPrefer.trim() !== ''
    ? parseBackendPreference(envPrefer, 'FAT2019_BACKEND')
    : parseBackendPreference(options.prefer ?? 'auto', 'initBackend prefer');
  const envThreads = process.env.FAT2019_THREADS;
  const threads = envThreads !== undefined && envThreads.trim() !== ''
    ? parseThreads(envThreads, 'FAT2019_THREADS')
    : options.threads !== undefined ? parseThreads(options.threads, 'initBackend threads')
      : Math.max(1, Math.min(os.cpus().length, MAX_WASM_THREADS));
  const reasons: string[] = [];
  const start = prefer === 'auto' ? 0 : ORDER.indexOf(prefer);
  for (let i = 0; i < start; i++) {
    reasons.push(`${ORDER[i]}: skipped (${envPrefer ? `FAT2019_BACKEND=${envPrefer}` : `prefer '${options.prefer}'`})`);
  }
  for (const flavour of ORDER.slice(start)) {
    let info: BackendInfo | null = null;
    try {
      if (flavour === 'tfjs-node-gpu' || flavour === 'tfjs-node') info = await tryNative(flavour, reasons);
      else if (flavour === 'wasm') info = await tryWasm(threads, reasons, options.customKernels);
      else info = await tryCpu(reasons, options.customKernels);
    } catch (err) {
      reasons.push(`${flavour}: ${(err as Error).message}`);
    }
    if (info) {
      if (options.verbose) console.log(describeBackend(info));
      return info;
    }
  }
  throw new Error(`no tfjs backend could be initialised: ${reasons.join('; ')}`);
}

async function tryNative(flavour: 'tfjs-node-gpu' | 'tfjs-node', reasons: string[]): Promise<BackendInfo | null> {
  const pkg = flavour === 'tfjs-node-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  try {
    require.resolve(pkg);
  } catch {
    reasons.push(`${flavour}: not installed`);
    return null;
  }
  try {
    // Optional dependency: a plain require so TypeScript does not need its types.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    require(pkg);
  } catch (err) {
    reasons.push(`${flavour}: failed to load (${(err as Error).message.split('\n')[0]})`);
    return null;
  }
  if (!tf.findBackendFactory('tensorflow')) {
    reasons.push(`${flavour}: loaded but its 'tensorflow' backend is in another tfjs-core copy (versions differ?)`);
    return null;
  }
  if (!(await tf.setBackend('tensorflow'))) {
    reasons.push(`${flavour}: 'tensorflow' backend failed to initialise`);
    return null;
  }
  await tf.ready();
  return {
    name: 'tensorflow', flavour, threads: os.cpus().length, reasons: [...reasons],
    customKernels: registerCustomKernels({ conv2dBackpropFilter: false, conv2dBackpropInput: false, depthwiseGrads: false, reductions: false }),
  };
}

async function tryWasm(threads: number, reasons: string[], kernels?: CustomKernelOptions): Promise<BackendInfo | null> {
  let wasm: typeof TfWasm;
  try {
    // Loaded lazily: importing it registers the 'wasm' backend, which should not happen for
    // users of the cpu backend who never call initBackend.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    wasm = require('@tensorflow/tfjs-backend-wasm') as typeof TfWasm;
  } catch (err) {
    reasons.push(`wasm: @tensorflow/tfjs-backend-wasm failed to load (${(err as Error).message.split('\n')[0]})`);
    return null;
  }
  const factory = (tf.engine() as unknown as { registryFactory: Record<string, { factory: () => unknown; priority: number }> })
    .registryFactory.wasm;
  try {
    wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep);
  } catch {
    // Already initialised by someone else: the paths it used are fine.
  }
  let useThreads = threads;
  if (threads > 1) {
    const prep = prepareWasmThreads();
    if (!prep.ok) {
      reasons.push(`wasm threads: ${prep.reason}; using 1 thread`);
      useThreads = 1;
    }
  }
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  let ok = false;
  if (useThreads > 1 && simd) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(useThreads);
    ok = await withReportedCores(useThreads, () => tf.setBackend('wasm'));
    if (!ok) {
      reasons.push('wasm threads: threaded binary failed to initialise; using 1 thread');
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      if (factory && !tf.findBackendFactory('wasm')) tf.registerBackend('wasm', factory.factory as () => tf.KernelBackend, factory.priority);
    }
  } else if (useThreads > 1) {
    reasons.push('wasm threads: need SIMD; using 1 thread');
  }
  if (!ok) {
    useThreads = 1;
    wasm.setThreadsCount(1);
    ok = await tf.setBackend('wasm');
  }
  if (!ok) {
    reasons.push('wasm: backend failed to initialise');
    return null;
  }
  await tf.ready();
  const actual = wasm.getThreadsCount();
  if (actual !== useThreads) reasons.push(`wasm threads: asked for ${useThreads}, XNNPACK runs ${actual}`);
  return {
    name: 'wasm', flavour: 'wasm', threads: actual, simd, reasons: [...reasons],
    customKernels: registerCustomKernels(kernels),
  };
}

async function tryCpu(reasons: string[], kernels?: CustomKernelOptions): Promise<BackendInfo | null> {
  if (!(await tf.setBackend('cpu'))) {
    reasons.push('cpu: failed to initialise');
    return null;
  }
  await tf.ready();
  return {
    name: 'cpu', flavour: 'cpu', threads: 1, reasons: [...reasons],
    customKernels: registerCustomKernels({
      conv2dBackpropFilter: false, conv2dBackpropInput: false, depthwiseGrads: false, reductions: false,
      batchNormGrad: kernels?.batchNormGrad ?? true,
    }).filter((k) => !k.startsWith('wasm:')),
  };
}

/** Installed custom kernel names (for reports after initBackend). */
export function currentCustomKernels(): string[] {
  return installedCustomKernels();
}
