import type * as tf from '@tensorflow/tfjs';
import type { Architecture, Fat2019Config, InferConfig } from '../config';

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
   * The loaded model: input NHWC `[B, nMels, windowFrames, 3]` in 0..1, output logits `[B, C]`.
   * null in a lazy ensemble: the weights are read from `modelDir` only while the member
   * predicts, then freed, so one model's weights are in memory at a time.
   */
  model: tf.LayersModel | null;
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
  /** Whether members are loaded one at a time while predicting (see {@link EnsembleMember.model}). */
  lazy: boolean;
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
  /** Called after every forward pass. */
  onProgress?: (p: InferProgress) => void;
  /** Logits → scores; default from the run's task (sigmoid for multiLabel, softmax for singleLabel). */
  activation?: 'sigmoid' | 'softmax';
}
