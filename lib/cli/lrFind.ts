import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, defineCommand } from './command';
import { BACKEND_OPTIONS, CACHE_OPTION, DATA_OPTION, QUIET_OPTION, WORKERS_OPTION, backendChoice } from './options';
import { detectLayout, describeLayout } from '../data/layout';
import { initBackend, describeBackend } from '../runtime/backend';
import { resolveTrainConfig } from '../train/pipeline/trainConfig';
import { TRAIN_CONFIG_OPTIONS } from '../train/pipeline/trainOptions';
import { OVERRIDE_OPTIONS } from '../train/pipeline/configOverrides';
import { lrFindOnData, writeLrFindOutputs } from '../train/pipeline/lrFindJob';
import { LR_SUGGESTIONS, type LrSuggestion } from '../train/lrFind';
import { parseChoice, parseInteger, parseNumber, parseOptions, type OptionSpec, type RawValues } from '../util/options';

const positive = (raw: string, flag: string): number => {
  const n = parseNumber(raw, flag);
  if (!(n > 0)) throw new UsageError(`${flag} must be > 0, got ${n}`);
  return n;
};

/** The sweep's options, shared by `fat2019 lr-find` and `fat2019 train --lr auto`. */
export const LR_FIND_OPTIONS = {
  'start-lr': { type: 'string', arg: '<x>', help: 'lr-find: first learning rate of the sweep', default: 1e-7, parse: positive } satisfies OptionSpec<number>,
  'end-lr': { type: 'string', arg: '<x>', help: 'lr-find: last learning rate of the sweep', default: 10, parse: positive } satisfies OptionSpec<number>,
  'num-it': {
    type: 'string', arg: '<n>', help: 'lr-find: steps of the sweep', default: 100, parse: (raw: string, flag: string) => parseInteger(raw, flag, { min: 3 }),
  } satisfies OptionSpec<number>,
  suggest: {
    type: 'string', arg: '<rule>', default: 'valley' as LrSuggestion,
    help: 'lr-find: valley (fastai2) | steepest (fastai v1: min gradient) | minimum (lr of the lowest loss / 10)',
    parse: (raw: string, flag: string) => parseChoice<LrSuggestion>(raw, flag, LR_SUGGESTIONS),
  } satisfies OptionSpec<LrSuggestion>,
};

/** The sweep's options from raw values, checked (start < end too). */
export function lrFindSweepOptions(values: RawValues): { startLr: number; endLr: number; numIt: number; suggestion: LrSuggestion } {
  const o = parseOptions(LR_FIND_OPTIONS, values);
  if (!(o['end-lr'] > o['start-lr'])) throw new UsageError(`--start-lr and --end-lr must satisfy 0 < start < end, got ${o['start-lr']} and ${o['end-lr']}`);
  return { startLr: o['start-lr'], endLr: o['end-lr'], numIt: o['num-it'], suggestion: o.suggest };
}

const { lr: _lr, ...OVERRIDES_BUT_LR } = OVERRIDE_OPTIONS;
void _lr;

/** `fat2019 lr-find`: fastai's learning-rate finder on a data set. */
export const lrFindCommand = defineCommand({
  name: 'lr-find',
  summary: "Learning-rate finder (fastai's lr_find): an exponential lr sweep, the loss curve and a suggested max lr",
  usage: 'lr-find --data <path> [options]',
  description: `Trains a fresh model on the labelled clips for up to --num-it steps while the learning rate
grows exponentially from --start-lr to --end-lr (fastai's lr_find), records the loss, smooths
it (exponential moving average, beta 0.98) and stops when the smoothed loss exceeds 4x its
minimum. Prints the suggested max learning rate and writes the curve: <out>/lr-find.csv,
<out>/lr-find.html (plotly chart, opens offline) and <out>/lr-find.json. The model is thrown
away: no run folder is read or written. The config is resolved as \`fat2019 train\` resolves a
new run's (same flags, same data rules: the batch size matters). \`fat2019 train --lr auto\`
runs this first and trains with the suggestion.`,
  options: {
    data: { ...DATA_OPTION, arg: '<path>', help: 'data folder or label CSV', default: 'data/demo' },
    out: { type: 'string', arg: '<dir>', help: 'where the curve goes', default: 'work/lr-find' },
    recipe: TRAIN_CONFIG_OPTIONS.recipe,
    task: TRAIN_CONFIG_OPTIONS.task,
    arch: TRAIN_CONFIG_OPTIONS.arch,
    width: TRAIN_CONFIG_OPTIONS.width,
    epochs: { ...TRAIN_CONFIG_OPTIONS.epochs, help: "the training's epochs per stage (the data rules choose the batch size from them)" },
    'head-units': TRAIN_CONFIG_OPTIONS['head-units'],
    folds: TRAIN_CONFIG_OPTIONS.folds,
    holdout: TRAIN_CONFIG_OPTIONS.holdout,
    ...OVERRIDES_BUT_LR,
    ...LR_FIND_OPTIONS,
    cache: CACHE_OPTION,
    ...BACKEND_OPTIONS,
    workers: WORKERS_OPTION,
    quiet: { ...QUIET_OPTION, help: 'no log lines' },
  },
  positionals: 'none',
  examples: ['fat2019 lr-find --data data/demo --width 0.125 --epochs 10 --out work/lr-find/demo'],
  async run(o, _positionals, values) {
    const sweep = lrFindSweepOptions(values);
    const layout = detectLayout(o.data);
    const log = o.quiet ? undefined : (m: string) => process.stderr.write(`${m}\n`);
    log?.(describeLayout(layout));
    // A run folder that cannot exist: the config is a new run's (defaults, data, flags, data rules).
    const resolved = resolveTrainConfig(join(o.out, '.lr-find-has-no-run'), o.data, values, layout);
    for (const reason of new Set(resolved.ruleChoices.map((c) => c.reason))) log?.(reason);
    const info = await initBackend(backendChoice(o));
    log?.(describeBackend(info));
    const result = await lrFindOnData({ layout, config: resolved.config, cacheDir: o.cache, workers: o.workers, ...sweep, log });
    mkdirSync(o.out, { recursive: true });
    const files = writeLrFindOutputs(o.out, result);
    process.stdout.write(`lr-find: ${result.lrs.length} steps (${result.stop}); suggested max lr ${result.lr.toPrecision(2)} (${result.suggestion}; ` +
      `${Object.entries(result.suggestions).filter(([k]) => k !== result.suggestion).map(([k, v]) => `${k} ${v.toPrecision(2)}`).join(', ')})\n` +
      `curve: ${files.csv}, ${files.html}\n`);
    return 0;
  },
});
