import { availableParallelism } from 'node:os';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, numberOption, type Command } from './command';
import { CONFIG_DEFAULTS, withDefaults, type Architecture, type DeepPartial, type Fat2019Config } from '../config';
import { readLabelCsv, readVocabulary } from '../data/labels';
import { checkDatasets, preprocessDatasets } from '../data/preprocess';
import { initBackend, describeBackend } from '../runtime/backend';
import { backendOptions, BACKEND_OPTIONS_HELP } from './backendOption';
import { progressBar } from '../train/callbacks';
import { QUICK_OVERRIDES } from '../train/pipeline/presets';
import { readRunInfo, runInfoPath, type FoldDone } from '../run/runFolder';
import { openRun } from '../train/pipeline/runInfo';
import { loadRunData, SET_FILES } from '../train/pipeline/data';
import { runPipeline, type StageReport } from '../train/pipeline/runPipeline';
import { STAGES } from '../train/pipeline/stages';
import { trainStageFold } from '../train/pipeline/trainStageFold';
import { architectureNames, getArchitecture, isArchitecture } from '../models/index';


/** "all" → undefined (every one); "2" or "1,3" → the numbers, each checked by `check`. */
function parseList(raw: unknown, name: string, check: (n: number) => boolean, allowed: string): number[] | undefined {
  if (raw === undefined || raw === 'all') return undefined;
  const parts = String(raw).split(',').map((s) => s.trim());
  const out = parts.map((p) => {
    const n = Number(p);
    if (p === '' || !Number.isInteger(n) || !check(n)) throw new UsageError(`--${name} must be "all" or ${allowed}, got "${String(raw)}"`);
    return n;
  });
  return [...new Set(out)].sort((a, b) => a - b);
}

function fmt(x: number | null | undefined): string {
  return x === null || x === undefined ? '   n/a' : x.toFixed(4);
}

function formatFold(d: FoldDone): string {
  return `${d.arch} stage ${d.stage} fold ${d.fold}: ${d.epochs} epochs, best valid lwlrap ${fmt(d.bestValidLwlrap)}, ` +
    `out-of-fold lwlrap curated ${fmt(d.oofCuratedLwlrap)} noisy ${fmt(d.oofNoisyLwlrap)}, ${d.trainClips} training clips, ${Math.round(d.seconds)} s`;
}

/** Stage table: cross-validated lwlrap (curated, noisy) and the selection size. */
export function formatStageReports(arch: string, stages: StageReport[]): string {
  const lines = [`${arch}: cross-validated lwlrap (out-of-fold predictions of the folds run)`, '  stage  folds  curated   noisy  selected noisy'];
  for (const s of stages) {
    lines.push(`  ${String(s.stage).padStart(5)}  ${String(s.folds.length).padStart(5)}   ${fmt(s.cvCurated)}  ${fmt(s.cvNoisy)}  ${s.selectedNoisy ?? '-'}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Everything about the training data that can be checked in seconds, before run.json is
 * written and before any work: both label files parse and name only the data's classes
 * (sample_submission.csv), and every clip they list, and every file of their folders, is a
 * readable WAV/FLAC inside the data folder. Throws one error listing every problem.
 */
export function checkTrainingData(dataDir: string): void {
  const vocabulary = readVocabulary(join(dataDir, 'sample_submission.csv'));
  for (const set of Object.values(SET_FILES)) readLabelCsv(join(dataDir, set.labelCsv), vocabulary);
  checkDatasets(dataDir, Object.values(SET_FILES).map((s) => s.dataset));
}

/**
 * The job's config: the run's (run.json) when the run exists, else the reference defaults,
 * then the command-line overrides (--quick, --epochs, --width, --head-units, --mish,
 * --channel-stem, --folds, --arch) and the class
 * count of the data. A run's later jobs may thus omit the flags; flags that change the run's
 * settings make openRun fail, naming the fields.
 */
export function trainConfig(runDir: string, dataDir: string, values: Record<string, unknown>): Fat2019Config {
  const base: Fat2019Config = existsSync(runInfoPath(runDir)) ? readRunInfo(runDir).config : withDefaults(CONFIG_DEFAULTS);
  let config = values.quick === true ? withDefaults(base, QUICK_OVERRIDES) : withDefaults(base);
  const over: DeepPartial<Fat2019Config> = {};
  if (values.epochs !== undefined) {
    const epochs = numberOption(values, 'epochs', 0);
    if (!Number.isInteger(epochs) || epochs < 1) throw new UsageError(`--epochs must be an integer >= 1, got ${epochs}`);
    over.pipeline = { stageEpochs: STAGES.map(() => epochs) };
  }
  if (values.folds !== undefined) {
    const folds = numberOption(values, 'folds', 0);
    if (!Number.isInteger(folds) || folds < 2) throw new UsageError(`--folds must be an integer >= 2, got ${folds}`);
    over.pipeline = { ...over.pipeline, folds };
  }
  const model: DeepPartial<Fat2019Config['model']> = {};
  if (values.width !== undefined) {
    const width = numberOption(values, 'width', 1);
    if (!(width > 0)) throw new UsageError(`--width must be > 0, got ${width}`);
    model.widthMultiplier = width;
  }
  if (values['head-units'] !== undefined) {
    const units = numberOption(values, 'head-units', 512);
    if (!Number.isInteger(units) || units < 1) throw new UsageError(`--head-units must be an integer >= 1, got ${units}`);
    model.headUnits = units;
  }
  if (values.mish === true) model.xresnetActivation = 'mish';
  if (values['channel-stem'] === true) model.mobilenetChannelStem = true;
  if (values.arch !== undefined) {
    if (!isArchitecture(values.arch)) throw new UsageError(`--arch must be one of ${architectureNames().join(', ')}, got "${String(values.arch)}"`);
    model.arch = values.arch;
  }
  const sample = join(dataDir, 'sample_submission.csv');
  if (existsSync(sample)) model.numClasses = readVocabulary(sample).length;
  over.model = model;
  config = withDefaults(config, over);
  return config;
}

/** One `  name  description` line per registered architecture, for --help. */
function architectureHelp(): string {
  const names = architectureNames();
  const width = Math.max(...names.map((n) => n.length));
  return names.map((n) => `                         ${n.padEnd(width)}  ${getArchitecture(n).description}`).join('\n');
}

/** `fat2019 train`: the 4-stage warm-up pipeline, or one (arch, stage, fold) job of it. */
export const trainCommand: Command = {
  name: 'train',
  summary: 'Train the 4-stage warm-up pipeline (or one stage/fold job of it)',
  help: `Usage: fat2019 train --run <dir> [options]

Trains the FAT2019 warm-up pipeline with k-fold cross-validation into a run folder:
stage 1 on the noisy set, stage 2 on the curated set (from stage 1), stages 3 and 4 on
curated + noisy clips selected by their out-of-fold scores (from stage 2, resp. 3). Each
(arch, stage, fold) is one job: finished jobs (done.json) are skipped, interrupted ones resume
from their last epoch. With --stage and --fold both single numbers, exactly one job runs: the
unit to spread over machines (stage k of fold f needs stage k-1 of fold f; stages 3 and 4
need every fold of the earlier stages). The first job writes <run>/run.json; later jobs reuse
its settings (flags that change them are an error). Exit code 0 only when every job finished.

Options:
  --run <dir>          run folder, e.g. weights/run1 (required)
  --data <dir>         data folder, Kaggle layout (default: the run's, else data/demo)
  --arch <name>        network (default: the run's, else cnnModel1), one of:
${architectureHelp()}
  --stage <k|all>      stage 1-4, a list "2,3", or all (default: all)
  --fold <f|all>       fold 0..k-1, a list, or all (default: all)
  --quick              CPU quick setting: width 0.25, 2 folds, a few epochs per stage
  --epochs <n>         epochs of every stage (default: the run's / config)
  --width <m>          model width multiplier of the conv channels (1 = reference)
  --head-units <n>     hidden units of the fastai head (default 512 at every width)
  --mish               xresnet18/50: Mish activations (fastai's option)
  --channel-stem       mobilenetv2: two learnt 1x1 convs make the 3 input channels (FAT2018)
  --folds <k>          number of folds (default 10)
  --cache <dir>        feature cache root (default: work/features)
${BACKEND_OPTIONS_HELP}
  --workers <n>        preprocessing threads for clips not yet cached (default: ${availableParallelism()})
  --prepare            only create run.json and folds/{curated,noisy}.csv, then exit: the step
                       before fanning jobs out to other machines
  --quiet              no progress bar or log lines

Examples:
  fat2019 train --run weights/quick --data data/demo --quick
  fat2019 train --run weights/full --data data/fsdkaggle2019 --stage 1 --fold 3
  fat2019 train --run weights/full --arch vgg16bn --stage 2 --fold 3
`,
  options: {
    run: { type: 'string' },
    data: { type: 'string' },
    arch: { type: 'string' },
    stage: { type: 'string' },
    fold: { type: 'string' },
    quick: { type: 'boolean' },
    epochs: { type: 'string' },
    width: { type: 'string' },
    'head-units': { type: 'string' },
    mish: { type: 'boolean' },
    'channel-stem': { type: 'boolean' },
    folds: { type: 'string' },
    cache: { type: 'string' },
    backend: { type: 'string' },
    threads: { type: 'string' },
    workers: { type: 'string' },
    prepare: { type: 'boolean' },
    quiet: { type: 'boolean' },
  },
  async run(values, positionals) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (typeof values.run !== 'string' || values.run === '') throw new UsageError('--run <dir> is required (e.g. --run weights/run1)');
    const runDir = values.run;
    const dataDir = typeof values.data === 'string' ? values.data
      : existsSync(runInfoPath(runDir)) ? readRunInfo(runDir).dataDir : 'data/demo';
    const backend = backendOptions(values);
    const workers = numberOption(values, 'workers', availableParallelism());
    if (!Number.isInteger(workers) || workers < 0) throw new UsageError(`--workers must be a non-negative integer, got ${workers}`);
    const config = trainConfig(runDir, dataDir, values);
    const stages = parseList(values.stage, 'stage', (n) => STAGES.includes(n), 'a stage 1-4 (or a list "1,2")');
    const k = config.pipeline.folds;
    const folds = parseList(values.fold, 'fold', (n) => n >= 0 && n < k, `a fold 0..${k - 1} (or a list "0,1")`);
    // Fail fast, before run.json is written (a failed --prepare must not leave one behind) and
    // before backend and preprocessing: bad data, then flags that contradict the run's settings.
    checkTrainingData(dataDir);
    const newRun = !existsSync(runInfoPath(runDir));
    const runInfo = openRun(runDir, dataDir, config);
    if (values.prepare === true) {
      let data;
      try {
        data = loadRunData(runDir, dataDir, runInfo.vocabulary, config);
      } catch (err) {
        // The run.json this command just wrote would pin settings that never worked.
        if (newRun) rmSync(runInfoPath(runDir), { force: true });
        throw err;
      }
      process.stdout.write(`${runInfoPath(runDir)}: ${runInfo.vocabulary.length} classes; ${config.pipeline.folds} folds of ` +
        `${data.sets.curated.clips.length} curated and ${data.sets.noisy.clips.length} noisy clips in ${join(runDir, 'folds')}\n`);
      return 0;
    }
    const quiet = values.quiet === true;
    const cacheDir = typeof values.cache === 'string' ? values.cache : 'work/features';
    const log = quiet ? undefined : (msg: string) => process.stderr.write(`${msg}\n`);

    const info = await initBackend(backend);
    log?.(describeBackend(info));
    // Images of clips not in the feature cache yet, on every core (cached ones are skipped).
    const pre = await preprocessDatasets({ dataDir, datasets: ['train_curated', 'train_noisy'], cacheDir, config: config.preprocess, workers });
    if (pre.failed > 0) {
      throw new Error(`${pre.failed} training clip(s) could not be preprocessed, e.g. ${pre.failures[0].file}: ${pre.failures[0].reason} (see ${pre.cacheDir}/preprocess-report.json)`);
    }
    if (pre.computed > 0) log?.(`preprocessed ${pre.computed} clip(s) into ${pre.cacheDir}`);
    const callbacks = () => (quiet ? [] : [progressBar()]);

    if (stages?.length === 1 && folds?.length === 1) {
      const done = await trainStageFold({ runDir, dataDir, cacheDir, stage: stages[0], fold: folds[0], config, callbacks: callbacks(), log });
      process.stdout.write(formatFold(done) + '\n');
      return 0;
    }
    const report = await runPipeline({ runDir, dataDir, cacheDir, config, stages, folds, callbacks, log });
    process.stdout.write(formatStageReports(report.arch, report.stages));
    return 0;
  },
};
