/**
 * ONNX Runtime for Node (onnxruntime-node, an optional dependency): loaded on first use, or the
 * reason it is not available. The package ships its CPU library for Linux, macOS and Windows
 * inside the npm package; its install script, which would download CUDA libraries, is denied
 * in package.json's allowScripts. Set FAT2019_NO_ORT=1 to act as if it were absent (tests of the tfjs fallback).
 */
import { availableParallelism } from 'node:os';

/** The parts of onnxruntime-node used here, typed locally so the code compiles without the optional package. */
export interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
  readonly type: string;
}

export interface OrtSessionOptions {
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  executionMode?: 'sequential' | 'parallel';
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  executionProviders?: string[];
}

export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

export interface OrtModule {
  InferenceSession: { create(model: string | Uint8Array, options?: OrtSessionOptions): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
  env: { versions?: { node?: string } };
}

let cached: { ort: OrtModule | null; reason: string } | null = null;

/** The module, or null with the reason it could not be loaded. */
export function loadOnnxRuntime(): { ort: OrtModule | null; reason: string } {
  if (process.env.FAT2019_NO_ORT === '1') return { ort: null, reason: 'FAT2019_NO_ORT=1 is set' };
  if (!cached) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const ort = require('onnxruntime-node') as unknown as OrtModule;
      cached = { ort, reason: `onnxruntime-node ${ort.env.versions?.node ?? ''} loaded`.trim() };
    } catch (err) {
      const msg = (err as Error).message.split('\n')[0];
      cached = { ort: null, reason: `onnxruntime-node could not be loaded (${msg}); install it with npm ci` };
    }
  }
  return cached;
}

/** Session options for this machine: `threads` intra-op threads (default every core), one inter-op thread. */
export function ortSessionOptions(threads?: number): OrtSessionOptions {
  const n = threads ?? availableParallelism();
  if (!Number.isInteger(n) || n < 1) throw new Error(`ONNX Runtime threads must be an integer >= 1, got ${n}`);
  return {
    intraOpNumThreads: n,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
  };
}
