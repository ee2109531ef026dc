/**
 * The job graph of a run, derived from its recipe's stage declarations (lib/train/pipeline/recipes):
 * what a scheduler has to know to spread `fat2019 train` over machines.
 *
 *   prepare                      `fat2019 train --prepare`: run.json and the folds, once
 *   (arch, stage) × folds        one `fat2019 train --arch A --stage k --fold f` per fold: an array
 *   infer                        `fat2019 infer`: the submission, after every ensemble stage
 *
 * An (arch, stage) array depends on an earlier stage of the same architecture
 * - **per fold** when it only reads that stage's fold-f model: it starts from it (`initFrom`) or
 *   its fold-f model pseudo-labels the unlabelled clips (`select.kind = 'pseudoLabel'`);
 * - **on every fold** (a barrier) when it selects noisy clips by the out-of-fold scores of all
 *   folds of that stage (`select.kind = 'noisyByScore'`, `scoresFrom`).
 * A barrier on a stage makes a per-fold edge to it redundant, so only the barrier is kept.
 * Architectures are independent chains; every array waits for prepare, infer for everything the
 * ensemble holds.
 */
import { posix } from 'node:path';
import type { Architecture } from '../config';
import { recipeStages, stageSpec, type Recipe } from '../train/pipeline/recipes';

/** How a job array waits for another one. */
export type DependencyKind =
  /** Index f waits for index f of the other array (Slurm `aftercorr`). */
  | 'perFold'
  /** Every index waits for every index of the other array (Slurm `afterok` on an array). */
  | 'allFolds';

export interface Dependency {
  /** The id of the job (array) waited for. */
  on: string;
  kind: DependencyKind;
  /** Why, for comments in the rendered plans. */
  reason: string;
}

/** One node of the graph: a single job (prepare, infer) or an array of one job per fold. */
export interface PlanJob {
  /** Unique, scheduler-safe: lowercase letters, digits and dashes (`cnnmodel1-stage2`). */
  id: string;
  kind: 'prepare' | 'train' | 'infer';
  /** train: the architecture and stage; the array runs one index per fold. */
  arch?: Architecture;
  stage?: number;
  /** train: number of indices (folds 0 .. folds−1); 1 for prepare and infer. */
  folds: number;
  /** The command, as argv after `fat2019`; `{fold}` stands for the array index. */
  args: string[];
  dependsOn: Dependency[];
}

/** A run's job graph, in an order where every job follows the jobs it waits for. */
export interface JobPlan {
  /** Scheduler-safe name of the run (its folder's name), the prefix of job names. */
  name: string;
  run: string;
  data: string;
  recipe: Recipe['name'];
  archs: Architecture[];
  folds: number;
  /** Stages whose models form the submission's ensemble. */
  ensembleStages: number[];
  /** The submission the infer job writes. */
  submission: string;
  jobs: PlanJob[];
}

/** What {@link buildJobPlan} needs. */
export interface JobPlanOptions {
  /** Run folder, as every job will see it (a path on the shared file system). */
  run: string;
  /** Data folder or label CSV, as every job will see it. */
  data: string;
  recipe: Recipe;
  /** Architectures trained (independent chains), at least one. */
  archs: Architecture[];
  /** Number of folds (pipeline.folds; 1: one model, a single-index array). */
  folds: number;
  /** Extra options of the prepare job (`train --prepare`): the flags that define the run. */
  prepareArgs?: string[];
  /** Options every job passes (e.g. `--cache /shared/features`). */
  commonArgs?: string[];
  /** The submission the infer job writes (default `<run>/submission.csv`). */
  submission?: string;
  /** Other options of the infer job (e.g. `--score`). */
  inferArgs?: string[];
}

/** `cnnModel1` → `cnnmodel1`: ids must be lowercase for Kubernetes names. */
function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
}

function trainJobId(arch: Architecture, stage: number): string {
  return `${slug(arch)}-stage${stage}`;
}

/**
 * The dependencies of (arch, stage) on earlier stages of its recipe: per-fold for `initFrom`
 * and pseudo-labels, all folds for a noisy selection by out-of-fold scores.
 */
export function stageDependencies(recipe: Recipe, arch: Architecture, stage: number): Dependency[] {
  const spec = stageSpec(recipe, stage);
  const barrier = new Map<number, string>();
  const perFold = new Map<number, string>();
  if (spec.select?.kind === 'noisyByScore') {
    for (const s of spec.select.scoresFrom) barrier.set(s, `selects noisy clips by the out-of-fold scores of every fold of stage ${s}`);
  }
  if (spec.initFrom !== null) perFold.set(spec.initFrom, `fold f starts from stage ${spec.initFrom}'s fold-f model`);
  if (spec.select?.kind === 'pseudoLabel') {
    const s = spec.select.from;
    perFold.set(s, perFold.has(s) ? `${perFold.get(s)}, which also pseudo-labels its unlabelled clips` : `stage ${s}'s fold-f model pseudo-labels its unlabelled clips`);
  }
  const deps: Dependency[] = [];
  for (const s of [...new Set([...barrier.keys(), ...perFold.keys()])].sort((a, b) => a - b)) {
    const reason = [barrier.get(s), perFold.get(s)].filter(Boolean).join('; ');
    deps.push({ on: trainJobId(arch, s), kind: barrier.has(s) ? 'allFolds' : 'perFold', reason });
  }
  return deps;
}

/** The job graph of a run: prepare, one array per (arch, stage), infer. */
export function buildJobPlan(o: JobPlanOptions): JobPlan {
  if (o.archs.length === 0) throw new Error('buildJobPlan: at least one architecture');
  if (!Number.isInteger(o.folds) || o.folds < 1) throw new Error(`buildJobPlan: folds must be an integer >= 1, got ${o.folds}`);
  const common = o.commonArgs ?? [];
  const submission = o.submission ?? posix.join(o.run, 'submission.csv');
  const base = ['--run', o.run, '--data', o.data];
  const jobs: PlanJob[] = [{
    id: 'prepare', kind: 'prepare', folds: 1,
    args: ['train', ...base, ...(o.prepareArgs ?? []), ...common, '--prepare'],
    dependsOn: [],
  }];
  const trained: string[] = [];
  for (const arch of [...new Set(o.archs)]) {
    for (const stage of recipeStages(o.recipe)) {
      const id = trainJobId(arch, stage);
      const deps = stageDependencies(o.recipe, arch, stage);
      jobs.push({
        id, kind: 'train', arch, stage, folds: o.folds,
        args: ['train', '--run', o.run, '--arch', arch, '--stage', String(stage), '--fold', '{fold}', ...common],
        // Stages without an earlier one wait for prepare (later ones do through them).
        dependsOn: deps.length > 0 ? deps : [{ on: 'prepare', kind: 'allFolds', reason: 'run.json and the folds exist' }],
      });
      if (o.recipe.ensembleStages.includes(stage)) trained.push(id);
    }
  }
  jobs.push({
    id: 'infer', kind: 'infer', folds: 1,
    args: ['infer', '--run', o.run, '--out', submission, ...common, ...(o.inferArgs ?? [])],
    dependsOn: trained.map((on) => ({ on, kind: 'allFolds' as const, reason: 'an ensemble stage' })),
  });
  return { name: `fat2019-${slug(o.run.replace(/\/+$/, '').split('/').pop() || 'run')}`.replace(/-+$/, ''), run: o.run, data: o.data, recipe: o.recipe.name, archs: [...new Set(o.archs)], folds: o.folds, ensembleStages: [...o.recipe.ensembleStages], submission, jobs };
}

/** POSIX shell quoting: bare when safe, else single quotes. */
export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./{}-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
