import { availableParallelism } from 'node:os';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, numberOption, type Command } from './command';
import type { Fat2019Config } from '../config';
import { detectLayout, describeLayout, type DataLayout } from '../data/layout';
import { checkDatasets, preprocessDatasets } from '../data/preprocess';
import { validateAll } from '../data/validateClips';
import { RECIPES, RECIPE_NAMES, recipeOf, recipeStages } from '../train/pipeline/recipes';
import { trainConfig } from '../train/pipeline/trainConfig';
import { initBackend, describeBackend } from '../runtime/backend';
import { backendOptions, BACKEND_OPTIONS_HELP } from './backendOption';
import { progressBar } from '../train/callbacks';
import { readRunInfo, runInfoPath, type FoldDone } from '../run/runFolder';
import { openRun } from '../train/pipeline/runInfo';
import { loadRunData } from '../train/pipeline/data';
import { runPipeline, type StageReport } from '../train/pipeline/runPipeline';
import { trainStageFold } from '../train/pipeline/trainStageFold';
import { resolveFinetuneSource } from '../train/finetune';
import { architectureNames, getArchitecture } from '../models/index';

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

function fmt(x: number | null | undefined): string {
  return x === null || x === undefined ? '   n/a' : x.toFixed(4);
}

function formatFold(d: FoldDone): string {
  const metric = d.validMetric ?? 'lwlrap';
  return `${d.arch} stage ${d.stage} fold ${d.fold}: ${d.epochs} epochs, best valid ${metric} ${fmt(d.bestValidScore ?? d.bestValidLwlrap)}, ` +
    `out-of-fold ${metric} curated ${fmt(d.oofCuratedLwlrap)} noisy ${fmt(d.oofNoisyLwlrap)}, ${d.trainClips} training clips, ${Math.round(d.seconds)} s`;
}

/** Stage table: cross-validated task metric (curated, noisy) and the selection size. */
export function formatStageReports(arch: string, stages: StageReport[]): string {
  const metric = stages[0]?.metric ?? 'lwlrap';
  const lines = [`${arch}: cross-validated ${metric} (out-of-fold predictions of the folds run)`, '  stage  folds  curated   noisy  selected noisy'];
  for (const s of stages) {
    lines.push(`  ${String(s.stage).padStart(5)}  ${String(s.folds.length).padStart(5)}   ${fmt(s.cvCurated)}  ${fmt(s.cvNoisy)}  ${s.selectedNoisy ?? '-'}`);
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
export function checkTrainingData(layout: DataLayout, config: Fat2019Config): void {
  const sets = recipeOf(config).needsNoisy && layout.noisy ? [layout.curated, layout.noisy] : [layout.curated];
  // One error for all sets: a missing noisy clip is not left for the next run to report.
  validateAll(sets.map((set) => () => checkDatasets(set.dataDir, [set.dataset], layout.kind === 'kaggle' ? undefined : { [set.dataset]: set.clips.map((c) => c.fname) })));
}

const RECIPE_HELP = RECIPE_NAMES.map((n) => `                         ${n.padEnd(17)} ${RECIPES[n].summary}`).join('\n');

/** One `  name  description` line per registered architecture, for --help. */
function architectureHelp(): string {
  const names = architectureNames();
  const width = Math.max(...names.map((n) => n.length));
  return names.map((n) => `                         ${n.padEnd(width)}  ${getArchitecture(n).description}`).join('\n');
}

/** `fat2019 train`: a recipe's stages × folds (default the 4-stage warm-up), or one (arch, stage, fold) job of it. */
export const trainCommand: Command = {
  name: 'train',
  summary: 'Train a recipe (default the 4-stage warm-up) with cross-validation, or one stage/fold job of it',
  help: `Usage: fat2019 train --run <dir> [options]

Trains a recipe with k-fold cross-validation into a run folder. The data layout is detected
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
Exit code 0 only when every job finished.

Options:
  --run <dir>          run folder, e.g. weights/run1 (required)
  --data <path>        data folder or label CSV (default: the run's, else data/demo)
  --recipe <name>      (default: the run's; else warmup with a noisy set, single without)
${RECIPE_HELP}
  --task <name>        auto | multiLabel | singleLabel (default: the run's, else auto =
                       singleLabel when every clip has exactly one label)
  --label-smoothing <e> singleLabel cross-entropy label smoothing (default 0)
  --arch <name>        network (default: the run's, else cnnModel1), one of:
${architectureHelp()}
  --stage <k|all>      a stage of the recipe, a list "2,3", or all (default: all)
  --fold <f|all>       fold 0..k-1, a list, or all (default: all)
  --quick              CPU quick setting: width 1/8, 2 folds, a few epochs per stage
  --epochs <n>         epochs of every stage (default: the run's / config)
  --width <m>          model width multiplier of the conv channels (1 = reference)
  --head-units <n>     hidden units of the fastai head (default 512 at every width)
  --mish               xresnet18/50: Mish activations (fastai's option)
  --channel-stem       mobilenetv2: two learnt 1x1 convs make the 3 input channels (FAT2018)
  --folds <k>          k >= 2: k-fold cross-validation (default 10); 1: one model on all
                       labelled clips, no validation. A fold column in the label CSV is used
                       as given.
  --holdout <f>        one model, validated on a random (stratified) fraction f of the clips
  --from <run | file>  fine-tune: start from a run folder's network or a PyTorch checkpoint
                       (with --arch, e.g. pannsCnn14); its preprocessing is inherited, the head
                       is new for the data's classes (kept when they are the same); fastai's
                       fine_tune: --freeze-epochs with the body frozen (BatchNorm trainable),
                       then every layer, the body at lr / 100
  --freeze-epochs <n>  epochs with the body frozen first (default 1)
  --freeze-body        keep the body frozen throughout: a linear probe on its embeddings
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
  fat2019 train --run weights/digits-ft --data my-digits/ --from weights/quick --epochs 5
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
    holdout: { type: 'string' },
    recipe: { type: 'string' },
    task: { type: 'string' },
    'label-smoothing': { type: 'string' },
    cache: { type: 'string' },
    backend: { type: 'string' },
    threads: { type: 'string' },
    workers: { type: 'string' },
    prepare: { type: 'boolean' },
    quiet: { type: 'boolean' },
    from: { type: 'string' },
    'freeze-epochs': { type: 'string' },
    'freeze-body': { type: 'boolean' },
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
    const layout = detectLayout(dataDir);
    const quiet = values.quiet === true;
    if (!quiet) process.stderr.write(`${describeLayout(layout)}\n`);
    if (typeof values.from === 'string') values.from = await resolveFinetuneSource(values.from, runDir, typeof values.arch === 'string' ? values.arch : undefined, quiet ? undefined : (l) => process.stderr.write(`${l}\n`));
    const config = trainConfig(runDir, dataDir, values, layout);
    const recipe = recipeOf(config);
    if (!quiet) process.stderr.write(`task ${config.task.name}, recipe ${recipe.name} (stages ${recipeStages(recipe).join(', ')}), ` +
      `${config.pipeline.folds >= 2 ? `${config.pipeline.folds} folds` : config.pipeline.holdout > 0 ? `one model, ${config.pipeline.holdout} held out` : 'one model on all clips, no validation'}, ` +
      `${config.preprocess.sampleRate} Hz\n`);
    const stages = parseList(values.stage, 'stage', (n) => recipeStages(recipe).includes(n), `a stage of recipe ${recipe.name}: ${recipeStages(recipe).join(', ')} (or a list)`);
    const k = config.pipeline.folds;
    const folds = parseList(values.fold, 'fold', (n) => n >= 0 && n < k, `a fold 0..${k - 1} (or a list "0,1")`);
    // Fail fast, before run.json is written (a failed --prepare must not leave one behind) and
    // before backend and preprocessing: bad data, then flags that contradict the run's settings.
    checkTrainingData(layout, config);
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
      process.stdout.write(`${runInfoPath(runDir)}: ${runInfo.vocabulary.length} classes; ${config.pipeline.folds} fold(s) of ` +
        `${data.sets.curated.clips.length} labelled and ${data.sets.noisy.clips.length} noisy clips in ${join(runDir, 'folds')}\n`);
      return 0;
    }
    const cacheDir = typeof values.cache === 'string' ? values.cache : 'work/features';
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
    const report = await runPipeline({ runDir, dataDir, cacheDir, config, stages, folds, callbacks, log });
    process.stdout.write(formatStageReports(report.arch, report.stages));
    return 0;
  },
};
