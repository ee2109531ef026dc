/**
 * Inference: a run's ensemble on clip images, dataset folders and audio files (SPEC "Inference":
 * 128-frame windows every 48 frames, sigmoid scores averaged over windows and models), and the
 * class-frequency baseline.
 */
export type { Ensemble, EnsembleMember, InferProgress, PredictOptions } from './types';
export { loadEnsemble, ensembleFromModels, ensembleFromNetworks, memberName, resolveInferConfig, withMemberNetwork } from './ensemble';
export { tfjsNetwork, ortNetwork } from './network';
export type { WindowNetwork, EngineName, OrtNetworkOptions } from './network';
export { chooseEngine, describeEngine, parseEnginePreference, ENGINE_PREFERENCES } from './engine';
export type { EngineChoice, EnginePreference } from './engine';
export type { LoadEnsembleOptions } from './ensemble';
export { windowStarts, planWindows, fillWindowBatch } from './windows';
export type { InferenceWindow, WindowMode } from './windows';
export { activate, activateRow, checkActivation, OUTPUT_ACTIVATIONS } from './activation';
export type { OutputActivation } from './activation';
export { WindowScoreSums } from './scores';
export type { EnsembleMean } from './scores';
export { predictClipImages, predictModelClips, modelInputSize, modelClassCount } from './modelPredict';
export type { ClipPredictOptions, ModelClipsOptions } from './modelPredict';
export { predictImages, predictSource } from './predict';
export type { ClipSource } from './predict';
export { predictDataset, datasetFnames } from './dataset';
export type { PredictDatasetOptions, DatasetPrediction } from './dataset';
export { tagFiles, decodeForTagging, rankLabels } from './tag';
export type { TagOptions, TagResult, LabelScore, DecodedClip } from './tag';
export { frequencyBaseline } from './baseline';
export { writeSubmission } from '../data/submission';
