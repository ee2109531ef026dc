/// <reference lib="dom" />
// (tslab compiles notebook imports without the DOM lib; this file uses WebAssembly/Blob types.)
/**
 * Multithreaded tfjs wasm backend in Node.
 *
 * Why this exists: tfjs-backend-wasm 4.22 switches threads off in Node (its flag
 * `WASM_HAS_MULTITHREAD_SUPPORT` returns false there) because Emscripten's pthread workers are
 * started from `blob:` URLs, which `worker_threads` refuses, and the main script is handed to
 * the workers as a `Blob`, which the worker cannot `importScripts`. XNNPACK's convolutions and
 * matmuls scale with threads, so we make the threaded SIMD binary work:
 *
 * 1. The worker script (`wasmWorkerContents` in the bundle) is written to a real file, with a
 *    preamble that defines the bundle-level names the Emscripten factory refers to
 *    (`require$$0..4`, `commonjsGlobal`, `__dirname`).
 * 2. The factory source, which tfjs wraps in a `Blob`, is captured when that Blob is made and
 *    written to a file too; the `load` message to each worker gets the file path instead.
 * 3. `globalThis.Worker` (Emscripten assigns `worker_threads.Worker` to it) is replaced by a
 *    subclass that maps `blob:` paths to the worker file and is always `unref()`ed, so idle pool
 *    threads never keep the process alive (the main thread is blocked inside wasm while they
 *    work, so nothing is lost).
 *
 * This depends on bundle internals of tfjs-backend-wasm 4.22.0 (checked at run time: anything
 * unexpected makes {@link prepareWasmThreads} return a reason and the caller falls back to the
 * single-threaded SIMD binary).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import * as workerThreads from 'node:worker_threads';
import { writeFileAtomicSync } from '../../util/atomicWrite';

/** Result of {@link prepareWasmThreads}: `ok` false comes with the reason threads are off. */
export interface WasmThreadsPreparation {
  ok: boolean;
  reason?: string;
  /** Folder holding the generated worker and main scripts. */
  dir?: string;
}

/** Preamble for the worker file: the free names of the Emscripten factory inside the bundle. */
const WORKER_PREAMBLE = [
  '"use strict";',
  'globalThis.require$$0 = require("fs");',
  'globalThis.require$$1 = require("path");',
  'globalThis.require$$3 = require("perf_hooks");',
  'globalThis.require$$4 = require("os");',
  'globalThis.commonjsGlobal = globalThis;',
  'globalThis.__dirname = __dirname;',
].join('\n');

/** Prefix tfjs puts before the threaded factory source in its main-script Blob. */
const FACTORY_PREFIX = 'var WasmBackendModuleThreadedSimd = ';

interface ThreadsState {
  dir: string;
  workerPath: string;
  factoryPath: string | null;
  blobTexts: WeakMap<object, string>;
  installed: boolean;
}

const STATE_KEY = Symbol.for('fat2019.wasmThreads.state');

function state(): ThreadsState | undefined {
  return (globalThis as Record<symbol, unknown>)[STATE_KEY] as ThreadsState | undefined;
}

/** True when this V8 can run shared-memory wasm (threads + atomics). */
function wasmThreadsSupported(): boolean {
  try {
    if (typeof SharedArrayBuffer === 'undefined') return false;
    // Same probe as tfjs (wasm-feature-detect): a module with a shared memory and an atomic op.
    return WebAssembly.validate(new Uint8Array([
      0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5,
      4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0, 26, 11,
    ]));
  } catch {
    return false;
  }
}

/** Path of the tfjs-backend-wasm Node bundle whose internals this module relies on. */
function wasmBundlePath(): string {
  return require.resolve('@tensorflow/tfjs-backend-wasm');
}

/**
 * Writes the worker script, installs the `Worker`/`Blob` shims and returns ok when threads can
 * be tried. Must run before the wasm backend is initialised. Idempotent.
 */
export function prepareWasmThreads(): WasmThreadsPreparation {
  const existing = state();
  if (existing?.installed) return { ok: true, dir: existing.dir };
  if (!wasmThreadsSupported()) return { ok: false, reason: 'this Node/V8 lacks shared-memory wasm threads' };
  let bundle: string;
  try {
    bundle = fs.readFileSync(wasmBundlePath(), 'utf8');
  } catch (err) {
    return { ok: false, reason: `cannot read tfjs-backend-wasm bundle: ${(err as Error).message}` };
  }
  const m = bundle.match(/\nvar wasmWorkerContents = ("(?:[^"\\]|\\.)*");\n/);
  if (!m) return { ok: false, reason: 'wasmWorkerContents not found in tfjs-backend-wasm bundle (version changed?)' };
  if (!bundle.includes('factoryConfig.mainScriptUrlOrBlob = new Blob(')) {
    return { ok: false, reason: 'tfjs-backend-wasm bundle layout changed (no mainScriptUrlOrBlob Blob)' };
  }
  let workerSource: string;
  try {
    // tfjs escapes newlines before making its Blob: one sits inside a string literal.
    workerSource = (JSON.parse(m[1]) as string).replace(/\n/g, '\\n');
  } catch (err) {
    return { ok: false, reason: `cannot parse wasmWorkerContents: ${(err as Error).message}` };
  }
  if (!workerSource.includes('importScripts(e.data.urlOrBlob)')) {
    return { ok: false, reason: 'unexpected wasm worker script (version changed?)' };
  }
  const hash = createHash('sha256').update(workerSource).digest('hex').slice(0, 12);
  const dir = path.join(os.tmpdir(), `fat2019-tfjs-wasm-threads-${hash}`);
  const workerPath = path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js');
  try {
    const text = `${WORKER_PREAMBLE}\n${workerSource}`;
    if (!fs.existsSync(workerPath) || fs.readFileSync(workerPath, 'utf8') !== text) {
      writeFileAtomicSync(workerPath, text);
    }
  } catch (err) {
    return { ok: false, reason: `cannot write wasm worker script to ${dir}: ${(err as Error).message}` };
  }
  const st: ThreadsState = { dir, workerPath, factoryPath: null, blobTexts: new WeakMap(), installed: false };
  (globalThis as Record<symbol, unknown>)[STATE_KEY] = st;
  installBlobShim(st);
  installWorkerShim(st);
  st.installed = true;
  return { ok: true, dir };
}

/** Records the text of Blobs built from the threaded factory source (needed by the workers). */
function installBlobShim(st: ThreadsState): void {
  const Base = globalThis.Blob;
  if ((Base as unknown as { __fat2019?: boolean }).__fat2019) return;
  class RecordingBlob extends Base {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      if (parts && parts.length > 0 && typeof parts[0] === 'string' && parts[0].startsWith(FACTORY_PREFIX)) {
        st.blobTexts.set(this, (parts as string[]).join(''));
      }
    }
  }
  (RecordingBlob as unknown as { __fat2019?: boolean }).__fat2019 = true;
  globalThis.Blob = RecordingBlob as typeof Blob;
}

function factoryPathFor(st: ThreadsState, text: string): string {
  if (st.factoryPath) return st.factoryPath;
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 12);
  const p = path.join(st.dir, `tfjs-backend-wasm-threaded-simd.${hash}.js`);
  if (!fs.existsSync(p)) writeFileAtomicSync(p, text);
  st.factoryPath = p;
  return p;
}

/**
 * Makes `globalThis.Worker` a worker_threads subclass that loads our files instead of `blob:`
 * URLs and never keeps the process alive. Emscripten assigns `Worker` on every factory run, so
 * the property is an accessor whose setter is ignored.
 */
function installWorkerShim(st: ThreadsState): void {
  const NodeWorker = workerThreads.Worker;
  class UnrefWorker extends NodeWorker {
    constructor(filename: string | URL, options?: workerThreads.WorkerOptions) {
      const f = typeof filename === 'string' && filename.startsWith('blob:') ? st.workerPath : filename;
      // Workers need no TypeScript loader (tsx hooks in execArgv would transform the big script).
      super(f, { execArgv: [], ...options });
      super.unref();
    }
    // Emscripten refs a worker while its pthread runs; pool threads never exit, so a ref would
    // keep the process alive forever after training. The main thread waits on them in wasm.
    override ref(): void {}
    override postMessage(value: unknown, transferList?: readonly workerThreads.TransferListItem[]): void {
      const msg = value as { cmd?: string; urlOrBlob?: unknown } | null;
      if (msg && msg.cmd === 'load' && msg.urlOrBlob && typeof msg.urlOrBlob === 'object') {
        const text = st.blobTexts.get(msg.urlOrBlob as object);
        if (text !== undefined) msg.urlOrBlob = factoryPathFor(st, text);
      }
      super.postMessage(value, transferList);
    }
  }
  Object.defineProperty(globalThis, 'Worker', {
    configurable: true,
    enumerable: false,
    get: () => UnrefWorker,
    set: () => { /* Emscripten's assignment of worker_threads.Worker is superseded. */ },
  });
}

/**
 * Runs `init` (the wasm backend's initialisation) while `os.cpus()` reports `2 * threads`
 * logical cores. Why: tfjs' C++ side caps its XNNPACK thread pool at half the logical cores
 * (it assumes 2 hyper-threads per core), read once when the module starts; on a 2-core machine
 * that leaves 1 thread. The real `os.cpus` is restored afterwards.
 */
export async function withReportedCores<T>(threads: number, init: () => Promise<T>): Promise<T> {
  // The very module object the bundle holds (`require$$4`): a namespace import would be a copy.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const osModule = require('os') as { cpus: () => os.CpuInfo[] };
  const realCpus = osModule.cpus;
  const real = realCpus.call(osModule);
  const wanted = Math.max(real.length, 2 * threads);
  osModule.cpus = () => {
    const list = realCpus.call(osModule);
    while (list.length < wanted) list.push({ ...list[list.length % Math.max(1, real.length)] });
    return list;
  };
  try {
    return await init();
  } finally {
    osModule.cpus = realCpus;
  }
}
