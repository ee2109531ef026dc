import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defineCommand } from './command';
import { writeSubmission } from '../data/submission';
import { readRunInfo, runInfoPath } from '../run/runFolder';
import { checkOutputFile, SUBMISSION_CSV } from '../util/outputPath';
import { detectLayout, type ClipFolder } from '../data/layout';
import { initBackend, describeBackend } from '../runtime/backend';
import { formatProgress } from '../util/format';
import { progressReporter } from '../util/progress';
import { cliEngine } from './engineOption';
import { BACKEND_OPTIONS, CACHE_OPTION, DATA_OPTION, ENGINE_OPTION, ENSEMBLE_OPTIONS, QUIET_OPTION, RUN_OPTION, WORKERS_OPTION, backendChoice, inferOverrides } from './options';
import type { InitBackendOptions } from '../runtime/backend';
import { loadEnsemble, memberName, resolveInferConfig } from '../infer/ensemble';
import { runIdentity, writeSubmissionMembers } from '../infer/mergeSubmissions';
import { datasetFnames, predictDataset } from '../infer/dataset';
import { datasetClips, validateClips } from '../data/validateClips';
import type { InferProgress } from '../infer/types';
import type { PreprocessProgress } from '../data/preprocess';
import { scoreSubmission } from '../task/score';
import { formatScoreReport } from './score';
import { formatPreprocessProgress } from '../data/preprocessReport';

/** Selects the tfjs backend (`--backend`, `--threads`, else FAT2019_BACKEND / auto) and logs it to stderr. */
export async function initCliBackend(options: InitBackendOptions, quiet: boolean): Promise<void> {
  const info = await initBackend(options);
  if (!quiet) process.stderr.write(`${describeBackend(info)}\n`);
}

/** Inference progress on stderr: redrawn in place on a terminal, a line every 10 s otherwise. */
export function progressPrinter(quiet: boolean): (p: InferProgress) => void {
  const progress = progressReporter({ quiet });
  return (p) => progress.update(() => formatProgress(p, { unit: 'clip passes', detail: memberName(p.member) }), p.done === p.total);
}

/** Progress of filling the feature cache, on stderr (only when there is something to compute). */
function preprocessPrinter(quiet: boolean): (p: PreprocessProgress) => void {
  const progress = progressReporter({ quiet });
  return (p) => {
    if (p.skipped !== p.total) progress.update(() => `features ${formatPreprocessProgress(p)}`, p.done === p.total);
  };
}

/** `fat2019 infer`: a run's ensemble on a dataset folder → submission.csv (and its lwlrap). */
export const inferCommand = defineCommand({
  name: 'infer',
  summary: "Predict a dataset folder with a run's ensemble and write submission.csv",
  usage: 'infer --run weights/<run> [options]',
  description: `Runs the ensemble of a run folder (every finished <arch>/stage<k>/fold<f> model of the chosen
stages) over the clips of a dataset folder: 128-frame windows every 48 frames, sigmoid scores
averaged over windows and models. Rows follow <data>/sample_submission.csv (test set) or the
sorted audio files; columns are the run's classes. Images come from the feature cache (missing
ones are computed with the run's preprocessing and cached). Beside the submission,
<csv>.members.json says which models voted: parts of an ensemble (by --folds, --stages or
--arch) inferred on several machines are averaged by fat2019 merge.`,
  options: {
    run: RUN_OPTION,
    data: { ...DATA_OPTION, defaultText: "the run's data folder from run.json" },
    dataset: { type: 'string', arg: '<name>', help: 'dataset folder inside --data', default: 'test' },
    out: {
      type: 'string', arg: '<csv>', defaultText: '<run>/submission.csv; <run>/submission_<dataset>.csv for another dataset',
      help: 'submission file: a new file or a submission this toolkit wrote; its folder must exist; never inside a run\'s or dataset\'s folders (only <run>/submission*.csv) nor an input (truth, run.json)',
    },
    ...ENSEMBLE_OPTIONS,
    score: { type: 'boolean', default: false, help: 'score the submission with lwlrap (Public / Private / all) against --truth; fails when there is no truth file' },
    truth: { type: 'string', arg: '<csv>', help: 'truth labels for --score', defaultText: '<data>/test_post_competition.csv' },
    cache: CACHE_OPTION,
    workers: { ...WORKERS_OPTION, help: 'threads that fill the feature cache first; 0 = compute missing images while predicting' },
    ...BACKEND_OPTIONS,
    engine: ENGINE_OPTION,
    quiet: QUIET_OPTION,
  },
  positionals: 'none',
  examples: [
    'fat2019 infer --run weights/demo --data data/demo --score',
    'fat2019 infer --run weights/fat2019 --data data/fsdkaggle2019 --stages 2,3,4 --mean geometric',
  ],
  async run(o) {
    const runDir = o.run;
    const infer = inferOverrides(o);
    const { quiet, dataset } = o;
    const info = readRunInfo(runDir);
    const dataDir = o.data ?? info.dataDir;
    if (!existsSync(dataDir)) throw new Error(`data folder not found: ${dataDir}${o.data !== undefined ? '' : ` (from ${join(runDir, 'run.json')}; pass --data)`}`);
    const out = o.out ?? join(runDir, dataset === 'test' ? 'submission.csv' : `submission_${dataset}.csv`);
    // The data's layout says which clips the test set holds (test/<class>/ folders: nested
    // paths, labelled by their folder) and where its truth is.
    let test: ClipFolder | undefined;
    let nested = false;
    try {
      const layout = dataset === 'test' ? detectLayout(dataDir) : undefined;
      test = layout?.test;
      nested = layout?.kind === 'folderPerClass';
    } catch {
      test = undefined; // a folder of test clips only: predicted as a plain dataset folder
    }
    const folderTruth = o.truth === undefined && test?.truth ? test.truth : undefined;
    const truth = o.truth ?? (folderTruth ? join(dataDir, dataset) : join(dataDir, 'test_post_competition.csv'));
    if (o.score && !folderTruth && !existsSync(truth)) throw new Error(`--score: truth file not found: ${truth}`);
    // Before any work: the output may not replace an input, and its folder must exist.
    checkOutputFile(out, { option: '--out', kind: SUBMISSION_CSV, ownedIn: { dir: runDir, names: /^submission[^/]*\.csv$/, what: 'submission*.csv' }, inputs: [truth, runInfoPath(runDir), join(dataDir, 'sample_submission.csv')], protectedDirs: [dataDir] });
    // Every clip is checked against the disk before the models load: all problems at once.
    const testFnames = nested && test ? test.fnames : datasetFnames(dataDir, dataset);
    validateClips(datasetClips(dataDir, dataset, testFnames), dataDir, join(dataDir, dataset));

    const engine = cliEngine(o.engine, o.threads, quiet);
    await initCliBackend(backendChoice(o), quiet);
    const ensemble = await loadEnsemble(runDir, { archs: o.arch, stages: o.stages, folds: o.folds, lazy: o['one-at-a-time'], partial: o.partial, engine, log: quiet ? undefined : (line) => process.stderr.write(`${line}\n`) });
    let prediction;
    try {
      if (!quiet) process.stderr.write(`${ensemble.members.length} model(s): ${ensemble.members.map(memberName).join(', ')}\n`);
      prediction = await predictDataset({
        ensemble, dataDir, dataset, cacheDir: o.cache,
        fnames: nested ? testFnames : undefined,
        preprocessWorkers: o.workers, infer, onProgress: progressPrinter(quiet), onPreprocessProgress: preprocessPrinter(quiet),
      });
    } finally {
      ensemble.dispose();
    }
    writeSubmission(out, prediction.fnames, prediction.scores, prediction.vocabulary);
    // Which models made it, for fat2019 merge (split inference); score and uploads ignore it.
    const settings = resolveInferConfig(ensemble, infer);
    writeSubmissionMembers(out, {
      runId: runIdentity(info), runDir, members: ensemble.members.map(memberName), vocabulary: prediction.vocabulary,
      ensembleMean: settings.ensembleMean, windowFrames: settings.windowFrames, windowShift: settings.windowShift, task: ensemble.config.task?.name ?? 'multiLabel',
    });
    process.stdout.write(`wrote ${out}: ${prediction.fnames.length} clips × ${prediction.vocabulary.length} classes, ${ensemble.members.length} model(s)\n`);
    if (o.score) {
      const report = scoreSubmission({ submissionPath: out, truthPath: truth, truthClips: folderTruth, vocabulary: prediction.vocabulary, task: ensemble.config.task?.name });
      process.stdout.write(formatScoreReport(report, false));
    }
    return 0;
  },
});
