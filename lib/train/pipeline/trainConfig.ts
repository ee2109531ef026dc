/**
 * A training job's config from its options, resolved exactly as `fat2019 train` does; the
 * own-data notebook calls it too, so both make the same `auto` choices.
 */
import { validateModelConfig } from '../../models/index';
import { existsSync } from 'node:fs';
import { CONFIG_DEFAULTS, LOW_RATE_MAX_HZ, checkPreprocessConfig, lowRatePreprocess, withDefaults, type DeepPartial, type Fat2019Config, type RecipeName } from '../../config';
import { lowSampleRate, scanClips, type DataLayout } from '../../data/layout';
import { checkTaskLabels, detectTaskName } from '../../task/task';
import { readRunInfo, runInfoPath } from '../../run/runFolder';
import { parseOptions, UsageError, type RawValues } from '../../util/options';
import { RECIPES } from './recipes';
import { TRAIN_CONFIG_OPTIONS } from './trainOptions';
import { checkRecipeData } from './data';
import { QUICK_OVERRIDES } from './presets';
import { flagOverrides } from './configOverrides';
import { dataRules, type DataRuleChoice } from './dataRules';
import { leafPaths, partialAt } from '../../util/configPath';
import { ALL_STAGES } from './stages';
import { inheritFromSource } from '../finetune';

/** Where a resolved config value came from (`fat2019 train --show-config` prints it). */
export type ConfigSource = 'default' | 'run.json' | 'preset' | 'data' | 'data rule' | 'flag';

export interface ValueOrigin {
  source: ConfigSource;
  /** The flag (`--batch-size 32`), the preset (`--quick`) or the rule's reason. */
  detail?: string;
}

/** A job's config with the origin of every leaf field (dotted path → origin). */
export interface ResolvedTrainConfig {
  config: Fat2019Config;
  origins: Map<string, ValueOrigin>;
  /** The data rules applied (fields the user left unset on a new run), with their reasons. */
  ruleChoices: DataRuleChoice[];
}

/**
 * The job's config: the run's (run.json) when the run exists, else the reference defaults,
 * then the command-line overrides (--quick, --epochs, --width, --head-units, --mish,
 * --channel-stem, --folds, --holdout, --arch,
 * --task, --recipe) and what the data says (class count; on a new run the task when `auto`,
 * the recipe when not given: warmup with a noisy set, else single; the folds of a fold
 * column). A run's later jobs may thus omit the flags; flags that change the run's settings
 * make openRun fail, naming the fields.
 */
export function trainConfig(runDir: string, dataDir: string, values: RawValues, layout?: DataLayout): Fat2019Config {
  return resolveTrainConfig(runDir, dataDir, values, layout).config;
}

/**
 * {@link trainConfig} with provenance. Layers, later ones winning: defaults (or run.json) →
 * preset (--quick / --preset) → what the data says (classes, task, recipe, folds column,
 * low-rate preprocessing) → named flags → shortcuts and --set (a --set contradicting a named
 * flag is a usage error) → on a new run, the data rules (lib/train/pipeline/dataRules) for the
 * fields nobody set, unless the reference is asked for (--preset reference, or --recipe warmup
 * on the Kaggle layout).
 */
export function resolveTrainConfig(runDir: string, dataDir: string, values: RawValues, layout?: DataLayout): ResolvedTrainConfig {
  void dataDir;
  const existing = existsSync(runInfoPath(runDir));
  let config: Fat2019Config = existing ? readRunInfo(runDir).config : withDefaults(CONFIG_DEFAULTS);
  const origins = new Map<string, ValueOrigin>();
  for (const p of leafPaths(config)) origins.set(p, { source: existing ? 'run.json' : 'default' });
  const apply = (partial: DeepPartial<Fat2019Config>, origin: (path: string) => ValueOrigin) => {
    config = withDefaults(config, partial);
    for (const p of leafPaths(partial)) origins.set(p, origin(p));
  };
  const o = parseOptions(TRAIN_CONFIG_OPTIONS, values);
  const preset = o.preset;
  if (preset === 'reference' && o.quick) throw new UsageError('--preset reference and --quick contradict each other');
  if (o.quick || preset === 'quick') apply(QUICK_OVERRIDES, () => ({ source: 'preset', detail: o.quick ? '--quick' : '--preset quick' }));

  // Named flags and data facts, each with its origin.
  const entries: { path: string; value: unknown; origin: ValueOrigin }[] = [];
  const flag = (path: string, value: unknown, detail: string) => entries.push({ path, value, origin: { source: 'flag', detail } });
  const fact = (path: string, value: unknown, detail: string) => entries.push({ path, value, origin: { source: 'data', detail } });
  if (o.epochs !== undefined) flag('pipeline.stageEpochs', ALL_STAGES.map(() => o.epochs!), `--epochs ${o.epochs}`);
  let recipe: RecipeName | undefined;
  if (o.recipe !== undefined) {
    recipe = o.recipe;
    flag('pipeline.recipe', recipe, `--recipe ${recipe}`);
  } else if (!existing && layout) {
    recipe = layout.noisy ? 'warmup' : 'single';
    fact('pipeline.recipe', recipe, layout.noisy ? 'a noisy set: warmup' : 'no noisy set: single');
  }
  if (recipe !== undefined) entries.push({ path: 'pipeline.ensembleStages', value: [...RECIPES[recipe].ensembleStages], origin: { source: o.recipe !== undefined ? 'flag' : 'data', detail: `recipe ${recipe}` } });
  const given = layout?.curated.givenFolds ? new Set(layout.curated.givenFolds).size : undefined;
  let folds: number | undefined;
  if (o.folds !== undefined) {
    folds = o.folds;
    if (given !== undefined && folds !== given) throw new UsageError(`--folds ${folds}: ${layout!.curated.labelFile} has a fold column with ${given} folds, which is used as given (leave --folds out)`);
    flag('pipeline.folds', folds, `--folds ${folds}`);
  } else if (given !== undefined) {
    folds = given;
    fact('pipeline.folds', given, `fold column of ${layout!.curated.labelFile}`);
  }
  if (o.holdout !== undefined) {
    if (folds !== undefined && folds !== 1) throw new UsageError(`--holdout trains one model; it cannot be combined with --folds ${folds} (use --folds 1 or leave it out)`);
    flag('pipeline.folds', 1, `--holdout ${o.holdout}`);
    flag('pipeline.holdout', o.holdout, `--holdout ${o.holdout}`);
  }
  const taskValue = o.task ?? (existing ? undefined : 'auto');
  if (taskValue === 'auto') {
    if (layout) fact('task.name', detectTaskName(layout.curated.clips), 'task auto: from the labels');
  } else if (taskValue !== undefined) {
    flag('task.name', taskValue, `--task ${taskValue}`);
  }
  if (o['label-smoothing'] !== undefined) flag('task.labelSmoothing', o['label-smoothing'], `--label-smoothing ${o['label-smoothing']}`);
  if (o.width !== undefined) flag('model.widthMultiplier', o.width, `--width ${o.width}`);
  if (o['head-units'] !== undefined) flag('model.headUnits', o['head-units'], `--head-units ${o['head-units']}`);
  if (o.mish) flag('model.xresnetActivation', 'mish', '--mish');
  if (o['channel-stem']) flag('model.mobilenetChannelStem', true, '--channel-stem');
  if (o.arch !== undefined) flag('model.arch', o.arch, `--arch ${o.arch}`);
  if (layout) fact('model.numClasses', layout.vocabulary.length, `${layout.vocabulary.length} classes`);
  if (!existing && layout) {
    // Low-rate audio (every clip ≤ 16 kHz) gets the low-rate preprocessing, recorded in run.json.
    const rate = lowSampleRate(scanClips(layout.curated), LOW_RATE_MAX_HZ);
    if (rate !== null) for (const [k, v] of Object.entries(lowRatePreprocess(rate))) fact(`preprocess.${k}`, v, `clips at ${rate} Hz: low-rate preprocessing`);
  }
  // Shortcuts and --set: typed against the defaults; one contradicting a named flag is an error.
  const overrides = flagOverrides(values, config.pipeline.stageEpochs.length, { skipLr: values.lr === 'auto' });
  for (const o of overrides) {
    const named = entries.find((e) => e.path === o.path && e.origin.source === 'flag');
    if (named && JSON.stringify(named.value) !== JSON.stringify(o.value)) throw new UsageError(`${o.flag} contradicts ${named.origin.detail} (both set ${o.path}); give one`);
    flag(o.path, o.value, o.flag);
  }
  for (const e of entries) apply(partialAt(e.path, e.value) as DeepPartial<Fat2019Config>, () => e.origin);
  // --lr auto: the CLI runs the lr finder after this and sets the from-scratch stages' lr.
  if (values.lr === 'auto') origins.set('pipeline.stageMaxLr', { source: 'flag', detail: '--lr auto (lr-find before training)' });

  // Data rules: a new run's fields nobody set, chosen from the data (not for the reference).
  let ruleChoices: DataRuleChoice[] = [];
  const reference = preset === 'reference' || (config.pipeline.recipe === 'warmup' && layout?.kind === 'kaggle');
  if (!existing && layout && !reference && !o.quick && preset !== 'quick') {
    const fixed = new Set([...origins].filter(([, o]) => o.source === 'flag' || o.source === 'preset').map(([p]) => p));
    ruleChoices = dataRules(layout, config, fixed);
    for (const c of ruleChoices) apply(partialAt(c.path, c.value) as DeepPartial<Fat2019Config>, () => ({ source: 'data rule', detail: c.reason }));
  }

  // --from: the source's network and preprocessing (after the rules: the source decides what it was trained on).
  config = withFinetuneOptions(config, o);
  checkPreprocessConfig(config.preprocess, existing ? `${runInfoPath(runDir)}: config.preprocess` : 'config.preprocess');
  // Every model setting (sizes included) before run.json is written: a failed first command never blocks the corrected one.
  validateModelConfig(config.model);
  if (config.task.name === 'multiLabel' && config.task.labelSmoothing > 0) throw new UsageError('--label-smoothing applies to --task singleLabel only');
  if (layout) {
    checkTaskLabels(config.task.name, layout.curated.clips, layout.curated.labelFile);
    checkRecipeData(layout, config);
  }
  return { config, origins, ruleChoices };
}

function formatValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * The resolved config, one `path = value   (origin)` line per field, grouped by section: what
 * `fat2019 train --show-config` prints.
 */
export function formatResolvedConfig(resolved: ResolvedTrainConfig): string {
  const paths = leafPaths(resolved.config);
  const width = Math.min(48, Math.max(...paths.map((p) => p.length + 3 + formatValue(getLeaf(resolved.config, p)).length)));
  const lines: string[] = [];
  let section = '';
  for (const p of paths) {
    const top = p.split('.')[0];
    if (top !== section) {
      section = top;
      lines.push(`[${top}]`);
    }
    const o = resolved.origins.get(p) ?? { source: 'default' };
    const left = `${p} = ${formatValue(getLeaf(resolved.config, p))}`;
    lines.push(`  ${left.padEnd(width)}  ${o.source}${o.detail ? `: ${o.detail}` : ''}`);
  }
  return lines.join('\n') + '\n';
}

function getLeaf(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], obj);
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
