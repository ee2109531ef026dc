/**
 * `model.onnx` beside a saved tfjs model (`<modelDir>/model.json` + `weights.bin`): writing it
 * (export) and reading it back with the checks inference needs. The file's metadata records
 * what it was made from (a SHA-256 of model.json + weights.bin), its classes and its output, so
 * a stale file (the tfjs model was retrained) is recognised and a foreign one is checked.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { loadModel } from '../runtime/modelFile';
import { writeFileAtomicSync } from '../util/atomicWrite';
import { tfjsToOnnx, type OnnxOutputActivation } from './onnxGraph';
import { decodeModel, encodeModel, valueInfoDims, type Dim, type ModelProto } from './onnxProto';

const ONNX_FILE = 'model.onnx';

/** Metadata keys written into every exported file. */
const META = {
  source: 'fat2019.source_sha256',
  classes: 'fat2019.classes',
  output: 'fat2019.output',
  layout: 'fat2019.input_layout',
  arch: 'fat2019.arch',
} as const;

export const onnxPath = (modelDir: string): string => join(modelDir, ONNX_FILE);

/** SHA-256 (hex) of the tfjs model files of `modelDir`: what an exported file was made from. */
export function tfjsModelChecksum(modelDir: string): string {
  const hash = createHash('sha256');
  for (const name of ['model.json', 'weights.bin']) {
    const file = join(modelDir, name);
    if (!existsSync(file)) throw new Error(`${file} not found`);
    hash.update(readFileSync(file));
  }
  return hash.digest('hex');
}

/** Options of {@link exportModelDir} / {@link exportModelBytes}. */
export interface OnnxExportOptions {
  /** 'none' (default: logits; inference applies the task's activation), 'sigmoid' or 'softmax'. */
  activation?: OnnxOutputActivation;
  /** Class names (output columns), stored in the file. */
  classes?: readonly string[];
  /** Architecture name, stored in the file. */
  arch?: string;
}

/** The `.onnx` bytes of an in-memory tfjs model. */
export function exportModelBytes(model: tf.LayersModel, options: OnnxExportOptions & { source?: string } = {}): Uint8Array {
  const metadata: Record<string, string> = {};
  if (options.source) metadata[META.source] = options.source;
  if (options.classes) metadata[META.classes] = JSON.stringify(options.classes);
  if (options.arch) metadata[META.arch] = options.arch;
  return encodeModel(tfjsToOnnx(model, { activation: options.activation ?? 'none', metadata, producerVersion: '0.1.0' }));
}

/**
 * Exports the tfjs model saved in `modelDir` to `<modelDir>/model.onnx` (atomically). Returns
 * the file written.
 */
export async function exportModelDir(modelDir: string, options: OnnxExportOptions = {}): Promise<string> {
  const source = tfjsModelChecksum(modelDir);
  const model = await loadModel(modelDir);
  try {
    const bytes = exportModelBytes(model, { ...options, source });
    const file = onnxPath(modelDir);
    writeFileAtomicSync(file, bytes);
    return file;
  } finally {
    model.dispose();
  }
}

/** What a model.onnx says about itself. */
export interface OnnxFileInfo {
  file: string;
  bytes: Uint8Array;
  /** Input dims `[batch, channels, height, width]` (symbolic dims as names). */
  inputDims: Dim[];
  inputName: string;
  outputName: string;
  /** Output width (classes), or null when symbolic. */
  numClasses: number | null;
  /** 'logits' | 'sigmoid' | 'softmax'; 'logits' when the file does not say (a foreign file). */
  output: string;
  /** Checksum of the tfjs files it was exported from (absent in a foreign file). */
  source: string | null;
}

function metadata(proto: ModelProto): Map<string, string> {
  return new Map((proto.metadata_props ?? []).map((p) => [p.key, p.value]));
}

/** Reads and parses `file`; errors name it (missing, unreadable, not ONNX, not one image input). */
export function readOnnxFile(file: string): OnnxFileInfo {
  if (!existsSync(file)) throw new Error(`${file}: ONNX model not found`);
  const bytes = new Uint8Array(readFileSync(file));
  if (bytes.length === 0) throw new Error(`${file}: empty file, not an ONNX model`);
  const proto = decodeModel(bytes, file);
  const graph = proto.graph;
  if (!graph || !graph.input?.length || !graph.output?.length) throw new Error(`${file}: not an ONNX model (no graph with inputs and outputs)`);
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = graph.input.filter((i) => !initializers.has(i.name));
  if (inputs.length !== 1 || graph.output.length !== 1) {
    throw new Error(`${file}: expected one input and one output, found ${inputs.length} and ${graph.output.length}`);
  }
  const inputDims = valueInfoDims(inputs[0]);
  const outDims = valueInfoDims(graph.output[0]);
  if (inputDims.length !== 4) throw new Error(`${file}: input must be NCHW [batch, channels, mel bands, frames], got [${inputDims.join(', ')}]`);
  if (outDims.length !== 2) throw new Error(`${file}: output must be [batch, classes], got [${outDims.join(', ')}]`);
  const meta = metadata(proto);
  return {
    file,
    bytes,
    inputDims,
    inputName: inputs[0].name,
    outputName: graph.output[0].name,
    numClasses: typeof outDims[1] === 'number' ? outDims[1] : null,
    output: meta.get(META.output) ?? 'logits',
    source: meta.get(META.source) ?? null,
  };
}

/** What inference expects of a member's file. */
export interface OnnxExpectation {
  channels: number;
  height: number;
  width: number;
  numClasses: number;
}

/**
 * Throws naming the file when it does not fit the run: input `[batch, channels, height, width]`,
 * output `[batch, numClasses]` logits.
 */
export function checkOnnxFits(info: OnnxFileInfo, want: OnnxExpectation, fix: string): void {
  const [, c, h, w] = info.inputDims;
  const fits = (d: Dim, n: number) => typeof d !== 'number' || d === n;
  if (!fits(c, want.channels) || !fits(h, want.height) || !fits(w, want.width)) {
    throw new Error(
      `${info.file}: input is [${info.inputDims.join(', ')}], the run needs [batch, ${want.channels}, ${want.height}, ${want.width}] ` +
        `(channels, mel bands, frames); ${fix}`,
    );
  }
  if (info.numClasses !== null && info.numClasses !== want.numClasses) {
    throw new Error(`${info.file}: outputs ${info.numClasses} classes, the run has ${want.numClasses}; ${fix}`);
  }
  if (info.output !== 'logits') {
    throw new Error(`${info.file}: outputs ${info.output} probabilities, inference needs logits (it applies the task's activation itself); ${fix}`);
  }
}
