import { availableParallelism } from 'node:os';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, numberOption, type Command } from './command';
import { detectLayout, describeLayout } from '../data/layout';
import { initBackend, describeBackend } from '../runtime/backend';
import { backendOptions, BACKEND_OPTIONS_HELP } from './backendOption';
import { resolveTrainConfig } from '../train/pipeline/trainConfig';
import { OVERRIDE_OPTIONS_HELP, overrideOptionDeclarations } from '../train/pipeline/configOverrides';
import { lrFindOnData, writeLrFindOutputs } from '../train/pipeline/lrFindJob';
import { LR_SUGGESTIONS, type LrSuggestion } from '../train/lrFind';
import { architectureNames } from '../models/index';

/** The sweep's own options (shared with `train --lr auto`'s defaults). */
export function lrFindSweepOptions(values: Record<string, unknown>): { startLr: number; endLr: number; numIt: number; suggestion: LrSuggestion } {
  const startLr = numberOption(values, 'start-lr', 1e-7);
  const endLr = numberOption(values, 'end-lr', 10);
  const numIt = numberOption(values, 'num-it', 100);
  if (!(startLr > 0 && endLr > startLr)) throw new UsageError(`--start-lr and --end-lr must satisfy 0 < start < end, got ${startLr} and ${endLr}`);
  if (!Number.isInteger(numIt) || numIt < 3) throw new UsageError(`--num-it must be an integer >= 3, got ${numIt}`);
  const suggestion = String(values.suggest ?? 'valley');
  if (!(LR_SUGGESTIONS as readonly string[]).includes(suggestion)) throw new UsageError(`--suggest must be one of ${LR_SUGGESTIONS.join(', ')}, got "${suggestion}"`);
  return { startLr, endLr, numIt, suggestion: suggestion as LrSuggestion };
}

/** `fat2019 lr-find`: fastai's learning-rate finder on a data set. */
export const lrFindCommand: Command = {
  name: 'lr-find',
  summary: "Learning-rate finder (fastai's lr_find): an exponential lr sweep, the loss curve and a suggested max lr",
  help: `Usage: fat2019 lr-find --data <path> [options]

Trains a fresh model on the labelled clips for up to --num-it steps while the learning rate
grows exponentially from --start-lr to --end-lr (fastai's lr_find), records the loss, smooths
it (exponential moving average, beta 0.98) and stops when the smoothed loss exceeds 4x its
minimum. Prints the suggested max learning rate and writes the curve: <out>/lr-find.csv,
<out>/lr-find.html (plotly chart, opens offline) and <out>/lr-find.json. The model is thrown
away: no run folder is read or written. The config is resolved as \`fat2019 train\` resolves a
new run's (same flags, same data rules: the batch size matters). \`fat2019 train --lr auto\`
runs this first and trains with the suggestion.

Options:
  --data <path>        data folder or label CSV (default: data/demo)
  --out <dir>          where the curve goes (default: work/lr-find)
  --arch <name>        network: ${architectureNames().join(', ')} (default cnnModel1)
  --width <m>          model width multiplier (default 1)
  --epochs <n>         the training's epochs (the data rules choose the batch from them)
  --recipe, --task, --folds, --holdout, --head-units: as train
  --start-lr <x>       first lr (default 1e-7)
  --end-lr <x>         last lr (default 10)
  --num-it <n>         sweep steps (default 100)
  --suggest <rule>     valley (fastai2, default) | steepest (fastai v1: min gradient) |
                       minimum (lr of the lowest loss / 10)
${OVERRIDE_OPTIONS_HELP.split('\n').filter((l) => !l.includes('--lr ')).join('\n')}
  --cache <dir>        feature cache root (default: work/features)
${BACKEND_OPTIONS_HELP}
  --workers <n>        preprocessing threads for clips not yet cached (default: ${availableParallelism()})
  --quiet              no log lines

Example:
  fat2019 lr-find --data data/demo --width 0.125 --epochs 10 --out work/lr-find/demo
`,
  options: {
    data: { type: 'string' }, out: { type: 'string' }, arch: { type: 'string' }, width: { type: 'string' }, epochs: { type: 'string' },
    recipe: { type: 'string' }, task: { type: 'string' }, folds: { type: 'string' }, holdout: { type: 'string' }, 'head-units': { type: 'string' },
    'start-lr': { type: 'string' }, 'end-lr': { type: 'string' }, 'num-it': { type: 'string' }, suggest: { type: 'string' },
    ...overrideOptionDeclarations(),
    cache: { type: 'string' }, backend: { type: 'string' }, threads: { type: 'string' }, workers: { type: 'string' }, quiet: { type: 'boolean' },
  },
  async run(values, positionals) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (values.lr !== undefined) throw new UsageError('--lr is what lr-find finds; leave it out');
    const dataDir = typeof values.data === 'string' ? values.data : 'data/demo';
    const out = typeof values.out === 'string' ? values.out : 'work/lr-find';
    const sweep = lrFindSweepOptions(values);
    const backend = backendOptions(values);
    const workers = numberOption(values, 'workers', availableParallelism());
    if (!Number.isInteger(workers) || workers < 0) throw new UsageError(`--workers must be a non-negative integer, got ${workers}`);
    const layout = detectLayout(dataDir);
    const log = values.quiet === true ? undefined : (m: string) => process.stderr.write(`${m}\n`);
    log?.(describeLayout(layout));
    // A run folder that cannot exist: the config is a new run's (defaults, data, flags, data rules).
    const resolved = resolveTrainConfig(join(out, '.lr-find-has-no-run'), dataDir, values, layout);
    for (const reason of new Set(resolved.ruleChoices.map((c) => c.reason))) log?.(reason);
    const info = await initBackend(backend);
    log?.(describeBackend(info));
    const result = await lrFindOnData({ layout, config: resolved.config, cacheDir: typeof values.cache === 'string' ? values.cache : 'work/features', workers, ...sweep, log });
    mkdirSync(out, { recursive: true });
    const files = writeLrFindOutputs(out, result);
    process.stdout.write(`lr-find: ${result.lrs.length} steps (${result.stop}); suggested max lr ${result.lr.toPrecision(2)} (${result.suggestion}; ` +
      `${Object.entries(result.suggestions).filter(([k]) => k !== result.suggestion).map(([k, v]) => `${k} ${v.toPrecision(2)}`).join(', ')})\n` +
      `curve: ${files.csv}, ${files.html}\n`);
    return 0;
  },
};
