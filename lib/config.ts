/**
 * The one typed configuration of the toolkit. Every reference constant of the FAT2019
 * 12th-place solution (see README "Reference facts") lives here and nowhere else; modules
 * take the section they need as an argument, so a notebook or the CLI can override any field.
 *
 * Values marked "(unknown)" were not recoverable from the original solution: they are
 * sensible choices, documented as such, and every one is a config field.
 */

/** Preprocessing: load → trim → pad → log-mel → uint8 image (librosa 0.6.3 semantics). */
export interface PreprocessConfig {
  /** Target sample rate in Hz; other rates are resampled (resampy kaiser_best). */
  sampleRate: number;
  /** librosa.effects.trim: frames within `trimTopDb` of the loudest frame are kept. */
  trimTopDb: number;
  trimFrameLength: number;
  trimHopLength: number;
  /** Clips shorter than this many samples are zero-padded on both sides (2 s). */
  minSamples: number;
  nFft: number;
  hopLength: number;
  nMels: number;
  fMin: number;
  fMax: number;
  /** power_to_db parameters. */
  dbRef: number;
  dbAmin: number;
  dbTopDb: number;
  /** Epsilon added to the std when z-scoring the dB matrix into an image. */
  imageEps: number;
}

export const PREPROCESS_DEFAULTS: Readonly<PreprocessConfig> = Object.freeze({
  sampleRate: 44100,
  trimTopDb: 60,
  trimFrameLength: 2048,
  trimHopLength: 512,
  minSamples: 88200,
  nFft: 2560,
  // The original README says 347; the code uses 347 × 2 = 694, giving 128 frames per 2 s.
  hopLength: 694,
  nMels: 128,
  fMin: 20,
  fMax: 22050,
  dbRef: 1,
  dbAmin: 1e-10,
  dbTopDb: 80,
  imageEps: 1e-6,
});

export type Architecture = 'cnnModel1' | 'vgg16bn';

/** Model shape. Reference: 3×128×128 input, 80 classes, full width. */
export interface ModelConfig {
  arch: Architecture;
  numClasses: number;
  /** Input height (mel bands) and width (frames of the training crop). */
  inputMels: number;
  inputFrames: number;
  /** Multiplies every conv and dense width (1 = reference); the CPU demo uses less. */
  widthMultiplier: number;
  /** Dropout rates of the two head blocks. */
  headDropout1: number;
  headDropout2: number;
}

export const MODEL_DEFAULTS: Readonly<ModelConfig> = Object.freeze({
  arch: 'cnnModel1' as Architecture,
  numClasses: 80,
  inputMels: 128,
  inputFrames: 128,
  widthMultiplier: 1,
  headDropout1: 0.25,
  headDropout2: 0.5,
});

/** AdamW with the fastai one-cycle schedule for learning rate and β1. */
export interface OptimizerConfig {
  maxLr: number;
  /** Decoupled weight decay, applied to every parameter (BN included) as in the reference. */
  weightDecay: number;
  /** Fraction of the steps spent warming up. */
  pctStart: number;
  /** Start lr = maxLr / divFactor. */
  divFactor: number;
  /** Final lr = maxLr / finalDivFactor (fastai: div_factor × 1e4 = 25e4). */
  finalDivFactor: number;
  /** β1 goes beta1Max → beta1Min during warm-up and back during annealing. */
  beta1Max: number;
  beta1Min: number;
  beta2: number;
  epsilon: number;
}

export const OPTIMIZER_DEFAULTS: Readonly<OptimizerConfig> = Object.freeze({
  // (unknown) per-stage lr; 3e-3 is what the public kernel the solution started from used.
  maxLr: 3e-3,
  weightDecay: 0.01,
  pctStart: 0.3,
  divFactor: 25,
  finalDivFactor: 25e4,
  beta1Max: 0.95,
  beta1Min: 0.85,
  beta2: 0.99,
  epsilon: 1e-8,
});

/** The fit loop. */
export interface TrainConfig {
  epochs: number;
  /** Samples per optimizer step (reference 128). */
  batchSize: number;
  /**
   * Samples per forward/backward pass; gradients of micro-batches are accumulated up to
   * `batchSize`. 0 = same as batchSize. Needed on CPU: the 4 GiB wasm heap cannot hold a
   * full-width batch of 128.
   */
  microBatchSize: number;
  seed: number;
  /** Stop when validation lwlrap has not improved for this many epochs (0 = never). */
  earlyStoppingPatience: number;
}

export const TRAIN_DEFAULTS: Readonly<TrainConfig> = Object.freeze({
  epochs: 100, // (unknown) the public kernel used 100 epochs at lr 3e-3
  batchSize: 128,
  microBatchSize: 0,
  seed: 2019,
  earlyStoppingPatience: 0,
});

/** Sliding-window inference over a clip's image. */
export interface InferConfig {
  windowFrames: number;
  windowShift: number;
  /** How scores of windows and models are averaged. */
  ensembleMean: 'arithmetic' | 'geometric';
  /** Windows per forward pass (bounds memory for long clips and big ensembles). */
  batchSize: number;
}

export const INFER_DEFAULTS: Readonly<InferConfig> = Object.freeze({
  windowFrames: 128,
  windowShift: 48,
  ensembleMean: 'arithmetic' as const,
  batchSize: 64,
});

/** The 4-stage warm-up pipeline with k-fold cross-validation. */
export interface PipelineConfig {
  folds: number;
  /** Stage 3: keep noisy clips with sqrt(l1·l2) ≥ this. */
  stage3MinScore: number;
  /** Stage 3: at most this many selected noisy clips per fold per label. */
  stage3MaxPerFoldPerLabel: number;
  /** Stage 4: keep noisy clips with l3 ≥ this (reference: l3 = 1). */
  stage4MinScore: number;
  /** Stages whose models form the test ensemble. */
  ensembleStages: number[];
}

export const PIPELINE_DEFAULTS: Readonly<PipelineConfig> = Object.freeze({
  folds: 10,
  stage3MinScore: 0.5,
  stage3MaxPerFoldPerLabel: 5,
  stage4MinScore: 1,
  ensembleStages: [2, 3, 4],
});

/** A recursive partial, for overrides: `withDefaults(TRAIN_DEFAULTS, { epochs: 3 })`. */
export type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K];
};

/** Returns a fresh mutable copy of `defaults` with `overrides` merged in (deeply, arrays replaced). */
export function withDefaults<T extends object>(defaults: Readonly<T>, overrides: DeepPartial<T> = {}): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(defaults)) {
    out[key] = isPlainObject(value) ? withDefaults(value, {}) : Array.isArray(value) ? [...value] : value;
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!(key in out)) throw new Error(`unknown config field "${key}" (known: ${Object.keys(out).join(', ')})`);
    const base = out[key];
    out[key] = isPlainObject(base) && isPlainObject(value) ? withDefaults(base, value as DeepPartial<object>) : value;
  }
  return out as T;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
