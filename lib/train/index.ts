/** Training: loss, optimizer, schedule, fit loop, callbacks, checkpoints, default batches. */
// Training losses live with the task (lib/task), which inference may import.
export { bceWithLogits } from '../task/task';
export { AdamW, trainableVariables } from './adamw';
export type { AdamWState, AdamWStepParams, NamedVariable } from './adamw';
export { oneCycleLr, oneCycleBeta1, oneCyclePhase, annealingCos } from './oneCycle';
export { randomCropBatch } from './batch';
export type { Batch, MakeBatch } from './batch';
export { fit, trainStep, predictForValidation, scoreValidation } from './fit';
export type { FitOptions, FitResult, ValidationOptions } from './fit';
export {
  progressBar, liveUpdates, jsonlLogger, earlyStopping, stopAfterEpochs, bestEpoch, runHook,
  formatEpochLog,
} from './callbacks';
export type { Callback, FitContext, BatchLog, EpochLog, LiveSnapshot, ProgressBarOptions } from './callbacks';
export {
  saveCheckpoint, loadCheckpoint, verifyCheckpoint,
  hasCheckpoint, CHECKPOINT_VERSION,
} from './checkpoint';
export type { TrainingState, CheckpointManifest, LoadedCheckpoint } from './checkpoint';
export { initBackend, describeBackend } from '../runtime/backend';
export type { BackendInfo, InitBackendOptions, BackendName } from '../runtime/backend';
export { snapshotRunningVariances } from './bnStats';
export type { RunningVarianceFix } from './bnStats';
