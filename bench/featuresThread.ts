/**
 * The 1-thread feature timing of bench/features.ts, in a worker thread of its own.
 *
 * Why a thread: V8 keeps one "ArrayBuffer detaching" protector per isolate. The first time any
 * ArrayBuffer of the isolate is detached (a transfer, or a WebAssembly.Memory growing, as tsx's
 * wasm module lexer does under `node --import tsx` when it reads a source file of ~16 KB that
 * has imports, e.g. lib/data/preprocess.ts), the protector is invalidated for good and every
 * typed-array access compiled afterwards carries a detached-buffer check: clipImageFromSamples
 * then runs ~25 % slower. The bench process imports lib/data/preprocess; `preprocess` workers
 * and the `fat2019` CLI (tsx/cjs) don't trip it. A fresh thread measures what they run.
 *
 * workerData: `{ clips: Float32Array[], config }` (copied). Messages in: `{ clips: n }`, run the
 * next n clips; out: `{ ms, cpuMs }`, their wall time and the process's CPU time over them (the
 * main thread waits for the message meanwhile, so that is this thread's, V8's helpers included).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { PreprocessConfig } from '../lib/config';
import { clipImageFromSamples } from '../lib/features';

if (!parentPort) throw new Error('bench/featuresThread must run in a worker thread');
const port = parentPort;
const { clips, config } = workerData as { clips: Float32Array[]; config: PreprocessConfig };
let k = 0;
port.on('message', (msg: { clips: number }) => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < msg.clips; i++) clipImageFromSamples(clips[k++ % clips.length], config);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  port.postMessage({ ms, cpuMs: (c.user + c.system) / 1000 });
});
