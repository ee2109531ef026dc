import type { Architecture, Fat2019Config, InferConfig, InputNormalization } from '../config';
import type { OutputActivation } from './activation';
import type { EngineChoice } from './engine';
import type { WindowNetwork } from './network';

/**
 * One model of an ensemble: a finished (arch, stage, fold) job of a run, or a model handed in
 * directly ({@link ensembleFromModels}).
 */
export interface EnsembleMember {
  arch: Architecture;
  stage: number;
  fold: number;
  /** Folder of model.json (`best/` or `last/`); empty for a model handed in directly. */
  modelDir: string;
  /**
   * The loaded network (tfjs model or ONNX Runtime session): windows in, logits `[B, C]` out.
   * null in a lazy ensemble: the weights are read from `modelDir` only while the member
   * predicts, then freed, so one model's weights are in memory at a time.
   */
  net: WindowNetwork | null;
  /** The member's own input normalisation (imported models), when it has one; absent: the run's config.model.inputNormalization. */
  inputNormalization?: InputNormalization | null;
}

/** The input normalisation `member` is fed with: its own, else the run's. */
export function memberNormalization(member: EnsembleMember, config: Fat2019Config): InputNormalization | null {
  return member.inputNormalization !== undefined ? member.inputNormalization : config.model.inputNormalization ?? null;
}

/** The models of a run that vote on every clip, with what is needed to feed them. */
export interface Ensemble {
  /** Run folder the members come from (absent for {@link ensembleFromModels}). */
  runDir?: string;
  members: EnsembleMember[];
  /** Class names in output column order (the run's sample_submission.csv columns). */
  vocabulary: string[];
  /** The run's configuration: `preprocess` builds the images, `infer` drives the windows. */
  config: Fat2019Config;
  /** Whether members are loaded one at a time while predicting (see {@link EnsembleMember.net}). */
  lazy: boolean;
  /** The engine the members run on, and why it was chosen. */
  engine: EngineChoice;
  /** Where lines about exports on first use go (CLI: stderr). */
  log?: (line: string) => void;
  /** Frees every loaded model's weights. The ensemble must not be used afterwards. */
  dispose(): void;
}

/** Progress of a prediction, in clip passes (one clip through one model = 1). */
export interface InferProgress {
  done: number;
  /** clips × members. */
  total: number;
  /** The member predicting now. */
  member: EnsembleMember;
  elapsedSec: number;
  /** Estimated seconds left (null before the first pass finished). */
  etaSec: number | null;
}

/** Options of {@link predictImages}. */
export interface PredictOptions {
  /** Overrides of the run's `config.infer` (window size and shift, mean, windows per pass). */
  infer?: Partial<InferConfig>;
  /** The task's activation on the logits (default: the run's task, lib/task: sigmoid for multiLabel, softmax for singleLabel). */
  activation?: OutputActivation;
  /** Called after every forward pass. */
  onProgress?: (p: InferProgress) => void;
}
