import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, defineCommand } from './command';
import { BACKEND_OPTIONS, CACHE_OPTION, DATA_OPTION, QUIET_OPTION, RUN_OPTION, WORKERS_OPTION, backendChoice } from './options';
import { TRAIN_CONFIG_OPTIONS } from '../train/pipeline/trainOptions';
import type { Fat2019Config } from '../config';
import { detectLayout, describeLayout, type DataLayout } from '../data/layout';
import { checkDatasets, preprocessDatasets } from '../data/preprocess';
import { validateAll } from '../data/validateClips';
import { recipeOf, recipeStages } from '../train/pipeline/recipes';
import { formatResolvedConfig, resolveTrainConfig, trainConfig } from '../train/pipeline/trainConfig';
import { OVERRIDE_OPTIONS } from '../train/pipeline/configOverrides';
import { lrFindOnData, withFoundLr } from '../train/pipeline/lrFindJob';
import { LR_FIND_OPTIONS, lrFindSweepOptions } from './lrFind';
import { chooseEpochs, formatEpochChoices, holdoutRunDir, runHoldoutRefit } from '../train/pipeline/holdoutRefit';
import { backendOptions } from './options';
import type { RawValues } from '../util/options';
import { initBackend, describeBackend } from '../runtime/backend';
import { progressBar } from '../train/callbacks';
import { readRunInfo, runInfoPath, type FoldDone } from '../run/runFolder';
import { openRun } from '../train/pipeline/runInfo';
import { loadRunData } from '../train/pipeline/data';
import { runPipeline, type StageReport } from '../train/pipeline/runPipeline';
import { trainStageFold } from '../train/pipeline/trainStageFold';
import { resolveFinetuneSource } from '../train/finetune';
import { formatFixed } from '../util/format';
import { checkOutputFolder, RUN_FOLDER } from '../util/outputPath';

/** Re-exported: `fat2019 train` resolves its options with it (lib/train/pipeline/trainConfig). */
export { trainConfig };

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

/** A score in the tables below; absent ones as a right-aligned n/a. */
const scoreText = (x: number | null | undefined): string => formatFixed(x, { missing: '   n/a' });

function formatFold(d: FoldDone): string {
  const metric = d.validMetric ?? 'lwlrap';
  return `${d.arch} stage ${d.stage} fold ${d.fold}: ${d.epochs} epochs, best valid ${metric} ${scoreText(d.bestValidScore ?? d.bestValidLwlrap)}, ` +
    `out-of-fold ${metric} curated ${scoreText(d.oofCuratedLwlrap)} noisy ${scoreText(d.oofNoisyLwlrap)}, ${d.trainClips} training clips, ${Math.round(d.seconds)} s`;
}

/** Stage table: cross-validated task metric (curated, noisy) and the selection size. */
function formatStageReports(arch: string, stages: StageReport[]): string {
  const metric = stages[0]?.metric ?? 'lwlrap';
  const lines = [`${arch}: cross-validated ${metric} (out-of-fold predictions of the folds run)`, '  stage  folds  curated   noisy  selected noisy'];
  for (const s of stages) {
    lines.push(`  ${String(s.stage).padStart(5)}  ${String(s.folds.length).padStart(5)}   ${scoreText(s.cvCurated)}  ${scoreText(s.cvNoisy)}  ${s.selectedNoisy ?? '-'}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Everything about the training data that can be checked in seconds, before run.json is
 * written and before any work (the label files were parsed against the classes by
 * detectLayout): every clip the recipe's sets list is a readable WAV/FLAC inside the data
 * folder, and in the Kaggle layout every file of their folders too. Throws one error listing
 * every problem.
 */
function checkTrainingData(layout: DataLayout, config: Fat2019Config): void {
  const sets = recipeOf(config).needsNoisy && layout.noisy ? [layout.curated, layout.noisy] : [layout.curated];
  // One error for all sets: a missing noisy clip is not left for the next run to report.
  validateAll(sets.map((set) => () => checkDatasets(set.dataDir, [set.dataset], layout.kind === 'kaggle' ? undefined : { [set.dataset]: set.clips.map((c) => c.fname) })));
}

/**
 * `--lr auto`: the learning-rate finder (fat2019 lr-find) on the training data with this
 * config, before run.json is written; the suggestion becomes the max lr of the stages that
 * train from scratch. Only on a new run (an existing run keeps its recorded lr).
 */
async function lrAuto(runDir: string, layout: DataLayout, config: Fat2019Config, values: RawValues, cacheDir: string, workers: number, quiet: boolean): Promise<Fat2019Config> {
  if (existsSync(runInfoPath(runDir))) throw new UsageError(`--lr auto picks a new run's learning rate; ${runInfoPath(runDir)} already fixes it (leave --lr out)`);
  const sweep = lrFindSweepOptions(values);
  const info = await initBackend(backendOptions(values));
  if (!quiet) process.stderr.write(`${describeBackend(info)}\n`);
  const found = await lrFindOnData({ layout, config, cacheDir, workers, ...sweep, log: quiet ? undefined : (m) => process.stderr.write(`${m}\n`) });
  const { config: out, stages } = withFoundLr(config, Number(found.lr.toPrecision(2)));
  if (!quiet) process.stderr.write(`--lr auto: max lr ${found.lr.toPrecision(2)} (lr-find ${found.suggestion}, ${found.lrs.length} steps, ${found.stop}) for stage(s) ${stages.join(', ')}\n`);
  return out;
}

/** `fat2019 train`: a recipe's stages × folds (default the 4-stage warm-up), or one (arch, stage, fold) job of it. */
export const trainCommand = defineCommand({
  name: 'train',
  summary: 'Train a recipe (default the 4-stage warm-up) with cross-validation, or one stage/fold job of it',
  usage: 'train --run <dir> [options]',
  description: `Trains a recipe with k-fold cross-validation into a run folder. The data layout is detected
and printed first: the Kaggle layout (train_curated.csv + train_curated/, optional
train_noisy.csv + train_noisy/ and test/), a folder per class (train/<class>/*.wav, optional
test/<class>/*.wav), or one label CSV (fname,labels[,fold]) with fname relative to its folder.
The default recipe is the FAT2019 warm-up when there is a noisy set: stage 1 on the noisy set,
stage 2 on the curated set (from stage 1), stages 3 and 4 on curated + noisy clips selected by
their out-of-fold scores (from stage 2, resp. 3); without a noisy set it is single. Each
(arch, stage, fold) is one job: finished jobs (done.json) are skipped, interrupted ones resume
from their last epoch. With --stage and --fold both single numbers, exactly one job runs: the
unit to spread over machines. The first job writes <run>/run.json (config with task, recipe
and preprocessing); later jobs reuse its settings (flags that change them are an error).

Settings a new run leaves unset are chosen from the data (data rules, printed at the start,
each with its reason; lib/train/pipeline/dataRules.ts has the measurements behind them): the
batch size from the training clips and epochs, and for short runs (< 30 epochs per stage) no
mixup, SpecMix or head dropout and a from-scratch max lr of 1e-2. --quick, --preset reference
and --recipe warmup on the Kaggle layout keep their settings as they are. Any config field can
be set with --set path=value; --show-config prints the resolved config with each value's origin.
Exit code 0 only when every job finished.`,
  options: {
    run: { ...RUN_OPTION, help: 'run folder, e.g. weights/run1', required: 'e.g. --run weights/run1' },
    data: { ...DATA_OPTION, arg: '<path>', help: 'data folder or label CSV', defaultText: "the run's, else data/demo" },
    recipe: TRAIN_CONFIG_OPTIONS.recipe,
    task: TRAIN_CONFIG_OPTIONS.task,
    'label-smoothing': TRAIN_CONFIG_OPTIONS['label-smoothing'],
    arch: TRAIN_CONFIG_OPTIONS.arch,
    // Checked against the recipe and the fold count once the config is known.
    stage: { type: 'string', arg: '<k|all>', help: 'a stage of the recipe, a list "2,3", or all', defaultText: 'all' },
    fold: { type: 'string', arg: '<f|all>', help: 'fold 0..k-1, a list, or all', defaultText: 'all' },
    quick: TRAIN_CONFIG_OPTIONS.quick,
    epochs: TRAIN_CONFIG_OPTIONS.epochs,
    width: TRAIN_CONFIG_OPTIONS.width,
    'head-units': TRAIN_CONFIG_OPTIONS['head-units'],
    mish: TRAIN_CONFIG_OPTIONS.mish,
    'channel-stem': TRAIN_CONFIG_OPTIONS['channel-stem'],
    folds: TRAIN_CONFIG_OPTIONS.folds,
    holdout: { ...TRAIN_CONFIG_OPTIONS.holdout, help: 'one model, validated on a random (stratified) fraction f of the clips; prints which epoch won (best validation accuracy / lwlrap)' },
    refit: {
      type: 'boolean', default: false,
      help: 'with --holdout: train the held-out run in <run>/holdout/, then <run> itself on every clip for the winning epoch count of each stage',
    },
    preset: TRAIN_CONFIG_OPTIONS.preset,
    ...OVERRIDE_OPTIONS,
    ...LR_FIND_OPTIONS,
    'show-config': {
      type: 'boolean', default: false,
      help: 'print the resolved config, each field with where it came from (default, run.json, preset, data, data rule, flag), and exit; writes nothing',
    },
    from: TRAIN_CONFIG_OPTIONS.from,
    'freeze-epochs': TRAIN_CONFIG_OPTIONS['freeze-epochs'],
    'freeze-body': TRAIN_CONFIG_OPTIONS['freeze-body'],
    cache: CACHE_OPTION,
    ...BACKEND_OPTIONS,
    workers: WORKERS_OPTION,
    prepare: {
      type: 'boolean', default: false,
      help: 'only create run.json and folds/{curated,noisy}.csv, then exit: the step before fanning jobs out to other machines (fat2019 plan writes those jobs for Slurm, Kubernetes or GitHub Actions)',
    },
    quiet: { ...QUIET_OPTION, help: 'no progress bar or log lines' },
  },
  positionals: 'none',
  examples: [
    'fat2019 train --run weights/quick --data data/demo --quick',
    'fat2019 train --run weights/full --data data/fsdkaggle2019 --stage 1 --fold 3',
    'fat2019 train --run weights/full --arch vgg16bn --stage 2 --fold 3',
    'fat2019 train --run weights/digits-ft --data my-digits/ --from weights/quick --epochs 5',
  ],
  async run(o, _positionals, values) {
    const runDir = o.run;
    checkOutputFolder(runDir, { option: '--run', kind: RUN_FOLDER });
    const dataDir = o.data ?? (existsSync(runInfoPath(runDir)) ? readRunInfo(runDir).dataDir : 'data/demo');
    checkOutputFolder(runDir, { option: '--run', kind: RUN_FOLDER, protectedDirs: [dataDir] });
    const backend = backendChoice(o);
    const { workers, quiet, cache: cacheDir } = o;
    const layout = detectLayout(dataDir);
    if (!quiet) process.stderr.write(`${describeLayout(layout)}\n`);
    // A PyTorch file becomes a run folder (<run>/source/) first: the config then reads it like any run.
    if (typeof values.from === 'string') values.from = await resolveFinetuneSource(values.from, runDir, typeof values.arch === 'string' ? values.arch : undefined, quiet ? undefined : (l) => process.stderr.write(`${l}\n`));
    const resolved = resolveTrainConfig(runDir, dataDir, values, layout);
    if (o['show-config']) {
      process.stdout.write(formatResolvedConfig(resolved));
      return 0;
    }
    let config = resolved.config;
    for (const reason of new Set(resolved.ruleChoices.map((c) => c.reason))) if (!quiet) process.stderr.write(`${reason}\n`);
    if (o.lr === 'auto') config = await lrAuto(runDir, layout, config, values, cacheDir, workers, quiet);
    const recipe = recipeOf(config);
    if (!quiet) process.stderr.write(`task ${config.task.name}, recipe ${recipe.name} (stages ${recipeStages(recipe).join(', ')}), ` +
      `${config.pipeline.folds >= 2 ? `${config.pipeline.folds} folds` : config.pipeline.holdout > 0 ? `one model, ${config.pipeline.holdout} held out` : 'one model on all clips, no validation'}, ` +
      `${config.preprocess.sampleRate} Hz\n`);
    const stages = parseList(o.stage, 'stage', (n) => recipeStages(recipe).includes(n), `a stage of recipe ${recipe.name}: ${recipeStages(recipe).join(', ')} (or a list)`);
    const k = config.pipeline.folds;
    const folds = parseList(o.fold, 'fold', (n) => n >= 0 && n < k, `a fold 0..${k - 1} (or a list "0,1")`);
    // Fail fast, before run.json is written (a failed --prepare must not leave one behind) and
    // before backend and preprocessing: bad data, then flags that contradict the run's settings.
    checkTrainingData(layout, config);
    const newRun = !existsSync(runInfoPath(runDir));
    const refit = o.refit;
    if (refit && !(config.pipeline.folds === 1 && config.pipeline.holdout > 0)) throw new UsageError('--refit needs --holdout f: the held-out fraction chooses the epochs');
    if (refit && (o.stage !== undefined || o.fold !== undefined || o.prepare)) throw new UsageError('--refit runs the whole recipe twice (held out, then on every clip); leave out --stage, --fold and --prepare');
    // --refit: run.json of the held-out run now; <run>/run.json is written by the refit itself.
    const runInfo = openRun(refit ? holdoutRunDir(runDir) : runDir, dataDir, config);
    if (o.prepare) {
      let data;
      try {
        data = loadRunData(runDir, dataDir, runInfo.vocabulary, config);
      } catch (err) {
        // The run.json this command just wrote would pin settings that never worked.
        if (newRun) rmSync(runInfoPath(runDir), { force: true });
        throw err;
      }
      process.stdout.write(`${runInfoPath(runDir)}: ${runInfo.vocabulary.length} classes; ${config.pipeline.folds} fold(s) of ` +
        `${data.sets.curated.clips.length} labelled and ${data.sets.noisy.clips.length} noisy clips in ${join(runDir, 'folds')}\n`);
      return 0;
    }
    const log = quiet ? undefined : (msg: string) => process.stderr.write(`${msg}\n`);

    const info = await initBackend(backend);
    log?.(describeBackend(info));
    // Images of clips not in the feature cache yet, on every core (cached ones are skipped).
    for (const set of recipe.needsNoisy && layout.noisy ? [layout.curated, layout.noisy] : [layout.curated]) {
      const pre = await preprocessDatasets({
        dataDir: set.dataDir, datasets: [set.dataset], files: { [set.dataset]: set.clips.map((c) => c.fname) }, cacheDir, config: config.preprocess, workers,
      });
      if (pre.failed > 0) {
        throw new Error(`${pre.failed} training clip(s) could not be preprocessed, e.g. ${pre.failures[0].file}: ${pre.failures[0].reason} (see ${pre.cacheDir}/preprocess-report.json)`);
      }
      if (pre.computed > 0) log?.(`preprocessed ${pre.computed} clip(s) of ${set.dataset} into ${pre.cacheDir}`);
    }
    const callbacks = () => (quiet ? [] : [progressBar()]);

    if (stages?.length === 1 && folds?.length === 1) {
      const done = await trainStageFold({ runDir, dataDir, cacheDir, stage: stages[0], fold: folds[0], config, callbacks: callbacks(), log });
      process.stdout.write(formatFold(done) + '\n');
      return 0;
    }
    if (refit) {
      const r = await runHoldoutRefit({ runDir, dataDir, cacheDir, config, callbacks, log });
      process.stdout.write(`held out (${holdoutRunDir(runDir)}):\n${formatStageReports(r.holdout.arch, r.holdout.stages)}${formatEpochChoices(r.choices)}` +
        `refit on every clip (${runDir}):\n${formatStageReports(r.refit.arch, r.refit.stages)}`);
      return 0;
    }
    const report = await runPipeline({ runDir, dataDir, cacheDir, config, stages, folds, callbacks, log });
    process.stdout.write(formatStageReports(report.arch, report.stages));
    // One model validated on a held-out fraction: which epoch won (what --refit would train).
    if (config.pipeline.folds === 1 && config.pipeline.holdout > 0 && stages === undefined) process.stdout.write(formatEpochChoices(chooseEpochs(runDir, config)));
    return 0;
  },
});
