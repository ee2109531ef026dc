/**
 * A training job's config from its options, resolved exactly as `fat2019 train` does; the
 * own-data notebook calls it too, so both make the same `auto` choices.
 */
import { existsSync } from 'node:fs';
import { CONFIG_DEFAULTS, LOW_RATE_MAX_HZ, checkPreprocessConfig, lowRatePreprocess, withDefaults, type DeepPartial, type Fat2019Config, type RecipeName, type TaskName } from '../../config';
import { lowSampleRate, scanClips, type DataLayout } from '../../data/layout';
import { checkTaskLabels, detectTaskName, TASK_NAMES } from '../../task/task';
import { architectureNames, isArchitecture } from '../../models/index';
import { readRunInfo, runInfoPath } from '../../run/runFolder';
import { numberOption, UsageError } from '../../util/options';
import { RECIPES, RECIPE_NAMES } from './recipes';
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
export function trainConfig(runDir: string, dataDir: string, values: Record<string, unknown>, layout?: DataLayout): Fat2019Config {
  const existing = existsSync(runInfoPath(runDir));
  const base: Fat2019Config = existing ? readRunInfo(runDir).config : withDefaults(CONFIG_DEFAULTS);
  let config = values.quick === true ? withDefaults(base, QUICK_OVERRIDES) : withDefaults(base);
  const over: DeepPartial<Fat2019Config> = {};
  const pipeline: DeepPartial<Fat2019Config['pipeline']> = {};
  if (values.epochs !== undefined) {
    const epochs = numberOption(values, 'epochs', 0);
    if (!Number.isInteger(epochs) || epochs < 1) throw new UsageError(`--epochs must be an integer >= 1, got ${epochs}`);
    pipeline.stageEpochs = ALL_STAGES.map(() => epochs);
  }
  if (values.recipe !== undefined) {
    if (!(RECIPE_NAMES as readonly string[]).includes(String(values.recipe))) throw new UsageError(`--recipe must be one of ${RECIPE_NAMES.join(', ')}, got "${String(values.recipe)}"`);
    pipeline.recipe = values.recipe as RecipeName;
  } else if (!existing && layout) {
    pipeline.recipe = layout.noisy ? 'warmup' : 'single';
  }
  if (pipeline.recipe !== undefined) pipeline.ensembleStages = [...RECIPES[pipeline.recipe].ensembleStages];
  const given = layout?.curated.givenFolds ? new Set(layout.curated.givenFolds).size : undefined;
  if (values.folds !== undefined) {
    const folds = numberOption(values, 'folds', 0);
    if (!Number.isInteger(folds) || folds < 1) throw new UsageError(`--folds must be an integer >= 1, got ${folds}`);
    if (given !== undefined && folds !== given) throw new UsageError(`--folds ${folds}: ${layout!.curated.labelFile} has a fold column with ${given} folds, which is used as given (leave --folds out)`);
    pipeline.folds = folds;
  } else if (given !== undefined) {
    pipeline.folds = given;
  }
  if (values.holdout !== undefined) {
    const holdout = numberOption(values, 'holdout', 0);
    if (!(holdout > 0 && holdout < 1)) throw new UsageError(`--holdout must be a fraction in (0, 1), got ${holdout}`);
    if (pipeline.folds !== undefined && pipeline.folds !== 1) throw new UsageError(`--holdout trains one model; it cannot be combined with --folds ${pipeline.folds} (use --folds 1 or leave it out)`);
    pipeline.folds = 1;
    pipeline.holdout = holdout;
  }
  if (Object.keys(pipeline).length > 0) over.pipeline = pipeline;
  const task: DeepPartial<Fat2019Config['task']> = {};
  const taskValue = values.task === undefined ? (existing ? undefined : 'auto') : String(values.task);
  if (taskValue !== undefined) {
    if (taskValue !== 'auto' && !(TASK_NAMES as readonly string[]).includes(taskValue)) throw new UsageError(`--task must be auto, ${TASK_NAMES.join(' or ')}, got "${taskValue}"`);
    if (taskValue === 'auto') {
      if (layout) task.name = detectTaskName(layout.curated.clips);
    } else {
      task.name = taskValue as TaskName;
    }
  }
  if (values['label-smoothing'] !== undefined) {
    const eps = numberOption(values, 'label-smoothing', 0);
    if (!(eps >= 0 && eps < 1)) throw new UsageError(`--label-smoothing must be in [0, 1), got ${eps}`);
    task.labelSmoothing = eps;
  }
  if (Object.keys(task).length > 0) over.task = task;
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
  if (layout) model.numClasses = layout.vocabulary.length;
  over.model = model;
  if (!existing && layout) {
    // Low-rate audio (every clip ≤ 16 kHz) gets the low-rate preprocessing, recorded in run.json.
    const rate = lowSampleRate(scanClips(layout.curated), LOW_RATE_MAX_HZ);
    if (rate !== null) over.preprocess = lowRatePreprocess(rate);
  }
  config = withDefaults(config, over);
  config = withFinetuneOptions(config, values);
  checkPreprocessConfig(config.preprocess, existing ? `${runInfoPath(runDir)}: config.preprocess` : 'config.preprocess');
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
function withFinetuneOptions(config: Fat2019Config, values: Record<string, unknown>): Fat2019Config {
  let out = config;
  if (values.from !== undefined) {
    const from = String(values.from);
    if (!existsSync(runInfoPath(from))) throw new UsageError(`--from ${from}: not a run folder (no run.json)`);
    const sourceArch = readRunInfo(from).config.model.arch;
    if (values.arch !== undefined && values.arch !== sourceArch) throw new UsageError(`--arch ${String(values.arch)} differs from the --from run's network ${sourceArch}: leave --arch out`);
    out = inheritFromSource(out, from, from);
  }
  const finetune = { ...out.finetune };
  if (values['freeze-body'] === true) finetune.freezeBody = true;
  if (values['freeze-epochs'] !== undefined) {
    const n = numberOption(values, 'freeze-epochs', 1);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--freeze-epochs must be an integer >= 0, got ${n}`);
    finetune.freezeEpochs = n;
  }
  if ((finetune.freezeBody || values['freeze-epochs'] !== undefined) && finetune.from === null) throw new UsageError('--freeze-body and --freeze-epochs go with --from <run folder | PyTorch file>');
  return { ...out, finetune };
}
