/**
 * Shared parts of bench/train.ts and bench/infer.ts: argument parsing, the models (from
 * lib/models when it exists, else a local tf.layers copy of the SPEC architectures), machine
 * load, and the recorded PyTorch reference figures.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as readline from 'node:readline';
import * as tf from '@tensorflow/tfjs';
import { MODEL_DEFAULTS } from '../lib/config';
import { architectureNames, isArchitecture } from '../lib/models/index';

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

/**
 * PyTorch 1.13, 2 threads, full CNN-model-1 at 3×128×128, measured on 2026-11-23 (PERF-NOTES).
 * Only for machines without python3-torch, and labelled as such: the same machine kind ran
 * PyTorch 1.2–1.6× faster a week later, so a ratio against a constant is not a measurement.
 */
export const PYTORCH_RECORDED = {
  trainSamplesPerSecond: 5.5,
  trainBatch: 32,
  inferSamplesPerSecond: 15.6,
  inferBatch: 64,
  threads: 2,
  date: '2026-11-23',
  machine: '2-core AVX2 development VM',
  source: 'recorded reference (PERF-NOTES 2026-11-23, 2-core AVX2 VM: PyTorch 1.13, 2 threads, CNN-model-1 3x128x128)',
} as const;

/**
 * PyTorch figures recorded side by side with this project on 2026-11-30 (PERF-NOTES, 2-core
 * AVX2 development VM, 2 threads unless noted). Printed, labelled, when torch is not installed;
 * never used as a ratio's denominator.
 */
export const RECORDED_PEER = {
  date: '2026-11-30',
  machine: '2-core AVX2 development VM (shared)',
  torch: '1.13 (Debian python3-torch)',
  trainSamplesPerSecond: { 'cnnModel1 width 1 batch 32': 6.53, 'cnnModel1 width 0.125 batch 32': 168 },
  featuresClipsPerSecond1Thread: { 'torch.stft + mel, 10 s clip': 89.3 },
} as const;

/** Python with torch for the side-by-side peer: BENCH_PYTHON, else /usr/bin/python3. */
export function peerPython(): string {
  return process.env.BENCH_PYTHON ?? '/usr/bin/python3';
}

/** Why the PyTorch peer cannot run here (null when `import torch` works), unless --no-peer. */
export function torchUnavailable(argv: string[]): string | null {
  if (argv.includes('--no-peer') || process.env.BENCH_NO_PEER === '1') return '--no-peer given';
  const r = spawnSync(peerPython(), ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  if (r.error) return `${peerPython()}: ${r.error.message}`;
  if (r.status !== 0) return `${peerPython()} cannot import torch: ${(r.stderr || '').trim().split('\n').pop()}`;
  return null;
}

/**
 * The PyTorch side of a bench: bench/torch_peer.py running as a child process. `run(reps)` has
 * it do `reps` repetitions of its work and returns their times (s); the caller only calls it
 * while it is idle itself, so the two never compete for the cores.
 */
export interface TorchPeer {
  info: Record<string, unknown>;
  run(reps: number): Promise<number[]>;
  close(): Promise<void>;
}

/** Starts bench/torch_peer.py with `args` and waits for its set-up to finish. */
export async function startTorchPeer(args: string[]): Promise<TorchPeer> {
  const script = path.join(__dirname, 'torch_peer.py');
  const child = spawn(peerPython(), [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const lines = readline.createInterface({ input: child.stdout });
  const queue: string[] = [];
  const waiters: Array<(line: string | null) => void> = [];
  lines.on('line', (l) => { const w = waiters.shift(); if (w) w(l); else queue.push(l); });
  lines.on('close', () => { for (const w of waiters.splice(0)) w(null); });
  const next = (): Promise<string> => new Promise((resolve, reject) => {
    const done = (l: string | null) => (l === null
      ? reject(new Error(`torch peer (${script} ${args.join(' ')}) exited: ${stderr.trim().split('\n').slice(-3).join(' | ')}`))
      : resolve(l));
    const l = queue.shift();
    if (l !== undefined) done(l); else waiters.push(done);
  });
  const ready = JSON.parse(await next()) as { ready: Record<string, unknown> };
  return {
    info: ready.ready,
    async run(reps: number) {
      child.stdin.write(JSON.stringify({ op: 'run', reps }) + '\n');
      return (JSON.parse(await next()) as { seconds: number[] }).seconds;
    },
    async close() {
      child.stdin.end(JSON.stringify({ op: 'quit' }) + '\n');
      await new Promise<void>((resolve) => { if (child.exitCode !== null) resolve(); else child.on('exit', () => resolve()); });
    },
  };
}

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
