/**
 * The 4-stage warm-up pipeline with k-fold cross-validation (SPEC "Training"): folds, noisy
 * selection, one (arch, stage, fold) job, the whole pipeline, and the run folder.
 */
export {
  RUN_INFO_VERSION, runInfoPath, foldsPath, stageDir, foldDir, foldDonePath, oofPath, noisyScoresPath, selectedNoisyPath,
  writeRunInfo, readRunInfo, writeFoldDone, readFoldDone, findRunMembers,
} from '../../run/runFolder';
export type { RunInfo, FoldDone, RunMember, MemberFilter } from '../../run/runFolder';
export { iterativeStratification, ensureFolds, readFoldsCsv, writeFoldsCsv } from './folds';
export type { ClipSet, EnsureFoldsOptions } from './folds';
export { clipScores, geometricMeanScores, selectNoisyClips, readScoresCsv, writeScoresCsv } from './selection';
export type { ClipScore, SelectedClip, SelectionRule } from './selection';
export { openRun, configDifferences, ALLOWED_CONFIG_DIFFERENCES } from './runInfo';
export type { OpenRunOptions } from './runInfo';
export { ClipStore, loadRunData, foldFnames, foldSeed, SET_FILES } from './data';
export type { RunData, SetData, ClipStoreOptions } from './data';
export { STAGES, checkStageFold, planStageFold, unfinishedFolds, readOof, ensureNoisyScores, ensureSelection } from './stages';
export type { StageFoldPlan } from './stages';
export { trainStageFold, jobSeed, TrainingPausedError } from './trainStageFold';
export type { TrainStageFoldOptions } from './trainStageFold';
export { runPipeline } from './runPipeline';
export type { RunPipelineOptions, PipelineReport, StageReport } from './runPipeline';
export { QUICK_OVERRIDES, pipelineConfig } from './presets';
