/**
 * The job plan of a run from `fat2019 train`'s options: the config is resolved exactly as
 * `train` resolves it (the run's run.json when it exists, the flags, the data), so the plan has
 * the recipe and folds the jobs will have. The flags that define the run go to the prepare job
 * as given.
 */
import type { Architecture } from '../config';
import { detectLayout } from '../data/layout';
import { isArchitecture, architectureNames } from '../models/index';
import { recipeOf } from '../train/pipeline/recipes';
import { trainConfig } from '../train/pipeline/trainConfig';
import { UsageError } from '../util/options';
import { buildJobPlan, type JobPlan } from './jobGraph';

export interface PlanFromRunOptions {
  run: string;
  data: string;
  /** Architectures (default: the run's, else the config default). */
  archs?: Architecture[];
  /** The run-defining `fat2019 train` options as given on the command line (raw: strings, booleans); they go to the prepare job. */
  runFlags: Record<string, unknown>;
  /** Feature cache root every job uses. */
  cache?: string;
  submission?: string;
}

/** `a,b` → the architectures, each checked against the registry. */
export function planArchs(raw: string, fallback: Architecture): Architecture[] {
  const parts = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) return [fallback];
  for (const p of parts) if (!isArchitecture(p)) throw new UsageError(`--arch must be a comma-separated list of ${architectureNames().join(', ')}, got "${p}"`);
  return [...new Set(parts)] as Architecture[];
}

export function planFromRun(o: PlanFromRunOptions): JobPlan {
  const layout = detectLayout(o.data);
  const config = trainConfig(o.run, o.data, { ...o.runFlags, arch: o.archs?.[0] }, layout);
  const archs = o.archs ?? [config.model.arch];
  const prepareArgs: string[] = ['--arch', archs[0]];
  for (const [flag, v] of Object.entries(o.runFlags)) {
    if (v === undefined || v === false) continue;
    prepareArgs.push(`--${flag}`);
    if (v !== true) prepareArgs.push(String(v));
  }
  const commonArgs = o.cache !== undefined ? ['--cache', o.cache] : [];
  return buildJobPlan({
    run: o.run, data: o.data, recipe: recipeOf(config), archs, folds: config.pipeline.folds,
    prepareArgs, commonArgs, submission: o.submission,
  });
}
