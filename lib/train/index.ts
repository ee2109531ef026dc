/** Training: loss, optimizer, schedule, fit loop, callbacks, checkpoints, default batches. */
export { bceWithLogits } from './loss';
export { AdamW, trainableVariables } from './adamw';
export type { AdamWState, AdamWStepParams, NamedVariable } from './adamw';
export { oneCycleLr, oneCycleBeta1, oneCyclePhase, annealingCos } from './oneCycle';
export { randomCropBatch, copyWindow, centreStart, slidingWindowStarts } from './batch';
export type { Batch, MakeBatch } from './batch';
export { fit, trainStep, predictForValidation, scoreValidation, toModelInput } from './fit';
export type { FitOptions, FitResult, ValidationOptions } from './fit';
export {
  progressBar, liveUpdates, jsonlLogger, earlyStopping, stopAfterEpochs, bestEpoch, runHook,
  formatDuration, formatEpochLog,
} from './callbacks';
export type { Callback, FitContext, BatchLog, EpochLog, LiveSnapshot, ProgressBarOptions } from './callbacks';
export {
  saveModel, loadModel, loadWeightsInto, readModelArtifacts, saveCheckpoint, loadCheckpoint, verifyCheckpoint,
  hasCheckpoint, CHECKPOINT_VERSION,
} from './checkpoint';
export type { TrainingState, CheckpointManifest, LoadedCheckpoint } from './checkpoint';
export { initBackend, describeBackend } from './backend';
export type { BackendInfo, InitBackendOptions, BackendName } from './backend';
export { snapshotRunningVariances } from './bnStats';
export type { RunningVarianceFix } from './bnStats';
