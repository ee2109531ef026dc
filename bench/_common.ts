/**
 * Shared parts of the benches: the PyTorch peer process (or the recorded PyTorch figures where
 * torch is missing), machine load, deterministic input data and the median.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as readline from 'node:readline';

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
  /** As `run`, with each repetition's CPU time of the peer's thread too (s; null from a peer that does not report it). */
  runWithCpu(reps: number): Promise<{ seconds: number[]; cpuSeconds: number[] | null }>;
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
  const runWithCpu = async (reps: number) => {
    child.stdin.write(JSON.stringify({ op: 'run', reps }) + '\n');
    const r = JSON.parse(await next()) as { seconds: number[]; cpuSeconds?: number[] };
    return { seconds: r.seconds, cpuSeconds: r.cpuSeconds ?? null };
  };
  return {
    info: ready.ready,
    async run(reps: number) {
      return (await runWithCpu(reps)).seconds;
    },
    runWithCpu,
    async close() {
      child.stdin.end(JSON.stringify({ op: 'quit' }) + '\n');
      await new Promise<void>((resolve) => { if (child.exitCode !== null) resolve(); else child.on('exit', () => resolve()); });
    },
  };
}

/**
 * The CPU as precisely as the OS names it: a VM's "model name" is often just "AMD EPYC" or
 * "Intel Xeon Processor", while the wasm path's speed depends on the microarchitecture (issue
 * 24: the same bench gave 1.21× PyTorch on an AMD EPYC VM and 0.72× on an Intel Xeon VM), so
 * the vendor, family/model/stepping and the vector extensions PyTorch can use come with it.
 */
export function cpuModel(): string {
  let info = '';
  try {
    info = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n\n')[0];
  } catch {
    return os.cpus()[0]?.model ?? 'unknown CPU';
  }
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1]?.trim();
  const flags = new Set((field('flags') ?? '').split(/\s+/));
  const isa = ['avx2', 'fma', 'avx512f', 'avx512_vnni', 'amx_tile'].filter((f) => flags.has(f)).join(' ');
  // siblings > cpu cores: the logical CPUs are SMT threads sharing cores (two threads then
  // share one core's vector units, which a 2-thread figure hides).
  const siblings = Number(field('siblings'));
  const cores = Number(field('cpu cores'));
  const smt = siblings > 0 && cores > 0 ? `, ${cores} core${cores === 1 ? '' : 's'} × ${siblings / cores} thread${siblings === cores ? '' : 's'}` : '';
  return `${field('model name') ?? os.cpus()[0]?.model ?? 'CPU'} (${field('vendor_id') ?? '?'} family ${field('cpu family') ?? '?'} model ${field('model') ?? '?'} stepping ${field('stepping') ?? '?'}${smt}, L2 ${field('cache size') ?? '?'}; ${isa || 'no AVX2'})`;
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
