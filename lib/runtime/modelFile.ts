/**
 * Model files: the standard tfjs "layers-model" format, `model.json` (topology +
 * weightsManifest) and `weights.bin` (one shard), as tfjs-node's `file://` handler writes it, so
 * `tf.loadLayersModel('file://…/model.json')` under tfjs-node and {@link loadModel} here both
 * read it. Weights are float32 by name (`block1_1_conv/kernel`, …): backend-independent.
 * Training checkpoints (lib/train/checkpoint) and inference both use this module.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicSync } from '../util/atomicWrite';
// Custom layers (Mish) must be registered with tfjs before a model.json that uses them loads.
import '../models/layers';

/** Bytes per element of the dtypes tfjs layers models store. */
const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };

/** The JSON the standard format puts in `model.json`. */
interface ModelJson {
  modelTopology: unknown;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  trainingConfig?: unknown;
  userDefinedMetadata?: unknown;
}

function weightBuffer(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  const buffers = Array.isArray(data) ? data : [data];
  const total = buffers.reduce((s, b) => s + b.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const b of buffers) {
    out.set(new Uint8Array(b), offset);
    offset += b.byteLength;
  }
  return out;
}

/**
 * Writes `model` to `dir/model.json` + `dir/weights.bin` (standard tfjs layers format), each
 * file atomically. Returns the files written.
 */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const weights = weightBuffer(artifacts.weightData);
    const json: ModelJson = {
      modelTopology: artifacts.modelTopology,
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy ?? null,
      weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
    };
    if (artifacts.trainingConfig != null) json.trainingConfig = artifacts.trainingConfig;
    if (artifacts.userDefinedMetadata != null) json.userDefinedMetadata = artifacts.userDefinedMetadata;
    writeFileAtomicSync(path.join(dir, 'weights.bin'), weights);
    writeFileAtomicSync(path.join(dir, 'model.json'), JSON.stringify(json));
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  }));
  return ['model.json', 'weights.bin'];
}

function readFileNamed(file: string, what: string): Buffer {
  if (!existsSync(file)) throw new Error(`${what} ${file} not found`);
  return readFileSync(file);
}

/**
 * Reads `dir/model.json` and its weight shards, checking every shard against the sizes the
 * manifest implies. Returns tfjs model artifacts. Errors name the offending file.
 */
export function readModelArtifacts(dir: string): tf.io.ModelArtifacts {
  const jsonPath = path.join(dir, 'model.json');
  let json: ModelJson;
  try {
    json = JSON.parse(readFileNamed(jsonPath, 'model file').toString('utf8')) as ModelJson;
  } catch (err) {
    if ((err as Error).message.includes('not found')) throw err;
    throw new Error(`model file ${jsonPath} is not valid JSON (truncated?): ${(err as Error).message}`);
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new Error(`model file ${jsonPath} lacks modelTopology or weightsManifest`);
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    const groupBuffers = group.paths.map((p) => readFileNamed(path.join(dir, p), 'weights file'));
    const expected = group.weights.reduce((s, w) => {
      const bytes = DTYPE_BYTES[w.dtype];
      if (w.quantization || bytes === undefined) return NaN;
      return s + w.shape.reduce((a, b) => a * b, 1) * bytes;
    }, 0);
    const got = groupBuffers.reduce((s, b) => s + b.byteLength, 0);
    if (!Number.isNaN(expected) && got !== expected) {
      throw new Error(`weights file ${group.paths.map((p) => path.join(dir, p)).join(', ')} is truncated or corrupt: manifest in ${jsonPath} needs ${expected} bytes, found ${got}`);
    }
    specs.push(...group.weights);
    parts.push(...groupBuffers);
  }
  const weightData = weightBuffer(parts.map((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer));
  return {
    modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy ?? undefined,
    weightSpecs: specs,
    weightData: weightData.buffer as ArrayBuffer,
  };
}

/** Loads a model saved by {@link saveModel} (or tfjs-node's `file://` handler) from `dir`. */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(tf.io.fromMemory(readModelArtifacts(dir)));
}

/**
 * Copies the weights saved in `dir` into an existing `model` by weight name (all weights,
 * BatchNorm running statistics included). Throws when a weight is missing or has another shape.
 */
export function loadWeightsInto(model: tf.LayersModel, dir: string): void {
  const artifacts = readModelArtifacts(dir);
  const named = tf.io.decodeWeights(artifacts.weightData!, artifacts.weightSpecs!);
  try {
    model.loadWeights(named, true);
  } catch (err) {
    throw new Error(`weights in ${path.join(dir, 'weights.bin')} do not fit the model: ${(err as Error).message}`);
  } finally {
    for (const t of Object.values(named)) t.dispose();
  }
}
