import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { UsageError, numberOption, type Command } from './command';
import type { Architecture, InferConfig } from '../config';
import { writeSubmission } from '../data/submission';
import { readRunInfo, runInfoPath } from '../run/runFolder';
import { checkOutputPath } from '../util/outputPath';
import { detectLayout, type ClipFolder } from '../data/layout';
import { initBackend, describeBackend } from '../runtime/backend';
import { formatDuration } from '../util/format';
import { backendOptions, BACKEND_OPTIONS_HELP } from './backendOption';
import { cliEngine, ENGINE_OPTIONS_HELP } from './engineOption';
import { loadEnsemble, memberName, resolveInferConfig } from '../infer/ensemble';
import { runIdentity, writeSubmissionMembers } from '../infer/mergeSubmissions';
import { datasetFnames, predictDataset } from '../infer/dataset';
import { datasetClips, validateClips } from '../data/validateClips';
import type { InferProgress } from '../infer/types';
import type { PreprocessProgress } from '../data/preprocess';
import { scoreSubmission } from '../metrics/score';
import { formatScoreReport } from './score';
import { formatProgressBar } from './preprocess';
import { architectureNames, isArchitecture } from '../models/index';

/** `--stages 2,3,4` → [2, 3, 4]; non-integers are a usage error naming the option. */
export function intListOption(values: Record<string, unknown>, name: string): number[] | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const parts = String(raw).split(',').map((s) => s.trim()).filter(Boolean);
  const out = parts.map(Number);
  if (parts.length === 0 || out.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new UsageError(`--${name} must be a comma-separated list of integers >= 0, got "${String(raw)}"`);
  }
  return out;
}

/** `--arch cnnModel1,vgg16bn` (also repeatable) → the architectures, validated. */
export function archOption(values: Record<string, unknown>): Architecture[] | undefined {
  const raw = values.arch;
  if (raw === undefined) return undefined;
  const parts = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => String(v).split(',')).map((s) => s.trim()).filter(Boolean);
  for (const p of parts) {
    if (!isArchitecture(p)) throw new UsageError(`--arch must be one of ${architectureNames().join(', ')}, got "${p}"`);
  }
  return parts as Architecture[];
}

/** `--mean` and `--batch-size` → overrides of the run's infer config. */
export function inferOverrides(values: Record<string, unknown>): Partial<InferConfig> {
  const out: Partial<InferConfig> = {};
  if (values.mean !== undefined) {
    if (values.mean !== 'arithmetic' && values.mean !== 'geometric') throw new UsageError(`--mean must be arithmetic or geometric, got "${String(values.mean)}"`);
    out.ensembleMean = values.mean;
  }
  if (values['batch-size'] !== undefined) {
    const b = numberOption(values, 'batch-size', 0);
    if (!Number.isInteger(b) || b < 1) throw new UsageError(`--batch-size must be an integer >= 1, got ${b}`);
    out.batchSize = b;
  }
  return out;
}

/** Selects the tfjs backend (`--backend`, `--threads`, else FAT2019_BACKEND / auto) and logs it to stderr. */
export async function initCliBackend(values: Record<string, unknown>, quiet: boolean): Promise<void> {
  const info = await initBackend(backendOptions(values));
  if (!quiet) process.stderr.write(`${describeBackend(info)}\n`);
}

/** A progress printer for stderr: redrawn in place on a terminal, a line every 10 s otherwise. */
export function progressPrinter(quiet: boolean): (p: InferProgress) => void {
  let last = 0;
  const tty = process.stderr.isTTY === true;
  return (p) => {
    if (quiet) return;
    const now = Date.now();
    const end = p.done === p.total;
    if (!end && now - last < (tty ? 200 : 10000)) return;
    last = now;
    const frac = p.total > 0 ? p.done / p.total : 1;
    const width = 30;
    const line = `[${'#'.repeat(Math.round(frac * width))}${'.'.repeat(width - Math.round(frac * width))}] ` +
      `${p.done}/${p.total} clip passes  ${(100 * frac).toFixed(1)}%  ${memberName(p.member)}` +
      (p.etaSec !== null && !end ? `  ETA ${formatDuration(p.etaSec)}` : `  ${formatDuration(p.elapsedSec)}`);
    process.stderr.write(tty ? `\r${line}\x1b[K${end ? '\n' : ''}` : `${line}\n`);
  };
}

/** Progress of filling the feature cache, on stderr (only when there is something to compute). */
function preprocessPrinter(quiet: boolean): (p: PreprocessProgress) => void {
  let last = 0;
  const tty = process.stderr.isTTY === true;
  return (p) => {
    if (quiet || p.skipped === p.total) return;
    const now = Date.now();
    const end = p.done === p.total;
    if (!end && now - last < (tty ? 200 : 10000)) return;
    last = now;
    const line = `features ${formatProgressBar(p)}`;
    process.stderr.write(tty ? `\r${line}\x1b[K${end ? '\n' : ''}` : `${line}\n`);
  };
}

/** `fat2019 infer`: a run's ensemble on a dataset folder → submission.csv (and its lwlrap). */
export const inferCommand: Command = {
  name: 'infer',
  summary: "Predict a dataset folder with a run's ensemble and write submission.csv",
  help: `Usage: fat2019 infer --run weights/<run> [options]

Runs the ensemble of a run folder (every finished <arch>/stage<k>/fold<f> model of the chosen
stages) over the clips of a dataset folder: 128-frame windows every 48 frames, sigmoid scores
averaged over windows and models. Rows follow <data>/sample_submission.csv (test set) or the
sorted audio files; columns are the run's classes. Images come from the feature cache (missing
ones are computed with the run's preprocessing and cached).

Options:
  --run <dir>          run folder (required), e.g. weights/demo
  --data <dir>         data folder (default: the run's data folder from run.json)
  --dataset <name>     dataset folder inside --data (default: test)
  --out <csv>          submission file (default: <run>/submission.csv; <run>/submission_<dataset>.csv
                       for another dataset); its folder must exist, and it may not be an input
                       (truth, run.json) nor lie inside the data folder. Beside it,
                       <csv>.members.json says which models voted (fat2019 merge reads it)
  --stages <list>      stages whose models vote, e.g. 2,3,4 (default: the run's
                       pipeline.ensembleStages)
  --arch <list>        architectures, comma-separated: ${architectureNames().join(', ')}
                       (default: all trained)
  --folds <list>       folds, e.g. 0,1,2 (default: all finished). Parts of an ensemble
                       (by --folds, --stages or --arch) on several machines: fat2019 merge
  --mean <kind>        arithmetic | geometric mean of window and model scores (default: the
                       run's infer.ensembleMean, arithmetic)
  --batch-size <n>     windows per forward pass (default: the run's infer.batchSize, 64)
  --one-at-a-time      load one model at a time (big ensembles; clips are read again per model)
  --score              score the submission with lwlrap (Public / Private / all) against
                       --truth; fails when there is no truth file
  --truth <csv>        truth labels for --score (default: <data>/test_post_competition.csv)
  --cache <dir>        feature cache root (default: work/features)
  --workers <n>        threads that fill the feature cache first; 0 = compute missing images
                       while predicting (default: ${availableParallelism()})
${BACKEND_OPTIONS_HELP}
${ENGINE_OPTIONS_HELP}
  --quiet              no progress output

Example:
  fat2019 infer --run weights/demo --data data/demo --score
  fat2019 infer --run weights/fat2019 --data data/fsdkaggle2019 --stages 2,3,4 --mean geometric
`,
  options: {
    run: { type: 'string' },
    data: { type: 'string' },
    dataset: { type: 'string' },
    out: { type: 'string' },
    stages: { type: 'string' },
    arch: { type: 'string', multiple: true },
    folds: { type: 'string' },
    mean: { type: 'string' },
    'batch-size': { type: 'string' },
    'one-at-a-time': { type: 'boolean' },
    score: { type: 'boolean' },
    truth: { type: 'string' },
    cache: { type: 'string' },
    workers: { type: 'string' },
    backend: { type: 'string' },
    engine: { type: 'string' },
    threads: { type: 'string' },
    quiet: { type: 'boolean' },
  },
  async run(values, positionals) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (typeof values.run !== 'string') throw new UsageError('--run <dir> is required (a run folder, e.g. weights/demo)');
    const runDir = values.run;
    const stages = intListOption(values, 'stages');
    const folds = intListOption(values, 'folds');
    const archs = archOption(values);
    const infer = inferOverrides(values);
    const workers = numberOption(values, 'workers', availableParallelism());
    if (!Number.isInteger(workers) || workers < 0) throw new UsageError(`--workers must be an integer >= 0, got ${workers}`);
    const quiet = values.quiet === true;
    const dataset = typeof values.dataset === 'string' ? values.dataset : 'test';
    const info = readRunInfo(runDir);
    const dataDir = typeof values.data === 'string' ? values.data : info.dataDir;
    if (!existsSync(dataDir)) throw new Error(`data folder not found: ${dataDir}${typeof values.data === 'string' ? '' : ` (from ${join(runDir, 'run.json')}; pass --data)`}`);
    const out = typeof values.out === 'string' ? values.out : join(runDir, dataset === 'test' ? 'submission.csv' : `submission_${dataset}.csv`);
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
    const folderTruth = typeof values.truth !== 'string' && test?.truth ? test.truth : undefined;
    const truth = typeof values.truth === 'string' ? values.truth : folderTruth ? join(dataDir, dataset) : join(dataDir, 'test_post_competition.csv');
    if (values.score === true && !folderTruth && !existsSync(truth)) throw new Error(`--score: truth file not found: ${truth}`);
    // Before any work: the output may not replace an input, and its folder must exist.
    checkOutputPath(out, { option: '--out', inputs: [truth, runInfoPath(runDir), join(dataDir, 'sample_submission.csv')], protectedDirs: [dataDir] });
    // Every clip is checked against the disk before the models load: all problems at once.
    const testFnames = nested && test ? test.fnames : datasetFnames(dataDir, dataset);
    validateClips(datasetClips(dataDir, dataset, testFnames), dataDir, join(dataDir, dataset));

    const engine = cliEngine(values, quiet);
    await initCliBackend(values, quiet);
    const ensemble = await loadEnsemble(runDir, { archs, stages, folds, lazy: values['one-at-a-time'] === true, engine, log: quiet ? undefined : (line) => process.stderr.write(`${line}\n`) });
    let prediction;
    try {
      if (!quiet) process.stderr.write(`${ensemble.members.length} model(s): ${ensemble.members.map(memberName).join(', ')}\n`);
      prediction = await predictDataset({
        ensemble, dataDir, dataset, cacheDir: typeof values.cache === 'string' ? values.cache : 'work/features',
        fnames: nested ? testFnames : undefined,
        preprocessWorkers: workers, infer, onProgress: progressPrinter(quiet), onPreprocessProgress: preprocessPrinter(quiet),
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
    if (values.score === true) {
      const report = scoreSubmission({ submissionPath: out, truthPath: truth, truthClips: folderTruth, vocabulary: prediction.vocabulary, task: ensemble.config.task?.name });
      process.stdout.write(formatScoreReport(report, false));
    }
    return 0;
  },
};
