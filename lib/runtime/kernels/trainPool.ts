/// <reference lib="dom" />
// (tslab compiles notebook imports without the DOM lib; this file uses WebAssembly types.)
/**
 * A helper thread for the C training kernels on the threaded tfjs binary.
 *
 * Why: tfjs' pthread pool belongs to XNNPACK; our kernels (./wasm/trainKernels.c) ran on the
 * main thread alone while the other core idled. The threaded binary's memory is a shared
 * WebAssembly.Memory, so a Node worker can instantiate the shared build of the kernels on the
 * very same heap. Work is cut in two (images or rows): the main thread runs one half while the
 * helper runs the other; they meet through Atomics on a small SharedArrayBuffer (no messages,
 * no event loop: the main thread blocks in Atomics.wait, as it does inside XNNPACK calls).
 *
 * Waking a sleeping thread costs 50–100 µs on the 2-core VM (Atomics.notify to the futex's
 * return), about the time of a whole small kernel: ResNet-34 at width 1/8 hands over ~100
 * times a step, and those wake-ups were ≈9 of its ≈120 ms, plus the main thread's own wake-up
 * after the helper's half. So each side polls for the other for SPIN_US before it sleeps, as
 * XNNPACK's pthreadpool and OpenMP do: between the calls of a training step the helper never
 * sleeps, and a hand-over costs a few µs. That makes splitting pay from far smaller tensors
 * (SPLIT_MIN_ELEMENTS). Measured in one process, interleaved, 16 rounds of 5 steps, batch 32,
 * width 1/8 (AMD EPYC 2-core VM): ResNet-34 88.5 ms/step without polling, 82.3 with it, 71–75
 * with it and the lower split threshold; ResNet-18 58.0, 53.4, 48–49.
 * FAT2019_TRAIN_HELPER_SPIN_US sets the polling time (0: sleep at once, and the old threshold).
 *
 * Robustness: the helper is started once (on first use) and must report ready within 5 s, else
 * helpers stay off for the process. A call that fails in the helper, or takes it longer than
 * 60 s, is redone on the main thread. The worker is unref()ed (never keeps the process alive).
 * FAT2019_TRAIN_HELPER=0 turns the helper off (everything then runs on the calling thread).
 */
import { Worker } from 'node:worker_threads';
import type { Exports as TrainKernelExports } from './wasm/trainKernels.wasm.js';

export type KernelName = keyof TrainKernelExports;
/** A kernel call: name and arguments (numbers; pointers are heap byte offsets). */
export type Call = [KernelName, number[]];

const MAX_ARGS = 24;

const envValue = (name: string): string => (typeof process !== 'undefined' ? process.env[name] ?? '' : '');
const spinEnv = envValue('FAT2019_TRAIN_HELPER_SPIN_US').trim();
/** Microseconds each side polls for the other before it sleeps (see the header). */
const SPIN_US = spinEnv !== '' && Number.isFinite(Number(spinEnv)) ? Math.max(0, Number(spinEnv)) : 2000;

/**
 * Memory-bound passes (batch norm, ReLU gradient, pads, pools, clips) over fewer elements run on
 * one thread: with polling, splitting [32,16,16,16] (131 k elements) or [32,32,32,8] saves time,
 * while a sleeping helper's wake-up made anything under ≈1.5 M elements a loss.
 */
export const SPLIT_MIN_ELEMENTS = SPIN_US > 0 ? 65_536 : 1_500_000;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, sab, names, spinMs } = workerData;
const ctrl = new Int32Array(sab, 0, 16);
const args = new Float64Array(sab, 64, ${MAX_ARGS + 1});
let inst = null;
try { inst = new WebAssembly.Instance(module, { env: { memory } }).exports; } catch (e) { inst = null; }
Atomics.store(ctrl, 4, inst ? 1 : -1);
Atomics.notify(ctrl, 4);
let seen = 0;
while (inst) {
  if (spinMs > 0) {
    const until = performance.now() + spinMs;
    while (Atomics.load(ctrl, 0) === seen && performance.now() < until) {}
  }
  Atomics.wait(ctrl, 0, seen);
  const seq = Atomics.load(ctrl, 0);
  if (seq === seen) continue;
  seen = seq;
  if (seq < 0) break;
  let status = 0;
  try {
    const f = inst[names[Atomics.load(ctrl, 2)]];
    const n = args[0];
    const a = new Array(n);
    for (let i = 0; i < n; i++) a[i] = args[1 + i];
    if (Atomics.load(ctrl, 5) === 1) {
      // Shared range: take chunks until none is left (see runShared).
      const at = ctrl[7], total = ctrl[8], chunk = ctrl[9];
      for (;;) {
        const lo = Atomics.add(ctrl, 6, 1) * chunk;
        if (lo >= total) break;
        a[at] = lo;
        a[at + 1] = Math.min(total, lo + chunk);
        f(...a);
      }
    } else {
      f(...a);
    }
  } catch (e) { status = 1; }
  Atomics.store(ctrl, 3, status);
  Atomics.store(ctrl, 1, seq);
  Atomics.notify(ctrl, 1);
}
`;

interface Helper {
  worker: Worker;
  ctrl: Int32Array;
  args: Float64Array;
  names: readonly string[];
  seq: number;
}

const helpers = new WeakMap<WebAssembly.Memory, Helper | null>();
let helpersEnabled = !/^(0|false|off)$/i.test(typeof process !== 'undefined' ? process.env.FAT2019_TRAIN_HELPER ?? '' : '');

function startHelper(memory: WebAssembly.Memory, module: WebAssembly.Module, names: readonly string[]): Helper | null {
  try {
    // Control block: 0 sequence posted, 1 sequence done, 2 kernel, 3 status, 4 ready, 5 mode (0 one
    // call, 1 shared range), 6 next chunk, 7 range argument, 8 range end, 9 chunk size.
    const sab = new SharedArrayBuffer(64 + 8 * (MAX_ARGS + 1));
    const ctrl = new Int32Array(sab, 0, 16);
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { module, memory, sab, names, spinMs: SPIN_US / 1000 } });
    worker.unref();
    worker.on('error', () => { /* reported through the control block (no ready flag, or status) */ });
    // Wait until the helper has instantiated the kernels (a worker starts in tens of ms).
    const deadline = Date.now() + 5000;
    while (Atomics.load(ctrl, 4) === 0 && Date.now() < deadline) Atomics.wait(ctrl, 4, 0, 50);
    if (Atomics.load(ctrl, 4) !== 1) {
      void worker.terminate();
      return null;
    }
    return { worker, ctrl, args: new Float64Array(sab, 64, MAX_ARGS + 1), names, seq: 0 };
  } catch {
    return null;
  }
}

/** The helper for a shared memory (started on first use), or null (plain memory, disabled, failed). */
export function helperFor(memory: WebAssembly.Memory, module: WebAssembly.Module | null, names: readonly string[]): Helper | null {
  if (!helpersEnabled || !module) return null;
  if (typeof SharedArrayBuffer === 'undefined' || !(memory.buffer instanceof SharedArrayBuffer)) return null;
  if (helpers.has(memory)) return helpers.get(memory) ?? null;
  const h = startHelper(memory, module, names);
  helpers.set(memory, h);
  return h;
}

/**
 * Runs `main` here and `other` on the helper at the same time (or both here, one after the
 * other, without a helper); returns when both are done.
 */
export function runPair(k: TrainKernelExports, helper: Helper | null, main: Call, other: Call | null): void {
  if (!other) {
    call(k, main);
    return;
  }
  if (!helper) {
    call(k, main);
    call(k, other);
    return;
  }
  const seq = post(helper, other, 0);
  call(k, main);
  if (!joined(helper, seq)) call(k, other);
}

/**
 * Runs kernel `name` over the range [0, total) of its arguments `at` and `at + 1` in chunks of
 * `grain`-multiple size (about 8 in all) that this thread and the helper take in turn from a
 * shared counter; `mainArgs` here, `helperArgs` there (they differ in per-thread scratch only).
 * For kernels whose chunks write disjoint outputs, each the same whichever thread computes it
 * (bit-identical results). Why: with fixed halves the main thread waited whenever the helper's
 * half ended later, because its core was slower at that moment or the helper was descheduled
 * (on the 2-core VM about 6 times a ResNet-34 step the helper started over 1 ms late while it
 * should have been polling); with chunks the thread that is ahead takes more.
 */
export function runShared(k: TrainKernelExports, helper: Helper | null, name: KernelName, mainArgs: number[],
  helperArgs: number[], at: number, total: number, grain: number): void {
  const perChunk = grain * Math.ceil(Math.ceil(total / SHARED_CHUNKS) / grain);
  if (!helper || perChunk >= total) {
    mainArgs[at] = 0;
    mainArgs[at + 1] = total;
    call(k, [name, mainArgs]);
    return;
  }
  const { ctrl } = helper;
  Atomics.store(ctrl, 6, 0);
  ctrl[7] = at;
  ctrl[8] = total;
  ctrl[9] = perChunk;
  const seq = post(helper, [name, helperArgs], 1);
  const kernel = k[name] as unknown as (...args: number[]) => void;
  for (;;) {
    const lo = Atomics.add(ctrl, 6, 1) * perChunk;
    if (lo >= total) break;
    mainArgs[at] = lo;
    mainArgs[at + 1] = Math.min(total, lo + perChunk);
    kernel(...mainArgs);
  }
  if (!joined(helper, seq)) {
    // The helper failed: which of its chunks were written is unknown, so all are redone here.
    mainArgs[at] = 0;
    mainArgs[at + 1] = total;
    call(k, [name, mainArgs]);
  }
}

/** Chunks of a shared range: enough that the thread ahead can take a larger share, few enough that a chunk stays long. */
const SHARED_CHUNKS = 8;

/** Hands `c` to the helper (mode 0: one call; 1: chunks of a shared range); returns its sequence number. */
function post(helper: Helper, [name, a]: Call, mode: 0 | 1): number {
  if (a.length > MAX_ARGS) throw new Error(`runPair: ${name} has more than ${MAX_ARGS} arguments`);
  const fn = helper.names.indexOf(name);
  if (fn < 0) throw new Error(`runPair: unknown kernel ${name}`);
  helper.args[0] = a.length;
  for (let i = 0; i < a.length; i++) helper.args[1 + i] = a[i];
  Atomics.store(helper.ctrl, 2, fn);
  Atomics.store(helper.ctrl, 5, mode);
  const seq = (helper.seq = (helper.seq + 1) & 0x3fffffff);
  Atomics.store(helper.ctrl, 0, seq);
  Atomics.notify(helper.ctrl, 0);
  return seq;
}

/**
 * Waits for the helper to finish call `seq` (polling SPIN_US, then sleeping); false when it
 * failed or took over 60 s (then the caller redoes its work; the halves write disjoint memory,
 * so this is safe once the helper has given up; a stuck helper is abandoned for good).
 */
function joined(helper: Helper, seq: number): boolean {
  const deadline = Date.now() + 60_000;
  let done = Atomics.load(helper.ctrl, 1);
  if (done !== seq && SPIN_US > 0) {
    const until = performance.now() + SPIN_US / 1000;
    while ((done = Atomics.load(helper.ctrl, 1)) !== seq && performance.now() < until) { /* poll */ }
  }
  while (done !== seq) {
    if (Date.now() > deadline) break;
    Atomics.wait(helper.ctrl, 1, done, 1000);
    done = Atomics.load(helper.ctrl, 1);
  }
  if (done !== seq) helpersEnabled = false;
  return done === seq && Atomics.load(helper.ctrl, 3) === 0;
}

function call(k: TrainKernelExports, [name, a]: Call): void {
  (k[name] as unknown as (...args: number[]) => void)(...a);
}
