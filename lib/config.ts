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
  /** power_to_db parameters; dbTopDb null = no clipping below the loudest value (PANNs). */
  dbRef: number;
  dbAmin: number;
  dbTopDb: number | null;
  /** Epsilon added to the std when z-scoring the dB matrix into an image. */
  imageEps: number;
  /**
   * What a clip becomes: 'image' (the reference) = the z-scored uint8 image the from-scratch
   * networks take; 'db' = the float32 dB matrix itself (PANNs). The feature cache's folder hash
   * leaves out this field and `trim` at their reference values, so caches made before they
   * existed stay valid.
   */
  output: 'image' | 'db';
  /** Trim leading and trailing silence first (the reference: true; PANNs: false). */
  trim: boolean;
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
  output: 'image' as 'image' | 'db',
  trim: true,
});

/**
 * The PANNs front end (Kong et al. 2020; torchlibrosa Spectrogram + LogmelFilterBank as the
 * paper's checkpoints were trained with): 32 kHz mono, periodic Hann window 1024, hop 320
 * (100 frames per s), centred frames with reflect padding, power 2, 64 Slaney mel bands
 * 50–14,000 Hz (Slaney area norm, as librosa's default), 10·log10(max(power, 1e-10)) with no
 * top-dB clip; no trimming and no uint8 image: the network takes the dB matrix ('db'). Whole
 * clips of any length; a clip under 0.32 s is zero-padded to it (centred), the 32 frames
 * Cnn14's five 2× pools need.
 */
export const PANNS_PREPROCESS: Readonly<PreprocessConfig> = Object.freeze({
  ...PREPROCESS_DEFAULTS,
  sampleRate: 32000,
  trim: false,
  minSamples: 10240,
  nFft: 1024,
  hopLength: 320,
  nMels: 64,
  fMin: 50,
  fMax: 14000,
  dbRef: 1,
  dbAmin: 1e-10,
  dbTopDb: null,
  output: 'db' as const,
});

/**
 * Preprocessing for low-rate audio (8–16 kHz: telephone speech, the dog-sound challenge's
 * 8 kHz clips, spoken digits), used automatically by `fat2019 train` on a new run when every
 * training clip's rate is at most {@link LOW_RATE_MAX_HZ}. For a rate r (the highest clip
 * rate; lower ones are resampled up to it):
 * - sampleRate r (no upsampling to 44.1 kHz, which would only add empty bands);
 * - fMax = r / 2 (Nyquist), fMin 20 Hz as the reference;
 * - nFft = the power of two nearest to 64 ms (512 at 8 kHz, 1024 at 16 kHz), as the
 *   reference's 2560 samples are 58 ms at 44.1 kHz;
 * - hopLength = r / 64, so 2 s still make 128 frames (125 at 8 kHz, 250 at 16 kHz);
 * - minSamples = 2 s, trim frames scaled likewise (nFft, nFft / 4);
 * - 128 mel bands as the reference, so every model keeps its 128 × 128 input.
 */
export function lowRatePreprocess(rate: number): PreprocessConfig {
  if (!(rate > 0 && rate <= LOW_RATE_MAX_HZ)) throw new Error(`lowRatePreprocess: rate must be in (0, ${LOW_RATE_MAX_HZ}] Hz, got ${rate}`);
  const nFft = 2 ** Math.round(Math.log2(rate * 0.064));
  return {
    ...PREPROCESS_DEFAULTS,
    sampleRate: rate,
    trimFrameLength: nFft,
    trimHopLength: nFft / 4,
    minSamples: 2 * rate,
    nFft,
    hopLength: Math.round(rate / 64),
    fMax: rate / 2,
  };
}

/** Highest clip sample rate for which {@link lowRatePreprocess} is chosen automatically. */
export const LOW_RATE_MAX_HZ = 16000;

/**
 * Checks a preprocessing config before any work: mel bands must lie below the Nyquist
 * frequency (sampleRate / 2), or the top bands would be empty. Errors name the fields.
 */
export function checkPreprocessConfig(p: PreprocessConfig, source = 'config.preprocess'): void {
  if (!(p.sampleRate > 0)) throw new Error(`${source}.sampleRate must be > 0 Hz, got ${p.sampleRate}`);
  if (p.fMax > p.sampleRate / 2) {
    throw new Error(`${source}.fMax is ${p.fMax} Hz, above the Nyquist frequency ${p.sampleRate / 2} Hz of ${source}.sampleRate ${p.sampleRate} Hz: ` +
      `the mel bands above it would be empty. Set fMax <= ${p.sampleRate / 2} (the low-rate preset does: lowRatePreprocess(${p.sampleRate}))`);
  }
  if (!(p.fMin >= 0 && p.fMin < p.fMax)) throw new Error(`${source}.fMin must be in [0, fMax = ${p.fMax}) Hz, got ${p.fMin}`);
  if (p.output !== 'image' && p.output !== 'db') throw new Error(`${source}.output must be 'image' or 'db', got ${JSON.stringify(p.output)}`);
  if (typeof p.trim !== 'boolean') throw new Error(`${source}.trim must be true or false, got ${JSON.stringify(p.trim)}`);
  if (p.dbTopDb !== null && !(p.dbTopDb >= 0)) throw new Error(`${source}.dbTopDb must be >= 0 dB or null (no clip), got ${p.dbTopDb}`);
  for (const k of ['nFft', 'hopLength', 'nMels', 'minSamples', 'trimFrameLength', 'trimHopLength'] as const) {
    if (!Number.isInteger(p[k]) || p[k] < 1) throw new Error(`${source}.${k} must be an integer >= 1, got ${p[k]}`);
  }
}

/**
 * A network's name as registered in lib/models/registry (`architectureNames()` lists them:
 * cnnModel1, vgg16bn, ...). A plain string here so that config stays free of model code;
 * `buildModel`, the CLI and run folders validate it with `getArchitecture`.
 */
export type Architecture = string;

/** Model shape. Reference: 3×128×128 input, 80 classes, full width. */
export interface ModelConfig {
  arch: Architecture;
  numClasses: number;
  /** Input height (mel bands) and width (frames of the training crop). */
  inputMels: number;
  inputFrames: number;
  /** Multiplies every conv width (1 = reference); the CPU demo uses less. The head's hidden layer does not scale. */
  widthMultiplier: number;
  /**
   * Hidden units of the fastai head (reference 512 at every width: a 1/8-wide CNN-model-1
   * with 64 hidden units scored lwlrap 0.668 on unseen recordings, with 512 it scored 0.787).
   */
  headUnits: number;
  /**
   * Activation of xresnet18/50 ('mish': fastai's Mish option, the fastai2 capstone's). Other
   * networks ignore it, so a run can mix a Mish XResNet with them.
   */
  xresnetActivation: 'relu' | 'mish';
  /**
   * mobilenetv2: take the one-channel image and learn two 1×1 convolutions that make its three
   * input channels (FAT2018 8th place), instead of repeating the image 3 times. Others ignore it.
   */
  mobilenetChannelStem: boolean;
  /** Dropout rates of the two head blocks. */
  headDropout1: number;
  headDropout2: number;
  /**
   * Per-channel normalisation of the /255 input image, `(x − mean[c]) / std[c]`, applied by the
   * model input conversion in training and inference alike. null (default, the reference's
   * from-scratch models): none. Imported fastai models carry theirs (e.g. imagenet stats).
   */
  inputNormalization?: InputNormalization | null;
}

/** Mean and std per input channel (3), on the image scaled to 0..1. */
export interface InputNormalization {
  mean: number[];
  std: number[];
}

export const MODEL_DEFAULTS: Readonly<ModelConfig> = Object.freeze({
  arch: 'cnnModel1',
  numClasses: 80,
  inputMels: 128,
  inputFrames: 128,
  widthMultiplier: 1,
  headUnits: 512,
  xresnetActivation: 'relu' as 'relu' | 'mish',
  mobilenetChannelStem: false,
  headDropout1: 0.25,
  headDropout2: 0.5,
  inputNormalization: null,
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

/** multiLabel: sigmoid + BCE, lwlrap (FAT2019); singleLabel: softmax + cross-entropy, accuracy (FAT2018). */
export type TaskName = 'multiLabel' | 'singleLabel';

/** The task (lib/task): what the labels mean; drives loss, activation, metrics, selection. */
export interface TaskConfig {
  name: TaskName;
  /** singleLabel only: cross-entropy targets (1 − ε)·y + ε/C. */
  labelSmoothing: number;
}

export const TASK_CONFIG_DEFAULTS: Readonly<TaskConfig> = Object.freeze({ name: 'multiLabel' as TaskName, labelSmoothing: 0 });

/** The training recipes of lib/train/pipeline/recipes (a list of stages each). */
export type RecipeName = 'warmup' | 'single' | 'noisyThenCurated' | 'pseudoLabel';

/** The stages of a recipe (default: the 4-stage warm-up) with k-fold cross-validation. */
export interface PipelineConfig {
  /** The recipe run (lib/train/pipeline/recipes). */
  recipe: RecipeName;
  /**
   * Cross-validation: k ≥ 2 = k folds (k models, each validated on its held-out fold);
   * 1 = one model (with `holdout` > 0 validated on that random fraction, else on nothing).
   * A `fold` column in the label CSV overrides both.
   */
  folds: number;
  /** With folds = 1: the fraction (0..1) of labelled clips held out for validation (0 = none). */
  holdout: number;
  /** pseudoLabel: unlabelled clips whose top score is ≥ this are added with their predicted labels. */
  pseudoLabelMinScore: number;
  /** pseudoLabel: at most this many added clips per predicted class (per fold). */
  pseudoLabelMaxPerClass: number;
  /** Stage 3: keep noisy clips with sqrt(l1·l2) ≥ this. */
  stage3MinScore: number;
  /** Stage 3: at most this many selected noisy clips per fold per label. */
  stage3MaxPerFoldPerLabel: number;
  /** Stage 4: keep noisy clips with l3 ≥ this (reference: l3 = 1). */
  stage4MinScore: number;
  /** Stages whose models form the test ensemble. */
  ensembleStages: number[];
  /**
   * Epochs of stages 1..4 (index 0 = stage 1). (unknown) The reference's per-stage epochs were
   * not published; the public kernel it started from trained 100 epochs at lr 3e-3.
   */
  stageEpochs: number[];
  /** One-cycle max learning rate of stages 1..4 (unknown, see stageEpochs). */
  stageMaxLr: number[];
}

const PIPELINE_DEFAULTS: Readonly<PipelineConfig> = Object.freeze({
  recipe: 'warmup' as RecipeName,
  folds: 10,
  holdout: 0,
  pseudoLabelMinScore: 0.9,
  pseudoLabelMaxPerClass: 50,
  stage3MinScore: 0.5,
  stage3MaxPerFoldPerLabel: 5,
  stage4MinScore: 1,
  ensembleStages: [2, 3, 4],
  stageEpochs: [100, 100, 100, 100],
  stageMaxLr: [3e-3, 3e-3, 3e-3, 3e-3],
});

/**
 * One augmentation's switch: when `enabled`, it is applied to each sample independently with
 * probability `p` (0..1). `enabled: false` and `p: 0` both skip it without drawing randomness.
 */
export interface AugmentToggle {
  enabled: boolean;
  p: number;
}

/** How masked/erased pixels are filled: 0, the sample's mean, or a fixed value in 0..1. */
export type MaskFill = 'zero' | 'mean' | number;

/** Waveform augmentations (SoX-style, 7th place FAT2019); not in the 12th-place reference. */
export interface WaveformAugmentConfig {
  /**
   * Master switch. Needs `TrainingClip.waveform`; every augmented clip's image is recomputed
   * (one log-mel per clip per batch, bypassing the feature cache), hence off by default.
   */
  enabled: boolean;
  /** Gain in dB ~ U(minDb, maxDb). (Nearly a no-op on the z-scored image alone; matters with noise.) */
  gain: AugmentToggle & { minDb: number; maxDb: number };
  /** Circular shift by ~ U(−maxFraction, maxFraction) of the clip length. */
  timeShift: AugmentToggle & { maxFraction: number };
  /** Duration × r, r ~ U(minStretch, maxStretch) (phase vocoder; pitch unchanged). */
  timeStretch: AugmentToggle & { minStretch: number; maxStretch: number };
  /** Pitch shift by ~ U(−maxSemitones, maxSemitones) semitones, length preserved. */
  pitchShift: AugmentToggle & { maxSemitones: number };
  /**
   * Background noise at SNR ~ U(minSnrDb, maxSnrDb). `source`: generated coloured noise
   * (`color`, 'random' = white/pink/brown uniformly), clips passed to the batch maker, or
   * 'mixed' (each 50 %).
   */
  noise: AugmentToggle & {
    minSnrDb: number;
    maxSnrDb: number;
    source: 'generated' | 'clips' | 'mixed';
    color: 'white' | 'pink' | 'brown' | 'random';
  };
  /** Fade-in and fade-out lengths ~ U(0, max…Fraction) of the clip. */
  fade: AugmentToggle & { maxInFraction: number; maxOutFraction: number; shape: 'linear' | 'quarterSine' | 'halfSine' };
  /** Exponentially decaying noise impulse response: RT60 ~ U(minRt60, maxRt60) s, wet ~ U(minWet, maxWet). */
  reverb: AugmentToggle & { minRt60: number; maxRt60: number; minWet: number; maxWet: number };
  /** RBJ low shelf at `frequency` Hz, gain ~ U(−maxGainDb, maxGainDb) (SoX `bass`: 100 Hz). */
  bass: AugmentToggle & { frequency: number; maxGainDb: number };
  /** RBJ high shelf at `frequency` Hz, gain ~ U(−maxGainDb, maxGainDb) (SoX `treble`: 3 kHz). */
  treble: AugmentToggle & { frequency: number; maxGainDb: number };
  /** RBJ peaking EQ, centre log-uniform in [minFrequency, maxFrequency] Hz, gain ~ U(±maxGainDb). */
  equalize: AugmentToggle & { minFrequency: number; maxFrequency: number; maxGainDb: number; q: number };
}

/**
 * Training augmentation (lib/augment). Order per batch: waveform (when enabled) → crop →
 * zoom → lighting per sample, then mixup → SpecMix → SpecAugment → random erasing on the batch.
 */
export interface AugmentConfig {
  /** mixup: per sample λ ~ Beta(alpha, alpha), λ = max(λ, 1 − λ), partner from a permutation. */
  mixup: AugmentToggle & { alpha: number };
  /** SpecMix: h, w ~ U(0, maxFraction); int(h·H) mel rows and int(w·W) frames from the partner. */
  specMix: AugmentToggle & { maxFraction: number };
  /** SpecAugment masks: up to `freqMasks` bands of width U{0..freqMaxWidth} rows (same for time). */
  specAugment: AugmentToggle & {
    freqMasks: number;
    freqMaxWidth: number;
    timeMasks: number;
    timeMaxWidth: number;
    fill: MaskFill;
  };
  /** Random erasing (Zhong et al. 2017): area fraction U(minArea, maxArea), log-uniform aspect. */
  randomErasing: AugmentToggle & {
    minArea: number;
    maxArea: number;
    minAspect: number;
    maxAspect: number;
    /** 'random' = i.i.d. U(0, 1) pixels (the paper's choice). */
    fill: MaskFill | 'random';
  };
  /** fastai `rand_zoom`: scale ~ U(minScale, maxScale), random centre, bilinear, cropped to size. */
  zoom: AugmentToggle & { minScale: number; maxScale: number };
  /**
   * fastai lighting in logit space: brightness change ~ U(0.5·(1 ± maxChange)), contrast scale
   * log-uniform in [1 − maxChange, 1 / (1 − maxChange)]; each applied with probability p.
   */
  lighting: AugmentToggle & { maxChange: number };
  /**
   * Strength-adaptive crop (7th place): with probability p the window start is drawn with
   * probability ∝ (window mean of the image)^power, else uniformly.
   */
  strengthCrop: AugmentToggle & { power: number };
  /** Clips narrower than the crop: 'centre' = zero-padded both sides, 'wrap' = tiled. */
  shortClipPad: 'centre' | 'wrap';
  /**
   * Variable-length training crops (FAT2018 8th place): with probability p per batch, the
   * batch's crop length is drawn uniformly between the lowPercentile-th and highPercentile-th
   * percentile of the training clips' lengths (frames). The network's input stays
   * model.inputFrames wide: a crop is at most that long, and a shorter one is padded to it as a
   * short clip is (shortClipPad), so the model learns from partial clips of typical lengths.
   */
  variableCrop: AugmentToggle & { lowPercentile: number; highPercentile: number };
  waveform: WaveformAugmentConfig;
}

/** Freezes an object and every nested object, so shared defaults cannot be mutated by accident. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Reference defaults (SPEC Augmentation); nested sections frozen too: copy with `withDefaults`. */
export const AUGMENT_DEFAULTS: Readonly<AugmentConfig> = deepFreeze<AugmentConfig>({
  mixup: { enabled: true, p: 1, alpha: 0.4 },
  specMix: { enabled: true, p: 1, maxFraction: 0.25 },
  specAugment: { enabled: false, p: 0.5, freqMasks: 2, freqMaxWidth: 16, timeMasks: 2, timeMaxWidth: 16, fill: 'zero' as MaskFill },
  randomErasing: { enabled: false, p: 0.5, minArea: 0.02, maxArea: 0.4, minAspect: 0.3, maxAspect: 1 / 0.3, fill: 'random' as MaskFill | 'random' },
  zoom: { enabled: true, p: 0.75, minScale: 1, maxScale: 1.05 },
  // (unknown) maxChange: the reference's value is not recoverable; fastai's default is 0.2.
  lighting: { enabled: true, p: 0.75, maxChange: 0.1 },
  strengthCrop: { enabled: false, p: 0.5, power: 1 },
  shortClipPad: 'centre' as 'centre' | 'wrap',
  variableCrop: { enabled: false, p: 1, lowPercentile: 25, highPercentile: 75 },
  waveform: {
    enabled: false,
    gain: { enabled: true, p: 0.5, minDb: -6, maxDb: 6 },
    timeShift: { enabled: true, p: 0.5, maxFraction: 0.5 },
    timeStretch: { enabled: true, p: 0.3, minStretch: 0.8, maxStretch: 1.2 },
    pitchShift: { enabled: true, p: 0.3, maxSemitones: 2 },
    noise: { enabled: true, p: 0.3, minSnrDb: 10, maxSnrDb: 30, source: 'generated' as 'generated' | 'clips' | 'mixed', color: 'random' as 'white' | 'pink' | 'brown' | 'random' },
    fade: { enabled: true, p: 0.2, maxInFraction: 0.1, maxOutFraction: 0.1, shape: 'linear' as 'linear' | 'quarterSine' | 'halfSine' },
    reverb: { enabled: true, p: 0.2, minRt60: 0.1, maxRt60: 0.8, minWet: 0.1, maxWet: 0.4 },
    bass: { enabled: true, p: 0.2, frequency: 100, maxGainDb: 6 },
    treble: { enabled: true, p: 0.2, frequency: 3000, maxGainDb: 6 },
    equalize: { enabled: true, p: 0.2, minFrequency: 100, maxFrequency: 8000, maxGainDb: 6, q: 1 },
  },
});

/**
 * Fine-tuning from a pretrained network (lib/train/finetune; `fat2019 train --from`): fastai's
 * `fine_tune` schedule.
 */
export interface FinetuneConfig {
  /** The source: a run folder (a PyTorch file is imported into `<run>/source/` first); null = from scratch. */
  from: string | null;
  /** Epochs with the body frozen (BatchNorm trainable) before the whole network trains (fastai: 1). */
  freezeEpochs: number;
  /** Phase 2: the body's learning rate is the head's / lrMult (fastai: 100). */
  lrMult: number;
  /** Keep the body frozen for every epoch: a linear probe on the source's embeddings. */
  freezeBody: boolean;
}

const FINETUNE_DEFAULTS: Readonly<FinetuneConfig> = Object.freeze({ from: null, freezeEpochs: 1, lrMult: 100, freezeBody: false });

/**
 * Everything a run is made of, one section per concern; a run folder stores it as `run.json`
 * so every later job (another fold, inference, tagging) uses the same settings.
 */
export interface Fat2019Config {
  task: TaskConfig;
  preprocess: PreprocessConfig;
  model: ModelConfig;
  optimizer: OptimizerConfig;
  train: TrainConfig;
  augment: AugmentConfig;
  pipeline: PipelineConfig;
  infer: InferConfig;
  finetune: FinetuneConfig;
}

/** The reference configuration (SPEC.md): full-size models, 10 folds, 4 stages. */
export const CONFIG_DEFAULTS: Readonly<Fat2019Config> = deepFreeze<Fat2019Config>({
  task: { ...TASK_CONFIG_DEFAULTS },
  preprocess: { ...PREPROCESS_DEFAULTS },
  model: { ...MODEL_DEFAULTS },
  optimizer: { ...OPTIMIZER_DEFAULTS },
  train: { ...TRAIN_DEFAULTS },
  augment: JSON.parse(JSON.stringify(AUGMENT_DEFAULTS)) as AugmentConfig,
  pipeline: { ...PIPELINE_DEFAULTS, ensembleStages: [...PIPELINE_DEFAULTS.ensembleStages], stageEpochs: [...PIPELINE_DEFAULTS.stageEpochs], stageMaxLr: [...PIPELINE_DEFAULTS.stageMaxLr] },
  infer: { ...INFER_DEFAULTS },
  finetune: { ...FINETUNE_DEFAULTS },
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
