/**
 * The one list of architectures (timm-like): each network's file calls
 * {@link registerArchitecture} once at load time, and config validation, the CLI, run folders,
 * ensembles, benchmarks and notebooks read the names from here. Import the registry through
 * `lib/models` (index.ts), which loads every family file; this module alone is empty.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config';
import type { Rng } from '../util/rng';

/** Smallest input (mel bands × frames) a network accepts, from its downsampling. */
export interface MinInput {
  mels: number;
  frames: number;
}

/** One registered network. */
export interface ArchitectureSpec {
  /** Registry key, also the run-folder directory and `--arch` value (e.g. `resnet18`). */
  readonly name: string;
  /** One line for `--help` and notebooks: what it is and where it comes from. */
  readonly description: string;
  /**
   * Number of 2× downsamplings before the head; with the default {@link minInput} the input
   * must be at least 2^pools on each side (the last feature map is then at least 1×1).
   */
  readonly pools: number;
  /** Smallest accepted input; default 2^pools × 2^pools. */
  minInput?(cfg: ModelConfig): MinInput;
  /**
   * Channels of the model's input. The single-channel image is repeated to fill them (the
   * reference feeds the same log-mel image on 3 channels); default 3.
   */
  inputChannels?(cfg: ModelConfig): number;
  /**
   * The network with placeholder (zero) weights: input NHWC `[B, inputMels, inputFrames,
   * inputChannels]` in 0..1, output logits `[B, numClasses]`. `buildModel` validates `cfg`
   * first and initialises the weights after.
   */
  build(cfg: ModelConfig): tf.LayersModel;
  /** Initial weights as the reference initialises them, drawn from `rng` (deterministic). */
  init(model: tf.LayersModel, rng: Rng, cfg: ModelConfig): void;
  /**
   * Layers of the classifier head, replaced when fine-tuning on other classes and trained at
   * the full learning rate (lib/train/finetune); default: names starting with `head_`.
   */
  isHeadLayer?(layerName: string): boolean;
  /** Checks of arch-specific ModelConfig fields; throws naming the field. */
  validate?(cfg: ModelConfig): void;
}

const REGISTRY_KEY = Symbol.for('fat2019.models.registry');

/**
 * The registry lives on globalThis: a notebook (tslab) may load this module twice, and both
 * copies must see the same list.
 */
function registry(): Map<string, ArchitectureSpec> {
  const g = globalThis as Record<symbol, unknown>;
  if (!g[REGISTRY_KEY]) g[REGISTRY_KEY] = new Map<string, ArchitectureSpec>();
  return g[REGISTRY_KEY] as Map<string, ArchitectureSpec>;
}

/** Adds `spec` under `spec.name`. Registering the same name again replaces it (module reloads). */
export function registerArchitecture(spec: ArchitectureSpec): ArchitectureSpec {
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(spec.name)) {
    throw new Error(`architecture name must be letters, digits, '_' or '-' (a folder name), got '${spec.name}'`);
  }
  registry().set(spec.name, spec);
  return spec;
}

/** Removes `name` (a plug-in's test network); true when it was registered. */
export function unregisterArchitecture(name: string): boolean {
  return registry().delete(name);
}

/** Names of every registered architecture, in registration order. */
export function architectureNames(): string[] {
  return [...registry().keys()];
}

/** True when `name` is a registered architecture. */
export function isArchitecture(name: unknown): name is string {
  return typeof name === 'string' && registry().has(name);
}

/** The spec registered as `name`; an unknown name is an error that lists the known ones. */
export function getArchitecture(name: string): ArchitectureSpec {
  const spec = registry().get(name);
  if (!spec) {
    throw new Error(`unknown architecture '${String(name)}' (known: ${architectureNames().join(', ')})`);
  }
  return spec;
}

/** The smallest input `cfg.arch` accepts. */
export function minInputOf(spec: ArchitectureSpec, cfg: ModelConfig): MinInput {
  if (spec.minInput) return spec.minInput(cfg);
  const side = 2 ** spec.pools;
  return { mels: side, frames: side };
}

/** Channels of `cfg.arch`'s input (3 unless the spec says otherwise). */
export function inputChannelsOf(spec: ArchitectureSpec, cfg: ModelConfig): number {
  return spec.inputChannels ? spec.inputChannels(cfg) : 3;
}
