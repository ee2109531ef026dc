/**
 * A training job's config from its options, resolved exactly as `fat2019 train` does; the
 * own-data notebook calls it too, so both make the same `auto` choices.
 */
import { validateModelConfig } from '../../models/index';
import { existsSync } from 'node:fs';
import { CONFIG_DEFAULTS, LOW_RATE_MAX_HZ, checkPreprocessConfig, lowRatePreprocess, withDefaults, type DeepPartial, type Fat2019Config } from '../../config';
import { lowSampleRate, scanClips, type DataLayout } from '../../data/layout';
import { checkTaskLabels, detectTaskName } from '../../task/task';
import { readRunInfo, runInfoPath } from '../../run/runFolder';
import { parseOptions, UsageError, type RawValues } from '../../util/options';
import { RECIPES } from './recipes';
import { TRAIN_CONFIG_OPTIONS } from './trainOptions';
import { checkRecipeData } from './data';
import { QUICK_OVERRIDES } from './presets';
import { ALL_STAGES } from './stages';
import { inheritFromSource } from '../finetune';

/**
 * The job's config: the run's (run.json) when the run exists, else the reference defaults,
 * then the command-line overrides (--quick, --epochs, --width, --head-units, --mish,
 * --channel-stem, --folds, --holdout, --arch,
 * --task, --recipe) and what the data says (class count; on a new run the task when `auto`,
 * the recipe when not given: warmup with a noisy set, else single; the folds of a fold
 * column). A run's later jobs may thus omit the flags; flags that change the run's settings
 * make openRun fail, naming the fields.
 */
export function trainConfig(runDir: string, _dataDir: string, values: RawValues, layout?: DataLayout): Fat2019Config {
  const o = parseOptions(TRAIN_CONFIG_OPTIONS, values);
  const existing = existsSync(runInfoPath(runDir));
  const base: Fat2019Config = existing ? readRunInfo(runDir).config : withDefaults(CONFIG_DEFAULTS);
  let config = o.quick ? withDefaults(base, QUICK_OVERRIDES) : withDefaults(base);
  const over: DeepPartial<Fat2019Config> = {};
  const pipeline: DeepPartial<Fat2019Config['pipeline']> = {};
  if (o.epochs !== undefined) pipeline.stageEpochs = ALL_STAGES.map(() => o.epochs!);
  if (o.recipe !== undefined) {
    pipeline.recipe = o.recipe;
  } else if (!existing && layout) {
    pipeline.recipe = layout.noisy ? 'warmup' : 'single';
  }
  if (pipeline.recipe !== undefined) pipeline.ensembleStages = [...RECIPES[pipeline.recipe].ensembleStages];
  const given = layout?.curated.givenFolds ? new Set(layout.curated.givenFolds).size : undefined;
  if (o.folds !== undefined) {
    if (given !== undefined && o.folds !== given) throw new UsageError(`--folds ${o.folds}: ${layout!.curated.labelFile} has a fold column with ${given} folds, which is used as given (leave --folds out)`);
    pipeline.folds = o.folds;
  } else if (given !== undefined) {
    pipeline.folds = given;
  }
  if (o.holdout !== undefined) {
    if (pipeline.folds !== undefined && pipeline.folds !== 1) throw new UsageError(`--holdout trains one model; it cannot be combined with --folds ${pipeline.folds} (use --folds 1 or leave it out)`);
    pipeline.folds = 1;
    pipeline.holdout = o.holdout;
  }
  if (Object.keys(pipeline).length > 0) over.pipeline = pipeline;
  const task: DeepPartial<Fat2019Config['task']> = {};
  const taskValue = o.task ?? (existing ? undefined : 'auto');
  if (taskValue === 'auto') {
    if (layout) task.name = detectTaskName(layout.curated.clips);
  } else if (taskValue !== undefined) {
    task.name = taskValue;
  }
  if (o['label-smoothing'] !== undefined) task.labelSmoothing = o['label-smoothing'];
  if (Object.keys(task).length > 0) over.task = task;
  const model: DeepPartial<Fat2019Config['model']> = {};
  if (o.width !== undefined) model.widthMultiplier = o.width;
  if (o['head-units'] !== undefined) model.headUnits = o['head-units'];
  if (o.mish) model.xresnetActivation = 'mish';
  if (o['channel-stem']) model.mobilenetChannelStem = true;
  if (o.arch !== undefined) model.arch = o.arch;
  if (layout) model.numClasses = layout.vocabulary.length;
  over.model = model;
  if (!existing && layout) {
    // Low-rate audio (every clip ≤ 16 kHz) gets the low-rate preprocessing, recorded in run.json.
    const rate = lowSampleRate(scanClips(layout.curated), LOW_RATE_MAX_HZ);
    if (rate !== null) over.preprocess = lowRatePreprocess(rate);
  }
  config = withDefaults(config, over);
  config = withFinetuneOptions(config, o);
  checkPreprocessConfig(config.preprocess, existing ? `${runInfoPath(runDir)}: config.preprocess` : 'config.preprocess');
  // Every model setting (sizes included) before run.json is written: a failed first command never blocks the corrected one.
  validateModelConfig(config.model);
  if (config.task.name === 'multiLabel' && config.task.labelSmoothing > 0) throw new UsageError('--label-smoothing applies to --task singleLabel only');
  if (layout) {
    checkTaskLabels(config.task.name, layout.curated.clips, layout.curated.labelFile);
    checkRecipeData(layout, config);
  }
  return config;
}

/**
 * `--from <run folder>` (a PyTorch file is resolved to one first: lib/train/finetune
 * resolveFinetuneSource), `--freeze-body`, `--freeze-epochs <n>`: the run starts from the
 * source's network, preprocessing included (inheritFromSource).
 */
function withFinetuneOptions(config: Fat2019Config, o: { from?: string; arch?: string; 'freeze-epochs'?: number; 'freeze-body': boolean }): Fat2019Config {
  let out = config;
  if (o.from !== undefined) {
    if (!existsSync(runInfoPath(o.from))) throw new UsageError(`--from ${o.from}: not a run folder (no run.json)`);
    const sourceArch = readRunInfo(o.from).config.model.arch;
    if (o.arch !== undefined && o.arch !== sourceArch) throw new UsageError(`--arch ${o.arch} differs from the --from run's network ${sourceArch}: leave --arch out`);
    out = inheritFromSource(out, o.from, o.from);
  }
  const finetune = { ...out.finetune };
  if (o['freeze-body']) finetune.freezeBody = true;
  if (o['freeze-epochs'] !== undefined) finetune.freezeEpochs = o['freeze-epochs'];
  if ((o['freeze-body'] || o['freeze-epochs'] !== undefined) && finetune.from === null) throw new UsageError('--freeze-body and --freeze-epochs go with --from <run folder | PyTorch file>');
  return { ...out, finetune };
}
