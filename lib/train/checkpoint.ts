/**
 * Checkpoints and model files.
 *
 * Model: the standard tfjs "layers-model" format, `model.json` (topology + weightsManifest)
 * and `weights.bin` (one shard), as tfjs-node's `file://` handler writes it, so
 * `tf.loadLayersModel('file://…/model.json')` under tfjs-node and {@link loadModel} here both
 * read it. Weights are float32 by name (`block1_1_conv/kernel`, …): backend-independent.
 *
 * Checkpoint folder (e.g. `weights/<run>/last/`):
 *   model.json, weights.bin   the model (BatchNorm running statistics included)
 *   optimizer.json, optimizer.bin   AdamW step and moments (see {@link AdamWState})
 *   state.json                epoch, step, schedule position, Rng state, config, history
 *   checkpoint.json           manifest {version, files: {name: {bytes, sha256}}}, written last
 * A checkpoint is written into a temporary sibling folder and swapped in by renames, so an
 * interrupted save leaves the previous checkpoint (or, in the instant between the two renames,
 * `<dir>.old-*`); a truncated or missing file is reported by name, never ignored.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicSync } from '../util/atomicWrite';
import type { RngState } from '../util/rng';
import type { AdamWState } from './adamw';
import { saveModel } from '../runtime/modelFile';

export const CHECKPOINT_VERSION = 1;
const MANIFEST = 'checkpoint.json';

/** Everything besides model and optimizer that a resumed run needs. */
export interface TrainingState<H = unknown> {
  /** Epochs completed. */
  epoch: number;
  /** Optimizer steps completed (= schedule position). */
  step: number;
  totalSteps: number;
  stepsPerEpoch: number;
  /** State of the fit loop's Rng after `epoch` (shuffles, crops, augmentation, dropout). */
  rngState: RngState;
  /** Number of training clips (a resumed run must train on the same set). */
  numTrainClips: number;
  /** The run's configuration (TrainConfig, OptimizerConfig, anything the caller adds). */
  config: unknown;
  /** Per-epoch logs so far. */
  history: H[];
  /** The run ended for good (early stopping): resuming trains no further. */
  completed?: boolean;
  stopReason?: string;
}

export interface CheckpointManifest {
  version: number;
  createdAt: string;
  files: Record<string, { bytes: number; sha256: string }>;
}

function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

function encodeOptimizer(state: AdamWState): { json: string; bin: Uint8Array } {
  const total = state.params.reduce((s, p) => s + p.m.length + p.v.length, 0);
  const bin = new Float32Array(total);
  let offset = 0;
  const params = state.params.map((p) => {
    bin.set(p.m, offset);
    bin.set(p.v, offset + p.m.length);
    offset += p.m.length + p.v.length;
    return { name: p.name, shape: p.shape };
  });
  return { json: JSON.stringify({ step: state.step, params }), bin: new Uint8Array(bin.buffer) };
}

function decodeOptimizer(json: string, bin: Uint8Array, binPath: string): AdamWState {
  const meta = JSON.parse(json) as { step: number; params: Array<{ name: string; shape: number[] }> };
  const need = meta.params.reduce((s, p) => s + 2 * p.shape.reduce((a, b) => a * b, 1), 0) * 4;
  if (bin.byteLength !== need) throw new Error(`optimizer file ${binPath} is truncated or corrupt: needs ${need} bytes, found ${bin.byteLength}`);
  const all = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  let offset = 0;
  return {
    step: meta.step,
    params: meta.params.map((p) => {
      const n = p.shape.reduce((a, b) => a * b, 1);
      const m = all.slice(offset, offset + n);
      const v = all.slice(offset + n, offset + 2 * n);
      offset += 2 * n;
      return { name: p.name, shape: p.shape, m, v };
    }),
  };
}

/**
 * Saves a full training checkpoint to `dir` (see the module comment for the layout),
 * replacing an existing one only once the new one is completely written.
 */
export async function saveCheckpoint<H>(dir: string, model: tf.LayersModel, optimizer: AdamWState, state: TrainingState<H>): Promise<void> {
  const parent = path.dirname(path.resolve(dir));
  mkdirSync(parent, { recursive: true });
  const stamp = `${process.pid}-${Date.now().toString(36)}`;
  const tmp = `${dir}.tmp-${stamp}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    const files = await saveModel(model, tmp);
    const opt = encodeOptimizer(optimizer);
    writeFileAtomicSync(path.join(tmp, 'optimizer.json'), opt.json);
    writeFileAtomicSync(path.join(tmp, 'optimizer.bin'), opt.bin);
    writeFileAtomicSync(path.join(tmp, 'state.json'), JSON.stringify({ version: CHECKPOINT_VERSION, ...state }, null, 1));
    files.push('optimizer.json', 'optimizer.bin', 'state.json');
    const manifest: CheckpointManifest = { version: CHECKPOINT_VERSION, createdAt: new Date().toISOString(), files: {} };
    for (const f of files) {
      const buf = readFileSync(path.join(tmp, f));
      manifest.files[f] = { bytes: buf.byteLength, sha256: sha256(buf) };
    }
    writeFileAtomicSync(path.join(tmp, MANIFEST), JSON.stringify(manifest, null, 1));
    const old = `${dir}.old-${stamp}`;
    if (existsSync(dir)) renameSync(dir, old);
    renameSync(tmp, dir);
    rmSync(old, { recursive: true, force: true });
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Verifies `dir/checkpoint.json` and every file it lists (size and sha256). Throws an Error
 * naming the missing, truncated or altered file.
 */
export function verifyCheckpoint(dir: string): CheckpointManifest {
  const manifestPath = path.join(dir, MANIFEST);
  if (!existsSync(manifestPath)) {
    const siblings = existsSync(path.dirname(dir))
      ? readdirSync(path.dirname(dir)).filter((n) => n.startsWith(`${path.basename(dir)}.old-`))
      : [];
    const hint = siblings.length > 0 ? ` (an interrupted save left ${siblings.map((s) => path.join(path.dirname(dir), s)).join(', ')})` : '';
    throw new Error(`checkpoint manifest ${manifestPath} not found: no complete checkpoint in ${dir}${hint}`);
  }
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as CheckpointManifest;
  } catch (err) {
    throw new Error(`checkpoint manifest ${manifestPath} is not valid JSON: ${(err as Error).message}`);
  }
  if (manifest.version !== CHECKPOINT_VERSION) {
    throw new Error(`checkpoint manifest ${manifestPath} has version ${manifest.version}, expected ${CHECKPOINT_VERSION}`);
  }
  for (const [name, info] of Object.entries(manifest.files)) {
    const file = path.join(dir, name);
    if (!existsSync(file)) throw new Error(`checkpoint file ${file} is missing (listed in ${manifestPath})`);
    const size = statSync(file).size;
    if (size !== info.bytes) throw new Error(`checkpoint file ${file} is truncated or corrupt: ${size} bytes, manifest says ${info.bytes}`);
    if (sha256(readFileSync(file)) !== info.sha256) throw new Error(`checkpoint file ${file} is corrupt: sha256 differs from ${manifestPath}`);
  }
  return manifest;
}

/** A loaded checkpoint: the model weights are applied with {@link loadWeightsInto}. */
export interface LoadedCheckpoint<H = unknown> {
  dir: string;
  optimizer: AdamWState;
  state: TrainingState<H>;
}

/** Verifies and reads a checkpoint's optimizer state and training state (not the weights). */
export function loadCheckpoint<H = unknown>(dir: string): LoadedCheckpoint<H> {
  verifyCheckpoint(dir);
  const optimizer = decodeOptimizer(
    readFileSync(path.join(dir, 'optimizer.json'), 'utf8'),
    readFileSync(path.join(dir, 'optimizer.bin')),
    path.join(dir, 'optimizer.bin'),
  );
  const statePath = path.join(dir, 'state.json');
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as TrainingState<H> & { version: number };
  if (!Array.isArray(state.rngState) || state.rngState.length !== 4) throw new Error(`checkpoint file ${statePath} has no valid rngState`);
  return { dir, optimizer, state };
}

/** True when `dir` holds a checkpoint manifest (complete or not is checked on load). */
export function hasCheckpoint(dir: string): boolean {
  return existsSync(path.join(dir, MANIFEST));
}
