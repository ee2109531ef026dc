/**
 * Every config field from the command line: `--set <path>=<value>` for any field of
 * Fat2019Config (typed from CONFIG_DEFAULTS, string fields from the registries), and the named
 * shortcuts for the common ones (`--batch-size`, `--lr`, `--seed`, `--mixup`/`--no-mixup`,
 * `--specmix`/`--no-specmix`). Shared by `fat2019 train` and the notebooks (lib/notebook), so
 * both accept the same overrides with the same errors.
 */
import { CONFIG_DEFAULTS, withDefaults, type DeepPartial, type Fat2019Config } from '../../config';
import { architectureNames } from '../../models/index';
import { TASK_NAMES } from '../../task/task';
import { parseAssignments, partialAt, type FieldAssignment, type StringChoices } from '../../util/configPath';
import { UsageError, parseInteger, parseNumber, type OptionSpec } from '../../util/options';
import { RECIPE_NAMES } from './recipes';

/** The allowed values of Fat2019Config's string fields (their types are unions, not readable off a value). */
export function configChoices(): StringChoices {
  const fill = { values: ['zero', 'mean'], number: true };
  return {
    'task.name': { values: TASK_NAMES },
    'pipeline.recipe': { values: RECIPE_NAMES },
    'model.arch': { values: architectureNames() },
    'model.xresnetActivation': { values: ['relu', 'mish'] },
    'infer.ensembleMean': { values: ['arithmetic', 'geometric'] },
    'augment.shortClipPad': { values: ['centre', 'wrap'] },
    'augment.specAugment.fill': fill,
    'augment.randomErasing.fill': { values: ['zero', 'mean', 'random'], number: true },
    'augment.waveform.noise.source': { values: ['generated', 'clips', 'mixed'] },
    'augment.waveform.noise.color': { values: ['white', 'pink', 'brown', 'random'] },
    'augment.waveform.fade.shape': { values: ['linear', 'quarterSine', 'halfSine'] },
  };
}

/** Ranges beyond the type: integer counts and probabilities (checked on --set and shortcuts alike). */
function checkRange(path: string, value: unknown, text: string): void {
  const fail = (what: string) => {
    throw new UsageError(`${text}: ${path} must be ${what}, got ${JSON.stringify(value)}`);
  };
  const leaf = path.split('.').pop()!;
  const ints: Record<string, number> = {
    'train.batchSize': 1, 'train.microBatchSize': 0, 'train.earlyStoppingPatience': 0, 'train.epochs': 1, 'train.seed': 0,
    'pipeline.folds': 1, 'model.numClasses': 1, 'model.inputMels': 1, 'model.inputFrames': 1, 'model.headUnits': 1,
    'infer.batchSize': 1, 'infer.windowFrames': 1, 'infer.windowShift': 1,
  };
  if (path in ints && (typeof value !== 'number' || !Number.isInteger(value) || value < ints[path])) fail(`an integer >= ${ints[path]}`);
  if (path === 'pipeline.stageEpochs' && !(value as number[]).every((e) => Number.isInteger(e) && e >= 1)) fail('a list of integers >= 1');
  if ((path === 'pipeline.stageMaxLr' && !(value as number[]).every((e) => e > 0)) || (path === 'optimizer.maxLr' && !((value as number) > 0))) fail('> 0');
  if ((leaf === 'p' || path === 'pipeline.holdout' || leaf === 'headDropout1' || leaf === 'headDropout2' || path === 'task.labelSmoothing') &&
    !(typeof value === 'number' && value >= 0 && value < (leaf === 'p' ? 1.0000001 : 1))) fail(leaf === 'p' ? 'a probability in [0, 1]' : 'in [0, 1)');
  if (path === 'model.widthMultiplier' && !((value as number) > 0)) fail('> 0');
}

/** One named shortcut: `--batch-size 32` sets train.batchSize. */
export interface ShortcutOption {
  /** The flag without dashes; a boolean flag has a `no-` twin. */
  flag: string;
  path: string;
  kind: 'number' | 'boolean' | 'numberPerStage';
  help: string;
}

/** The named shortcuts of `fat2019 train` (and their config fields). */
export const SHORTCUT_OPTIONS: readonly ShortcutOption[] = [
  { flag: 'batch-size', path: 'train.batchSize', kind: 'number', help: 'samples per optimizer step (train.batchSize)' },
  { flag: 'lr', path: 'pipeline.stageMaxLr', kind: 'numberPerStage', help: 'one-cycle max learning rate of every stage (pipeline.stageMaxLr)' },
  { flag: 'seed', path: 'train.seed', kind: 'number', help: 'random seed of weights, batches and augmentation (train.seed)' },
  { flag: 'mixup', path: 'augment.mixup.enabled', kind: 'boolean', help: 'mixup on/off (augment.mixup.enabled)' },
  { flag: 'specmix', path: 'augment.specMix.enabled', kind: 'boolean', help: 'SpecMix on/off (augment.specMix.enabled)' },
];

/** `--lr`: a positive number, or `auto` (the learning-rate finder; `fat2019 train` runs it). */
function parseLr(raw: string, flag: string): number | 'auto' {
  if (raw.trim() === 'auto') return 'auto';
  const n = parseNumber(raw, flag);
  if (!(n > 0)) throw new UsageError(`${flag} must be > 0 or auto, got ${n}`);
  return n;
}

/**
 * The declared options of the shortcuts and `--set` (lib/util/options OptionSpec), for the
 * commands that resolve a training config (train, lr-find). Their values are applied by
 * {@link flagOverrides}; each names its config field.
 */
export const OVERRIDE_OPTIONS = {
  'batch-size': {
    type: 'string', arg: '<n>', config: 'train.batchSize', help: 'samples per optimizer step', defaultText: 'a data rule on a new run, else the run\'s',
    parse: (raw: string, flag: string) => parseInteger(raw, flag, { min: 1 }),
  } satisfies OptionSpec<number>,
  lr: {
    type: 'string', arg: '<x|auto>', config: 'pipeline.stageMaxLr',
    help: 'one-cycle max learning rate of every stage; auto: run the learning-rate finder (fat2019 lr-find) first and use its suggestion for the stages trained from scratch',
    defaultText: 'a data rule on a new run, else the run\'s', parse: parseLr,
  } satisfies OptionSpec<number | 'auto'>,
  seed: {
    type: 'string', arg: '<n>', config: 'train.seed', help: 'random seed of weights, batches and augmentation', defaultText: '2019',
    parse: (raw: string, flag: string) => parseInteger(raw, flag, { min: 0 }),
  } satisfies OptionSpec<number>,
  mixup: { type: 'boolean', default: false, config: 'augment.mixup.enabled', help: 'mixup on' } as const,
  'no-mixup': { type: 'boolean', default: false, config: 'augment.mixup.enabled', help: 'mixup off' } as const,
  specmix: { type: 'boolean', default: false, config: 'augment.specMix.enabled', help: 'SpecMix on' } as const,
  'no-specmix': { type: 'boolean', default: false, config: 'augment.specMix.enabled', help: 'SpecMix off' } as const,
  set: {
    type: 'string', arg: '<path=value>', multiple: true, config: 'any field',
    help: 'any config field (lib/config.ts Fat2019Config), repeatable: --set train.batchSize=32 --set augment.zoom.enabled=false --set pipeline.stageEpochs=5,10,10,10; checked against the field\'s type (see --show-config)',
  } satisfies OptionSpec<string[]>,
};

/** An override with the flag that set it. */
export interface FlagOverride extends FieldAssignment {
  /** `--batch-size 32`, `--set train.batchSize=32`. */
  flag: string;
}

/**
 * The overrides of the shortcuts and `--set` in `values` (parseArgs output), typed and range
 * checked; `stages` is the number of stage entries of per-stage lists. Throws a UsageError on
 * an unknown path (with "did you mean"), a bad value, a flag given with its `no-` twin, or a
 * `--set` that contradicts a shortcut. Nothing is written.
 */
export function flagOverrides(values: Record<string, unknown>, stages = CONFIG_DEFAULTS.pipeline.stageEpochs.length, options: { skipLr?: boolean } = {}): FlagOverride[] {
  const out: FlagOverride[] = [];
  for (const s of SHORTCUT_OPTIONS) {
    if (s.kind === 'boolean') {
      const on = values[s.flag] === true;
      const off = values[`no-${s.flag}`] === true;
      if (on && off) throw new UsageError(`--${s.flag} and --no-${s.flag} contradict each other`);
      if (on || off) out.push({ path: s.path, value: on, text: `--${on ? '' : 'no-'}${s.flag}`, flag: `--${on ? '' : 'no-'}${s.flag}` });
      continue;
    }
    const raw = values[s.flag];
    if (raw === undefined) continue;
    if (s.flag === 'lr' && options.skipLr) continue;
    const n = Number(raw);
    const text = `--${s.flag} ${String(raw)}`;
    if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${s.flag} must be a number, got "${String(raw)}"`);
    const value = s.kind === 'numberPerStage' ? Array.from({ length: stages }, () => n) : n;
    checkRange(s.path, value, text);
    out.push({ path: s.path, value, text, flag: text });
  }
  const raw = values.set;
  const sets = raw === undefined ? [] : Array.isArray(raw) ? raw.map(String) : [String(raw)];
  for (const a of parseAssignments(CONFIG_DEFAULTS, sets, configChoices())) {
    // The pipeline trains each stage with its own entry of these lists; the plain fields are unused.
    const perStage: Record<string, string> = { 'train.epochs': 'pipeline.stageEpochs (or --epochs)', 'optimizer.maxLr': 'pipeline.stageMaxLr (or --lr)' };
    if (a.path in perStage) throw new UsageError(`--set ${a.text}: each stage trains with its own entry of ${perStage[a.path]}; set that instead`);
    checkRange(a.path, a.value, `--set ${a.text}`);
    const other = out.find((o) => o.path === a.path);
    if (other && JSON.stringify(other.value) !== JSON.stringify(a.value)) {
      throw new UsageError(`--set ${a.text} contradicts ${other.flag} (both set ${a.path}); give one`);
    }
    if (!other) out.push({ ...a, flag: `--set ${a.text}` });
  }
  return out;
}

/** Whether `values` holds any override (a shortcut or --set). */
export function hasFlagOverrides(values: Record<string, unknown>): boolean {
  return SHORTCUT_OPTIONS.some((s) => values[s.flag] !== undefined || values[`no-${s.flag}`] !== undefined) ||
    (values.set !== undefined && (!Array.isArray(values.set) || values.set.length > 0));
}

/**
 * `config` with `path=value` settings applied, checked exactly as `fat2019 train --set` checks
 * them (unknown path, bad value: a UsageError). The notebooks' `SET` list goes through here.
 */
export function withSettings(config: Fat2019Config, settings: readonly string[]): Fat2019Config {
  let out = withDefaults(config);
  for (const o of flagOverrides({ set: [...settings] }, config.pipeline.stageEpochs.length)) out = withDefaults(out, partialAt(o.path, o.value) as DeepPartial<Fat2019Config>);
  return out;
}
