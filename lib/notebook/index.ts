/**
 * What the notebooks import (through the `notebooks/lib -> ../lib` symlink, as
 * `./lib/notebook`): parameters resolved against the project root, display helpers bound to
 * the tslab kernel, and the EDA data helpers. The headless runner (./jupyter) is separate: it
 * is for tests and scripts, not for cells.
 */
export { ENV_DATA_DIR, ENV_RUN_DIR, ENV_CACHE_DIR, ENV_QUICK, projectRoot, fromRoot, defaultQuick, notebookParams } from './params';
export type { NotebookParams } from './params';
export { show, showMarkdown, liveDisplay } from './display';
export type { LiveDisplay } from './display';
export {
  SET_NAMES,
  LABEL_CSV_NAMES,
  AUDIO_DIR_NAMES,
  datasetLayout,
  readLabelTable,
  labelLists,
  distinctLabels,
  cooccurrence,
  cooccurringLabels,
  wavDurations,
  describe,
  pickVariedClips,
  readClassList,
  hasContent,
  clipSteps,
} from './eda';
export { ensureDemoData, listRunFiles, runFolderRows, RUN_FOLDER_COLUMNS } from './data';
export type { EnsureDemoOptions } from './data';
export type { SetName, DatasetLayout, DurationScan, AqTable, ClipSteps } from './eda';
export { TrainingDashboard, perClassLwlrapChart } from './training';
export type { EpochPoint, DashboardOptions } from './training';
export { trainingConfig, settingsTable, stageReportTable, oofScore } from './pipeline';
export type { TrainingSetting, OofScore } from './pipeline';
export { ensembleTable, inferProgressLabel, predictionTable, scoreTable, scorePerClassChart, tagChart } from './inference';
export { describeOwnData, ownDataConfig, evaluateOwnRun, evaluationFigures, metricsTable } from './ownData';
export { pca, embeddingPcaFigure } from './embeddings';
export type { OwnDataSummary, OwnDataSetting, OwnDataEvaluation } from './ownData';
