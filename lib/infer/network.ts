/**
 * A network that scores windows, on either engine: tfjs (a LayersModel, NHWC, on the current
 * backend) or ONNX Runtime (a model.onnx, NCHW, on native threads). Both take the same
 * single-channel windows `[n][H][W]` (0..1) and return logits `[n][C]`, so the predictor,
 * activation and averaging are one code path whatever the engine.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { InputNormalization } from '../config';
import { loadOnnxRuntime, ortSessionOptions, type OrtModule, type OrtSession } from '../runtime/onnxRuntime';

export { tfjsNetwork, type EngineName, type WindowNetwork } from './windowNetwork';
import type { WindowNetwork } from './windowNetwork';

/** What an ONNX file's network takes and gives (its input dims, or the run's config where the file leaves one free). */
export interface OrtDims {
  channels: number;
  height: number | null;
  width: number | null;
  /** Fewest frames when width is free (the architecture's minimum input); default 1. */
  minWidth?: number;
  numClasses: number;
}

/** Options of {@link ortNetwork}. */
export interface OrtNetworkOptions {
  /** ONNX Runtime intra-op threads (default: every core). */
  threads?: number;
  inputName?: string;
  outputName?: string;
  /**
   * Where the session runs: 'main' (this thread; each forward pass blocks the event loop) or
   * 'worker' (a worker thread, ./ortWorker: the main thread stays free to feed the
   * preprocessing workers and print progress while the network runs). Default 'main'.
   */
  thread?: 'main' | 'worker';
  /** ModelConfig.inputNormalization: `(x − mean[c]) / std[c]` per channel, as in training. */
  normalization?: InputNormalization | null;
}

/**
 * The batch `x` `[n][H][W]` as NCHW `[n][channels][H][W]`: the window repeated on each channel,
 * `(x − mean[c]) / std[c]` when the run normalises its input.
 */
function toNchw(x: Float32Array, n: number, channels: number, plane: number, out: Float32Array, norm: InputNormalization | null): Float32Array {
  for (let b = 0; b < n; b++) {
    const src = x.subarray(b * plane, (b + 1) * plane);
    for (let c = 0; c < channels; c++) {
      const offset = (b * channels + c) * plane;
      if (!norm) {
        out.set(src, offset);
        continue;
      }
      const mean = norm.mean[c];
      const scale = 1 / norm.std[c];
      for (let i = 0; i < plane; i++) out[offset + i] = (src[i] - mean) * scale;
    }
  }
  return out;
}

/** The run's input normalisation, checked against the model's channels. */
function checkNormalization(options: OrtNetworkOptions, channels: number, name: string): InputNormalization | null {
  const norm = options.normalization ?? null;
  if (norm && (norm.mean.length !== channels || norm.std.length !== channels)) {
    throw new Error(`${name}: inputNormalization has ${norm.mean.length} means and ${norm.std.length} stds for a ${channels}-channel model input`);
  }
  return norm;
}

const ORT_WORKER_SCRIPT = join(__dirname, 'ortWorker.cjs');

type WorkerReply =
  | { type: 'ready'; inputNames: string[]; outputNames: string[] }
  | { type: 'result'; id: number; data: Float32Array; dims: number[] }
  | { type: 'error'; id: number; message: string };

/** {@link ortNetwork} with the session on a worker thread. */
async function ortWorkerNetwork(model: Uint8Array, name: string, dims: OrtDims, options: OrtNetworkOptions): Promise<WindowNetwork> {
  const norm = checkNormalization(options, dims.channels, name);
  const worker = new Worker(ORT_WORKER_SCRIPT);
  const pending = new Map<number, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let dead: Error | null = null;
  const failAll = (err: Error) => {
    dead = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (m: WorkerReply) => {
    const id = m.type === 'ready' ? -1 : m.id;
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    // An idle worker does not keep the process alive (an ensemble left undisposed).
    if (pending.size === 0) worker.unref();
    if (m.type === 'error') p.reject(new Error(m.message));
    else p.resolve(m);
  });
  worker.on('error', (err) => failAll(new Error(`${name}: ONNX Runtime worker thread crashed: ${err.message}`)));
  worker.on('exit', (code) => failAll(new Error(`${name}: ONNX Runtime worker thread exited (code ${code})`)));
  const request = (id: number, message: unknown, transfer: ArrayBuffer[]): Promise<WorkerReply> => new Promise((resolve, reject) => {
    if (dead) return reject(dead);
    pending.set(id, { resolve, reject });
    worker.ref();
    worker.postMessage(message, transfer);
  });
  let ready: WorkerReply;
  try {
    // A copy of its own (a Node Buffer's slice() is a view), transferred to the worker.
    const copy = new Uint8Array(model);
    ready = await request(-1, { type: 'init', model: copy, options: ortSessionOptions(options.threads) }, [copy.buffer as ArrayBuffer]);
  } catch (err) {
    void worker.terminate();
    throw new Error(`${name}: ONNX Runtime cannot load it (${(err as Error).message}); export it again with fat2019 export --force`);
  }
  const names = ready as Extract<WorkerReply, { type: 'ready' }>;
  const inputName = options.inputName ?? names.inputNames[0];
  const outputName = options.outputName ?? names.outputNames[0];
  return {
    engine: 'ort',
    ...dims,
    minWidth: dims.minWidth ?? 1,
    async logits(x, n, height, width) {
      const plane = height * width;
      // A fresh buffer per pass: it is transferred to the worker.
      const input = toNchw(x, n, dims.channels, plane, new Float32Array(n * dims.channels * plane), norm);
      const id = nextId++;
      const r = await request(id, { type: 'run', id, input, dims: [n, dims.channels, height, width], inputName, outputName }, [input.buffer as ArrayBuffer]);
      const y = r as Extract<WorkerReply, { type: 'result' }>;
      if (y.dims.length !== 2 || y.dims[0] !== n || y.dims[1] !== dims.numClasses) {
        throw new Error(`${name}: output ${outputName} has shape [${y.dims.join(', ')}], expected [${n}, ${dims.numClasses}]`);
      }
      return y.data;
    },
    dispose() {
      worker.removeAllListeners('exit');
      failAll(new Error(`${name}: the ONNX Runtime worker thread was disposed`));
      void worker.terminate();
    },
  };
}

/**
 * An ONNX Runtime session of a model with NCHW input `[batch, C, H, W]` (dims as the file
 * declares them) and logits `[batch, classes]`. `name` (the file) appears in every error.
 */
export async function ortNetwork(model: Uint8Array, name: string, dims: OrtDims, options: OrtNetworkOptions = {}): Promise<WindowNetwork> {
  const { ort, reason } = loadOnnxRuntime();
  if (!ort) throw new Error(`${name}: ONNX Runtime is not available: ${reason}`);
  // The worker bootstrap sits beside this module; a bundler or a notebook kernel that compiled
  // the sources elsewhere runs the session here instead.
  if (options.thread === 'worker' && existsSync(ORT_WORKER_SCRIPT)) return ortWorkerNetwork(model, name, dims, options);
  let session: OrtSession;
  try {
    session = await ort.InferenceSession.create(model, ortSessionOptions(options.threads));
  } catch (err) {
    throw new Error(`${name}: ONNX Runtime cannot load it (${(err as Error).message.split('\n')[0]}); export it again with fat2019 export --force`);
  }
  const inputName = options.inputName ?? session.inputNames[0];
  const outputName = options.outputName ?? session.outputNames[0];
  const { channels } = dims;
  const norm = checkNormalization(options, channels, name);
  let buffer = new Float32Array(0);
  return {
    engine: 'ort',
    ...dims,
    minWidth: dims.minWidth ?? 1,
    async logits(x, n, height, width) {
      const plane = height * width;
      const size = n * channels * plane;
      // ORT reads the whole typed array: keep one exact-size buffer per batch size.
      if (buffer.length !== size) buffer = new Float32Array(size);
      toNchw(x, n, channels, plane, buffer, norm);
      const out = await session.run({ [inputName]: new (ort as OrtModule).Tensor('float32', buffer, [n, channels, height, width]) });
      const y = out[outputName];
      if (!y || y.dims.length !== 2 || y.dims[0] !== n || y.dims[1] !== dims.numClasses) {
        throw new Error(`${name}: output ${outputName} has shape [${y?.dims.join(', ')}], expected [${n}, ${dims.numClasses}]`);
      }
      return Float32Array.from(y.data as Float32Array);
    },
    dispose() {
      void session.release();
    },
  };
}
