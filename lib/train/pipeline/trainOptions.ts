/**
 * The options that resolve a training job's config (`fat2019 train` and the own-data notebook
 * declare and parse them the same way; see lib/util/options.ts). Each names the config field
 * it sets; {@link trainConfig} applies them.
 */
import type { Architecture, RecipeName, TaskName } from '../../config';
import { architectureNames, getArchitecture, isArchitecture, MAX_HEAD_UNITS, MAX_WIDTH_MULTIPLIER } from '../../models/index';
import { TASK_NAMES } from '../../task/task';
import { UsageError, parseChoice, parseInteger, parseNumber, type OptionSpec } from '../../util/options';
import { RECIPES, RECIPE_NAMES } from './recipes';
import { OVERRIDE_OPTIONS } from './configOverrides';

/** The named presets of `--preset`: `quick` = `--quick`; `reference` = the published recipe as configured, no data rules. */
const PRESET_NAMES = ['reference', 'quick'] as const;

/** One architecture of the model registry, or a UsageError listing them. */
export function parseArchitecture(raw: string, flag = '--arch'): Architecture {
  if (!isArchitecture(raw)) throw new UsageError(`${flag} must be one of ${architectureNames().join(', ')}, got "${raw}"`);
  return raw;
}

/** `  name  description` lines (preformatted in help texts). */
function table(rows: [string, string][]): string {
  const width = Math.max(...rows.map(([n]) => n.length));
  return rows.map(([n, d]) => `  ${n.padEnd(width)}  ${d}`).join('\n');
}

/** `--arch <name>`: one network of the registry (help lists each with its description). */
export const ARCH_OPTION: OptionSpec<Architecture> = {
  type: 'string', arg: '<name>', config: 'model.arch', parse: parseArchitecture,
  help: () => `network, one of:\n${table(architectureNames().map((n) => [n, getArchitecture(n).description]))}`,
};

/** A number in a range, or a UsageError `<flag> must be <say>, got <n>`. */
function numberIn(ok: (n: number) => boolean, say: string): (raw: string, flag: string) => number {
  return (raw, flag) => {
    const n = parseNumber(raw, flag);
    if (!ok(n)) throw new UsageError(`${flag} must be ${say}, got ${n}`);
    return n;
  };
}

const positiveInt = (raw: string, flag: string): number => parseInteger(raw, flag, { min: 1 });

/** The config options of a training job, in the order `fat2019 train --help` lists them. */
export const TRAIN_CONFIG_OPTIONS = {
  recipe: {
    type: 'string', arg: '<name>', config: 'pipeline.recipe', defaultText: 'the run\'s; else warmup with a noisy set, single without',
    help: () => `recipe, one of:\n${table(RECIPE_NAMES.map((n) => [n, RECIPES[n].summary]))}`,
    parse: (raw, flag) => parseChoice<RecipeName>(raw, flag, RECIPE_NAMES),
  } satisfies OptionSpec<RecipeName>,
  task: {
    type: 'string', arg: '<name>', config: 'task.name', defaultText: "the run's, else auto = singleLabel when every clip has exactly one label",
    help: `auto | ${TASK_NAMES.join(' | ')}`,
    parse: (raw, flag) => parseChoice<TaskName | 'auto'>(raw, flag, ['auto', ...TASK_NAMES], `auto, ${TASK_NAMES.join(' or ')}`),
  } satisfies OptionSpec<TaskName | 'auto'>,
  'label-smoothing': {
    type: 'string', arg: '<e>', config: 'task.labelSmoothing', help: 'singleLabel cross-entropy label smoothing', defaultText: '0',
    parse: numberIn((e) => e >= 0 && e < 1, 'in [0, 1)'),
  } satisfies OptionSpec<number>,
  arch: { ...ARCH_OPTION, defaultText: "the run's, else cnnModel1" },
  quick: { type: 'boolean', default: false, help: 'CPU quick setting: width 1/8, 2 folds, a few epochs per stage' } as const,
  preset: {
    type: 'string', arg: '<name>', help: 'quick (= --quick) or reference (the published recipe as configured: no data rules)',
    parse: (raw, flag) => parseChoice<(typeof PRESET_NAMES)[number]>(raw, flag, PRESET_NAMES),
  } satisfies OptionSpec<(typeof PRESET_NAMES)[number]>,
  epochs: {
    type: 'string', arg: '<n>', config: 'pipeline.stageEpochs', help: 'epochs of every stage', defaultText: "the run's / config", parse: positiveInt,
  } satisfies OptionSpec<number>,
  width: {
    type: 'string', arg: '<m>', config: 'model.widthMultiplier', help: `model width multiplier of the conv channels (1 = reference; at most ${MAX_WIDTH_MULTIPLIER}: the weights grow with its square)`,
    parse: (raw, flag) => {
      const w = numberIn((x) => x > 0, '> 0')(raw, flag);
      if (w > MAX_WIDTH_MULTIPLIER) throw new UsageError(`${flag} must be at most ${MAX_WIDTH_MULTIPLIER}, got ${w} (the weights grow with its square; 1 is the reference network)`);
      return w;
    },
  } satisfies OptionSpec<number>,
  'head-units': {
    type: 'string', arg: '<n>', config: 'model.headUnits', help: `hidden units of the fastai head (at most ${MAX_HEAD_UNITS})`, defaultText: '512 at every width',
    parse: (raw, flag) => {
      const n = positiveInt(raw, flag);
      if (n > MAX_HEAD_UNITS) throw new UsageError(`${flag} must be at most ${MAX_HEAD_UNITS}, got ${n}`);
      return n;
    },
  } satisfies OptionSpec<number>,
  mish: { type: 'boolean', default: false, config: 'model.xresnetActivation', help: "xresnet18/50: Mish activations (fastai's option)" } as const,
  'channel-stem': {
    type: 'boolean', default: false, config: 'model.mobilenetChannelStem', help: 'mobilenetv2: two learnt 1x1 convs make the 3 input channels (FAT2018)',
  } as const,
  folds: {
    type: 'string', arg: '<k>', config: 'pipeline.folds', defaultText: '10',
    help: 'k >= 2: k-fold cross-validation; 1: one model on all labelled clips, no validation. A fold column in the label CSV is used as given.',
    parse: positiveInt,
  } satisfies OptionSpec<number>,
  holdout: {
    type: 'string', arg: '<f>', config: 'pipeline.holdout', help: 'one model, validated on a random (stratified) fraction f of the clips',
    parse: numberIn((f) => f > 0 && f < 1, 'a fraction in (0, 1)'),
  } satisfies OptionSpec<number>,
  from: {
    type: 'string', arg: '<run | file>', config: 'finetune.from',
    help: "fine-tune: start from a run folder's network or a PyTorch checkpoint (with --arch, e.g. pannsCnn14); its preprocessing is inherited, the head is new for the data's classes (kept when they are the same); fastai's fine_tune: --freeze-epochs with the body frozen (BatchNorm trainable), then every layer, the body at lr / 100",
  } satisfies OptionSpec<string>,
  'freeze-epochs': {
    type: 'string', arg: '<n>', config: 'finetune.freezeEpochs', help: 'with --from: epochs with the body frozen first', defaultText: '1',
    parse: (raw, flag) => parseInteger(raw, flag, { min: 0 }),
  } satisfies OptionSpec<number>,
  'freeze-body': {
    type: 'boolean', default: false, config: 'finetune.freezeBody', help: 'with --from: keep the body frozen throughout (a linear probe on its embeddings)',
  } as const,
  ...OVERRIDE_OPTIONS,
};
