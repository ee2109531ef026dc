/**
 * The job plan of a run from `fat2019 train`'s options: the config is resolved exactly as
 * `train` resolves it (the run's run.json when it exists, the flags, the data), so the plan has
 * the recipe and folds the jobs will have. The flags that define the run go to the prepare job.
 */
import type { Architecture } from '../config';
import { detectLayout } from '../data/layout';
import { isArchitecture, architectureNames } from '../models/index';
import { recipeOf } from '../train/pipeline/recipes';
import { trainConfig } from '../train/pipeline/trainConfig';
import { UsageError } from '../util/options';
import { buildJobPlan, type JobPlan } from './jobGraph';

/** `fat2019 train` flags that define a run (they go to `train --prepare`), with whether they take a value. */
export const RUN_FLAGS: Readonly<Record<string, 'string' | 'boolean'>> = {
  recipe: 'string', task: 'string', 'label-smoothing': 'string', quick: 'boolean', epochs: 'string', width: 'string',
  'head-units': 'string', mish: 'boolean', 'channel-stem': 'boolean', folds: 'string', holdout: 'string',
};

export interface PlanFromRunOptions {
  run: string;
  data: string;
  /** Parsed command-line values: the {@link RUN_FLAGS}, `arch` (a comma-separated list), `cache`. */
  values: Record<string, unknown>;
  submission?: string;
}

/** `--arch a,b` → the architectures (default: the run's, else the config default). */
export function planArchs(raw: unknown, fallback: Architecture): Architecture[] {
  if (raw === undefined) return [fallback];
  const parts = String(raw).split(',').map((s) => s.trim()).filter(Boolean);
  for (const p of parts) if (!isArchitecture(p)) throw new UsageError(`--arch must be a comma-separated list of ${architectureNames().join(', ')}, got "${p}"`);
  if (parts.length === 0) throw new UsageError('--arch needs at least one architecture');
  return [...new Set(parts)] as Architecture[];
}

export function planFromRun(o: PlanFromRunOptions): JobPlan {
  const layout = detectLayout(o.data);
  const archList = o.values.arch === undefined ? undefined : planArchs(o.values.arch, 'cnnModel1');
  const config = trainConfig(o.run, o.data, { ...o.values, arch: archList?.[0] }, layout);
  const archs = archList ?? [config.model.arch];
  const prepareArgs: string[] = ['--arch', archs[0]];
  for (const [flag, kind] of Object.entries(RUN_FLAGS)) {
    const v = o.values[flag];
    if (v === undefined || v === false) continue;
    prepareArgs.push(`--${flag}`);
    if (kind === 'string') prepareArgs.push(String(v));
  }
  const commonArgs = typeof o.values.cache === 'string' ? ['--cache', o.values.cache] : [];
  return buildJobPlan({
    run: o.run, data: o.data, recipe: recipeOf(config), archs, folds: config.pipeline.folds,
    prepareArgs, commonArgs, submission: o.submission,
  });
}
