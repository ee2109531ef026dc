/**
 * Opening a run folder: the first job writes `run.json` (config, vocabulary, data folder);
 * every later job, on any machine, checks that it trains with the same settings, so the
 * models of one run (folds, stages, both architectures) form a consistent ensemble.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Fat2019Config } from '../../config';
import { detectLayout } from '../../data/layout';
import { writeFileAtomicSync } from '../../util/atomicWrite';
import { recipeOf } from './recipes';
import { validateModelConfig } from '../../models/index';
import { readRunInfo, runInfoPath, RUN_INFO_VERSION, writeRunInfo, type RunInfo } from '../../run/runFolder';

/**
 * Config fields that may differ between jobs of one run (dotted paths; a trailing `.*` covers
 * a whole section). Each changes where or how fast a job runs, not what the run learns:
 * - `model.arch`: both architectures train in the same run folder (`<arch>/stage<k>/…`).
 * - `train.microBatchSize`: gradient accumulation to fit a machine's memory (only BatchNorm's
 *   batch statistics see smaller batches).
 * - `infer.batchSize`: windows per forward pass (memory only).
 * - `pipeline.ensembleStages`: used by inference only.
 */
export const ALLOWED_CONFIG_DIFFERENCES: readonly string[] = [
  'model.arch',
  'train.microBatchSize',
  'infer.batchSize',
  'pipeline.ensembleStages',
];

function isAllowed(path: string): boolean {
  return ALLOWED_CONFIG_DIFFERENCES.some((p) => (p.endsWith('.*') ? path.startsWith(p.slice(0, -1)) : path === p || path.startsWith(p + '.') || path.startsWith(p + '[')));
}

/**
 * Dotted paths of the fields where `a` and `b` differ (`"train.epochs"`, `"pipeline.stageEpochs"`,
 * `"augment.mixup.alpha"`); arrays compare as whole values; a field present in one only counts.
 */
export function configDifferences(a: unknown, b: unknown, prefix = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => configDifferences(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix || '(root)'];
}

/** Options of {@link openRun}. */
export interface OpenRunOptions {
  /** Clock for run.json's createdAt (default: the current time). */
  now?: () => Date;
}

/**
 * Creates the run folder's `run.json` (first job) or checks an existing one against this job.
 *
 * - New run: writes {config, vocabulary of `<dataDir>/sample_submission.csv`, dataDir}.
 * - Existing run: the vocabulary must be the same (same classes, same order) and the config
 *   may differ only in {@link ALLOWED_CONFIG_DIFFERENCES}; otherwise an Error lists every
 *   differing field with both values. A different `dataDir` is allowed (the same data can sit
 *   elsewhere on another machine); the folds files check that the clips are the same.
 *
 * @returns the stored RunInfo (its config is the first job's; train with this job's config)
 */
export function openRun(runDir: string, dataDir: string, config: Fat2019Config, options: OpenRunOptions = {}): RunInfo {
  const layout = detectLayout(dataDir);
  const vocabulary = layout.vocabulary;
  const classesFrom = layout.kind === 'kaggle' && existsSync(join(dataDir, 'sample_submission.csv')) ? join(dataDir, 'sample_submission.csv') : layout.curated.labelFile;
  if (config.model.numClasses !== vocabulary.length) {
    throw new Error(`config.model.numClasses is ${config.model.numClasses} but ${classesFrom} has ${vocabulary.length} classes`);
  }
  const recipe = recipeOf(config);
  const stages = recipe.stages.map((s) => s.stage);
  const outside = config.pipeline.ensembleStages.filter((s) => !stages.includes(s));
  if (outside.length > 0) {
    throw new Error(`config.pipeline.ensembleStages [${config.pipeline.ensembleStages.join(', ')}] names stage(s) ${outside.join(', ')}, which recipe ${recipe.name} lacks ` +
      `(its stages: ${stages.join(', ')}); use [${recipe.ensembleStages.join(', ')}]`);
  }
  if (!existsSync(runInfoPath(runDir))) {
    validateModelConfig(config.model);
    // The recipe's stage list beside run.json: what each stage trained on, read by people.
    writeFileAtomicSync(join(runDir, 'recipe.json'), JSON.stringify(recipe, null, 2) + '\n');
    const info: RunInfo = {
      version: RUN_INFO_VERSION,
      config,
      vocabulary,
      dataDir,
      createdAt: (options.now ?? (() => new Date()))().toISOString(),
    };
    writeRunInfo(runDir, info);
    return info;
  }
  const info = readRunInfo(runDir);
  const path = runInfoPath(runDir);
  if (JSON.stringify(info.vocabulary) !== JSON.stringify(vocabulary)) {
    throw new Error(`${path}: the run's vocabulary (${info.vocabulary.length} classes) differs from ${classesFrom} (${vocabulary.length} classes): a run trains on one class set`);
  }
  const diffs = configDifferences(info.config, config).filter((p) => !isAllowed(p));
  if (diffs.length > 0) {
    const get = (obj: unknown, p: string): unknown => p.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj);
    const shown = diffs.slice(0, 8).map((p) => `${p}: run ${JSON.stringify(get(info.config, p))}, this job ${JSON.stringify(get(config, p))}`);
    throw new Error(`${path}: this job's config differs from the run's in ${diffs.length} field(s): ${shown.join('; ')}${diffs.length > 8 ? '; ...' : ''}. ` +
      `Use the run's settings (e.g. the same --quick/--epochs/--width/--folds) or a new run folder.`);
  }
  return info;
}
