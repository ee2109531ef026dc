/**
 * The options shared by several commands, declared once.
 *
 * How the command line is declared (lib/util/options.ts has the types):
 * - An option is an {@link OptionSpec}: `type` ('string' | 'boolean'), `arg` (the value's
 *   placeholder in the help), `help` (one sentence), `default` / `defaultText`, `parse` (raw
 *   string → value; throws a UsageError naming the option and the bad value), `required`, and
 *   `config` (the config field it sets). Help, README tables and errors all come from it.
 * - To add an option to a command: add `name: { ... }` to the `options` of its
 *   `defineCommand({...})` (lib/cli/<command>.ts); its parsed value arrives typed in `run(o)`.
 *   An option several commands take belongs here; reuse it as `run: RUN_OPTION`, or adapt its
 *   text with a spread: `data: { ...DATA_OPTION, help: '...' }`.
 * - To add a command: a module lib/cli/<name>.ts exporting `defineCommand({ name, summary,
 *   usage, description, options, examples, run })`, listed in lib/cli/commands.ts; then
 *   `npx tsx scripts/readme-results.ts --render` updates the README's option tables.
 */
import { availableParallelism } from 'node:os';
import { parseBackendPreference, parseThreads, type BackendPreference, type InitBackendOptions } from '../runtime/backend';
import { ENGINE_PREFERENCES, type EnginePreference } from '../infer/engine';
import { architectureNames } from '../models/index';
import { ARCH_OPTION, parseArchitecture } from '../train/pipeline/trainOptions';
import type { Architecture, InferConfig } from '../config';
import { DEFAULT_FEATURE_CACHE } from '../data/featureCache';
import { UsageError, parseInteger, parseOptions, type OptionSpec, type RawValues } from '../util/options';

/** `--run <dir>`: a run folder; commands that need one add `required`. */
export const RUN_OPTION = {
  type: 'string', arg: '<dir>', help: 'run folder, e.g. weights/demo', required: 'a run folder, e.g. weights/demo',
} as const satisfies OptionSpec<string>;

/** `--data <dir>`: the data folder (each command says its default). */
export const DATA_OPTION = {
  type: 'string', arg: '<dir>', help: 'data folder',
} as const satisfies OptionSpec<string>;

/** `--cache <dir>`: the feature cache root. */
export const CACHE_OPTION = {
  type: 'string', arg: '<dir>', help: 'feature cache root', default: DEFAULT_FEATURE_CACHE,
} as const satisfies OptionSpec<string>;

/** `--quiet`: no progress output (each command says what else it silences). */
export const QUIET_OPTION = { type: 'boolean', help: 'no progress output', default: false } as const satisfies OptionSpec<boolean>;

/** `--workers <n>`: threads that compute missing log-mel images. */
export const WORKERS_OPTION: OptionSpec<number> & { default: () => number } = {
  type: 'string', arg: '<n>', help: 'preprocessing threads for clips not yet cached; 0 = in this thread',
  default: () => availableParallelism(), defaultText: 'the core count',
  parse: (raw, flag) => parseInteger(raw, flag, { min: 0 }),
};

/** `--backend <name>`: the tfjs backend (checked with the backend module's own rules). */
const BACKEND_OPTION: OptionSpec<BackendPreference> = {
  type: 'string', arg: '<name>',
  help: 'auto | gpu | node | wasm | cpu; FAT2019_BACKEND overrides', defaultText: 'auto, the fastest available',
  parse: (raw, flag) => {
    asUsageError(() => parseBackendPreference(raw, flag));
    return raw as BackendPreference;
  },
};

/** `--threads <n>`: wasm threads (and ONNX Runtime's). */
const THREADS_OPTION: OptionSpec<number> = {
  type: 'string', arg: '<n>', help: 'wasm threads (ONNX Runtime threads with --engine ort); FAT2019_THREADS overrides',
  defaultText: 'the core count',
  parse: (raw, flag) => asUsageError(() => parseThreads(raw, flag)),
};

/** `--engine <name>`: which runtime predicts. */
export const ENGINE_OPTION: OptionSpec<EnginePreference> & { default: EnginePreference } = {
  type: 'string', arg: '<name>',
  help: `${ENGINE_PREFERENCES.join(' | ')}: ONNX Runtime (each model's model.onnx, exported on first use) or tfjs on the backend above; auto = ONNX Runtime when onnxruntime-node loads`,
  default: 'auto',
  parse: (raw, flag) => {
    if (!(ENGINE_PREFERENCES as readonly string[]).includes(raw)) throw new UsageError(`${flag} must be one of ${ENGINE_PREFERENCES.join(', ')}, got '${raw}'`);
    return raw as EnginePreference;
  },
};

/** `--backend` and `--threads` together, as every command that runs tfjs models takes them. */
export const BACKEND_OPTIONS = { backend: BACKEND_OPTION, threads: THREADS_OPTION };

/** The architecture names for help texts, from the model registry. */
const archNames = (): string => architectureNames().join(', ');

/** `--arch <name>`: one network of the registry (declared with the training options). */
export { ARCH_OPTION, parseArchitecture };

/** `--arch <list>` (comma-separated, repeatable): networks of an ensemble. */
export const ARCH_LIST_OPTION: OptionSpec<Architecture[]> = {
  type: 'string', multiple: true, arg: '<list>', help: () => `architectures, comma-separated: ${archNames()}`,
  defaultText: 'all trained',
  parseAll: (raw, flag) => raw.flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean).map((p) => parseArchitecture(p, flag)),
};

/** `2,3,4` → [2, 3, 4]; anything else is a usage error naming the option. */
function parseIntList(raw: string, flag: string): number[] {
  const parts = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const out = parts.map(Number);
  if (parts.length === 0 || out.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new UsageError(`${flag} must be a comma-separated list of integers >= 0, got "${raw}"`);
  }
  return out;
}

/** `--stages <list>`: the stages whose models vote. */
export const STAGES_OPTION: OptionSpec<number[]> = {
  type: 'string', arg: '<list>', help: 'stages whose models vote, e.g. 2,3,4', defaultText: "the run's pipeline.ensembleStages", parse: parseIntList,
};

/** `--folds <list>`: the folds whose models vote. */
export const FOLDS_OPTION: OptionSpec<number[]> = {
  type: 'string', arg: '<list>', help: 'folds, e.g. 0,1,2', defaultText: 'all finished', parse: parseIntList,
};

/** `--top <k>`: classes listed per file. */
export const TOP_OPTION = {
  type: 'string', arg: '<k>', help: 'classes listed per file', default: 5,
  parse: (raw: string, flag: string) => parseInteger(raw, flag, { min: 1 }),
} as const satisfies OptionSpec<number>;

/** The options that choose an ensemble's members and how it predicts (infer, tag). */
export const ENSEMBLE_OPTIONS = {
  stages: STAGES_OPTION,
  arch: ARCH_LIST_OPTION,
  folds: FOLDS_OPTION,
  mean: {
    type: 'string', arg: '<kind>', help: 'arithmetic | geometric mean of window and model scores', defaultText: "the run's infer.ensembleMean, arithmetic",
    config: 'infer.ensembleMean',
    parse: (raw, flag) => {
      if (raw !== 'arithmetic' && raw !== 'geometric') throw new UsageError(`${flag} must be arithmetic or geometric, got "${raw}"`);
      return raw;
    },
  } satisfies OptionSpec<InferConfig['ensembleMean']>,
  'batch-size': {
    type: 'string', arg: '<n>', help: 'windows per forward pass', defaultText: "the run's infer.batchSize, 64", config: 'infer.batchSize',
    parse: (raw, flag) => parseInteger(raw, flag, { min: 1 }),
  } satisfies OptionSpec<number>,
  'one-at-a-time': { type: 'boolean', help: 'load one model at a time (big ensembles; clips are read again per model)', default: false } as const,
  partial: { type: 'boolean', help: 'use the finished models while other jobs of the run still train (default: refuse, naming them)', default: false } as const,
};

/** `--mean` and `--batch-size` (parsed) → overrides of the run's infer config. */
export function inferOverrides(o: { mean?: InferConfig['ensembleMean']; 'batch-size'?: number }): Partial<InferConfig> {
  const out: Partial<InferConfig> = {};
  if (o.mean !== undefined) out.ensembleMean = o.mean;
  if (o['batch-size'] !== undefined) out.batchSize = o['batch-size'];
  return out;
}

/**
 * `--backend` and `--threads` (raw values) as {@link InitBackendOptions}, checked with the
 * backend module's own rules (so the CLI accepts exactly what FAT2019_BACKEND does); a bad
 * value is a UsageError naming the option.
 */
export function backendOptions(values: RawValues): InitBackendOptions {
  return backendChoice(parseOptions(BACKEND_OPTIONS, values));
}

/** Parsed `--backend` / `--threads` → {@link InitBackendOptions}. */
export function backendChoice(o: { backend?: BackendPreference; threads?: number }): InitBackendOptions {
  const out: InitBackendOptions = {};
  if (o.backend !== undefined) out.prefer = o.backend;
  if (o.threads !== undefined) out.threads = o.threads;
  return out;
}

/** Runs `check`, turning its error into a UsageError (the backend's validators throw plain errors). */
function asUsageError<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
