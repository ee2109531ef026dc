/**
 * Shared parts of bench/train.ts and bench/infer.ts: argument parsing, the models (from
 * lib/models when it exists, else a local tf.layers copy of the SPEC architectures), machine
 * load, and the recorded PyTorch reference figures.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { MODEL_DEFAULTS } from '../lib/config';
import { architectureNames, isArchitecture } from '../lib/models';

/** A name registered in lib/models/registry. */
export type BenchArch = string;

/** Options common to both benches (argv `--name value` / `--flag`, or env BENCH_*). */
export interface BenchOptions {
  quick: boolean;
  models: BenchArch[];
  width: number;
  size: number;
  numClasses: number;
  batch: number;
  micro: number;
  steps: number;
  warmup: number;
  /** Put tfjs' own Conv2DBackpropInput and batch-norm gradient back (A/B comparison). */
  stock: boolean;
}

/** PyTorch 1.13, 2 threads, full CNN-model-1 at 3×128×128 on this machine (PERF-NOTES). */
export const PYTORCH_RECORDED = {
  trainSamplesPerSecond: 5.5,
  trainBatch: 32,
  inferSamplesPerSecond: 15.6,
  inferBatch: 64,
  threads: 2,
  source: 'recorded reference (PERF-NOTES: PyTorch 1.13, 2 threads, CNN-model-1 3x128x128)',
} as const;

function argValue(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < argv.length) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

function num(argv: string[], name: string, fallback: number): number {
  const v = argValue(argv, name) ?? process.env[`BENCH_${name.toUpperCase()}`];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got '${v}'`);
  return n;
}

/** Parses argv (and BENCH_* env vars). Defaults: reference size, or tiny with --quick. */
export function parseBenchOptions(argv: string[], defaults: { batch: number; micro: number; steps: number }): BenchOptions {
  const quick = argv.includes('--quick') || process.env.BENCH_QUICK === '1';
  const modelsArg = argValue(argv, 'models') ?? process.env.BENCH_MODELS ?? 'cnnModel1,vgg16bn';
  const models = modelsArg.split(',').map((m) => m.trim()).filter(Boolean) as BenchArch[];
  for (const m of models) {
    if (!isArchitecture(m)) throw new Error(`--models: unknown model '${m}' (${architectureNames().join(', ')})`);
  }
  const batch = num(argv, 'batch', quick ? 8 : defaults.batch);
  const micro = Math.min(batch, num(argv, 'micro', quick ? 8 : defaults.micro));
  if (batch % micro !== 0) throw new Error(`--batch (${batch}) must be a multiple of --micro (${micro})`);
  return {
    quick,
    models,
    width: num(argv, 'width', quick ? 0.25 : 1),
    size: num(argv, 'size', quick ? 64 : 128),
    numClasses: num(argv, 'classes', 80),
    batch,
    micro,
    steps: num(argv, 'steps', quick ? 2 : defaults.steps),
    warmup: num(argv, 'warmup', 1),
    stock: argv.includes('--stock') || process.env.BENCH_STOCK === '1',
  };
}

/** Model options as lib/models' buildModel takes them. */
export interface BenchModelSpec {
  arch: BenchArch;
  numClasses: number;
  inputMels: number;
  inputFrames: number;
  widthMultiplier: number;
}

/**
 * Builds the model with lib/models' `buildModel` when that module exists, else with the local
 * copy below. Returns the model and where it came from.
 */
export function buildBenchModel(spec: BenchModelSpec): { model: tf.LayersModel; source: string } {
  const modelsDir = path.join(__dirname, '..', 'lib', 'models');
  if (fs.existsSync(path.join(modelsDir, 'index.ts'))) {
    // A computed path: the bench must typecheck before lib/models exists.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const mod = require(modelsDir) as { buildModel?: (o: Record<string, unknown>) => unknown };
    if (typeof mod.buildModel === 'function') {
      const built = mod.buildModel({ ...MODEL_DEFAULTS, ...spec }) as tf.LayersModel | { model: tf.LayersModel };
      const model = built instanceof tf.LayersModel ? built : (built as { model: tf.LayersModel }).model;
      if (model instanceof tf.LayersModel) return { model, source: 'lib/models buildModel' };
    }
  }
  return { model: buildLocalModel(spec), source: 'bench-local tf.layers copy (lib/models absent)' };
}

/** CNN-model-1 / VGG16-BN per SPEC "Models", NHWC, logits out. */
export function buildLocalModel(spec: BenchModelSpec): tf.LayersModel {
  const w = (c: number) => Math.max(1, Math.round(c * spec.widthMultiplier));
  const input = tf.input({ shape: [spec.inputMels, spec.inputFrames, 3] });
  const convBnRelu = (x: tf.SymbolicTensor, c: number) => {
    let y = tf.layers.conv2d({ filters: w(c), kernelSize: 3, padding: 'same', useBias: true, kernelInitializer: 'heNormal' })
      .apply(x) as tf.SymbolicTensor;
    y = tf.layers.batchNormalization({ epsilon: 1e-5, momentum: 0.9 }).apply(y) as tf.SymbolicTensor;
    return tf.layers.reLU().apply(y) as tf.SymbolicTensor;
  };
  let x: tf.SymbolicTensor = input;
  if (spec.arch === 'cnnModel1') {
    for (const c of [64, 128, 256, 512]) {
      x = convBnRelu(convBnRelu(x, c), c);
      x = tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor;
    }
  } else {
    const cfg: Array<number | 'M'> = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'];
    for (const c of cfg) {
      x = c === 'M' ? tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor : convBnRelu(x, c);
    }
  }
  const gmax = tf.layers.globalMaxPooling2d({}).apply(x) as tf.SymbolicTensor;
  const gavg = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  let h = tf.layers.concatenate().apply([gmax, gavg]) as tf.SymbolicTensor;
  h = tf.layers.batchNormalization({ epsilon: 1e-5, momentum: 0.9 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.dropout({ rate: 0.25 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: w(512), activation: 'relu', kernelInitializer: 'heNormal' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.batchNormalization({ epsilon: 1e-5, momentum: 0.9 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.dropout({ rate: 0.5 }).apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: spec.numClasses, kernelInitializer: 'heNormal' }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: spec.arch });
}

/** `uptime`'s load averages (or os.loadavg), for reading timings on a shared machine. */
export function machineLoad(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average: ${os.loadavg().map((v) => v.toFixed(2)).join(', ')}`;
  }
}

/** Deterministic pseudo-random floats in [0, 1) (xorshift32), so runs feed identical data. */
export function benchData(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = s / 4294967296;
  }
  return out;
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
