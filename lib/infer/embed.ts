/**
 * Clip embeddings: the penultimate layer of a run's network (the input of its last Dense layer:
 * PANNs' fc1 output, the fastai head's hidden layer), averaged over the clip's inference windows
 * (the run's windows; a network of any width sees a short clip whole). For plots (PCA), nearest
 * neighbours, or a classifier of one's own on top (`train --from R --freeze-body` is that
 * inside the toolkit).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { InferConfig, InputNormalization } from '../config';
import { csvField } from '../data/labels';
import { findRunMembers, readRunInfo } from '../run/runFolder';
import { loadModel } from '../runtime/modelFile';
import { writeFileAtomicSync } from '../util/atomicWrite';
import { decodeForTagging } from './tag';
import type { ClipImage } from '../features/types';
import { toModelInput } from '../runtime/modelInput';
import { fillWindowBatch, planWindows, windowBatches } from './windows';
import { minInputWidth } from './windowNetwork';

/** The model from the input to the input of the last Dense layer (shares the weights; dispose only the wrapper's own nothing). */
export function embeddingModel(model: tf.LayersModel): tf.LayersModel {
  const dense = [...model.layers].reverse().find((l) => l.getClassName() === 'Dense');
  if (!dense) throw new Error(`${model.name}: no Dense layer, so no penultimate layer to embed with`);
  const input = dense.input as tf.SymbolicTensor;
  if (input.shape.length !== 2) throw new Error(`${model.name}: the last Dense layer's input is [${input.shape}], expected [batch, features]`);
  return tf.model({ name: `${model.name}_embedding`, inputs: model.inputs, outputs: input });
}

/**
 * Embeddings `[images.length][D]` of `images` with `model` (D = the penultimate layer's width),
 * the mean over each clip's windows. Leaves no tensors behind.
 */
export function embedClipImages(model: tf.LayersModel, images: readonly ClipImage[], infer: Pick<InferConfig, 'windowFrames' | 'windowShift' | 'batchSize'>, normalization: InputNormalization | null = null): { dims: number; values: Float32Array } {
  const embed = embeddingModel(model);
  const dims = embed.outputs[0].shape[1] as number;
  const [, height, width, channelsOrNull] = model.inputs[0].shape;
  const channels = channelsOrNull ?? 3;
  const frames = width ?? infer.windowFrames;
  images.forEach((img) => {
    if (height != null && img.nMels !== height) throw new Error(`clip image has ${img.nMels} mel bands, the model expects ${height}`);
  });
  const sums = new Float64Array(images.length * dims);
  const counts = new Float64Array(images.length);
  const windows = planWindows(images, frames, infer.windowShift, 'sliding', width == null ? { minFrames: minInputWidth(model) } : null);
  for (const { windows: batch, frames: w } of windowBatches(windows, frames, Math.max(1, infer.batchSize))) {
    const nMels = images[batch[0].clip].nMels;
    const x = new Float32Array(batch.length * nMels * w);
    fillWindowBatch(images, batch, w, x);
    const out = tf.tidy(() => (embed.predict(toModelInput(x, batch.length, nMels, w, channels, normalization)) as tf.Tensor).dataSync());
    batch.forEach((win, j) => {
      counts[win.clip]++;
      for (let d = 0; d < dims; d++) sums[win.clip * dims + d] += out[j * dims + d];
    });
  }
  const values = new Float32Array(images.length * dims);
  for (let i = 0; i < images.length; i++) for (let d = 0; d < dims; d++) values[i * dims + d] = sums[i * dims + d] / counts[i];
  return { dims, values };
}

/** numpy `.npy` (version 1.0) bytes of a float32 matrix `[rows][cols]`, little-endian. */
export function npyFloat32(values: Float32Array, rows: number, cols: number): Uint8Array {
  if (values.length !== rows * cols) throw new Error(`npy: ${values.length} values for [${rows}, ${cols}]`);
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + values.length * 4);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const view = new DataView(out.buffer, 10 + header.length);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i], true);
  return out;
}

/** Audio files of `paths` (files as given; folders walked recursively, sorted), in order. */
export function audioFilesOf(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const d of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, d.name);
      if (d.isDirectory()) walk(p);
      else if (AUDIO_FILE.test(d.name)) out.push(p);
    }
  };
  for (const p of paths) {
    if (!existsSync(p)) throw new Error(`${p}: not found`);
    if (statSync(p).isDirectory()) walk(p); else out.push(p);
  }
  return out;
}

const AUDIO_FILE = /\.(wav|flac|mp3|ogg|m4a|aac|webm)$/i;

/** Options of {@link embedFiles}. */
export interface EmbedFilesOptions {
  /** Which member of the run (default: the first of its ensemble). */
  arch?: string;
  stage?: number;
  fold?: number;
  onFile?: (done: number, total: number) => void;
}

/**
 * Embeddings of audio files with a run's network: each file decoded at the run's rate, the
 * run's preprocessing, {@link embedClipImages} with the run's windows. Errors name the file.
 */
export async function embedFiles(runDir: string, files: readonly string[], options: EmbedFilesOptions = {}): Promise<{ member: string; dims: number; values: Float32Array }> {
  const info = readRunInfo(runDir);
  const stages = options.stage !== undefined ? [options.stage] : info.config.pipeline.ensembleStages;
  const members = findRunMembers(runDir, { archs: options.arch ? [options.arch] : undefined, stages, folds: options.fold !== undefined ? [options.fold] : undefined });
  if (members.length === 0) throw new Error(`${runDir}: no finished model${options.arch ? ` of ${options.arch}` : ''} in stage(s) ${stages.join(', ')}`);
  const member = members[0];
  const model = await loadModel(member.modelDir);
  try {
    const images: ClipImage[] = [];
    for (const [i, file] of files.entries()) {
      images.push((await decodeForTagging(file, info.config.preprocess)).image);
      options.onFile?.(i + 1, files.length);
    }
    const { dims, values } = embedClipImages(model, images, info.config.infer, info.config.model.inputNormalization ?? null);
    return { member: `${member.arch}/stage${member.stage}/fold${member.fold}`, dims, values };
  } finally {
    model.dispose();
  }
}

/** The file list written beside a `.npy` of embeddings (`emb.npy` → `emb.files.txt`); null for a CSV. */
export function embeddingNamesPath(out: string): string | null {
  return out.toLowerCase().endsWith('.npy') ? `${out.slice(0, -4)}.files.txt` : null;
}

/** Writes embeddings: `.npy` (float32 [files, dims], file names in `<out>.files.txt`) or CSV (file, e0..). */
export function writeEmbeddings(out: string, files: readonly string[], dims: number, values: Float32Array): string[] {
  const names = embeddingNamesPath(out);
  if (names !== null) {
    writeFileAtomicSync(out, npyFloat32(values, files.length, dims));
    writeFileAtomicSync(names, files.join('\n') + '\n');
    return [out, names];
  }
  const lines = [['file', ...Array.from({ length: dims }, (_, d) => `e${d}`)].join(',')];
  files.forEach((f, i) => lines.push([csvField(f), ...Array.from(values.subarray(i * dims, (i + 1) * dims), (v) => String(v))].join(',')));
  writeFileAtomicSync(out, lines.join('\n') + '\n');
  return [out];
}
