import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_DEFAULTS, withDefaults, type Architecture, type DeepPartial, type Fat2019Config, type InputNormalization } from '../config';
import { writeFileAtomicSync } from '../util/atomicWrite';
import { architectureNames } from '../models/index';
import { liveLockOwner, type LockOwner } from './jobLock';

/**
 * The run folder, `weights/<run>/`: everything a run is made of, so that any later job (another
 * fold on another machine, inference, tagging) works from it alone.
 *
 *   run.json                                  {@link RunInfo}: config (task, recipe, preprocessing...), vocabulary, data folder
 *   recipe.json                               the recipe's stages (what each trains on, starts from, selects)
 *   folds/curated.csv, folds/noisy.csv        fname,fold
 *   <arch>/stage<k>/fold<f>/last/ and best/   fit checkpoints (resumable) and best model
 *   <arch>/stage<k>/fold<f>/done.json         {@link FoldDone}, written last: the job finished
 *   <arch>/stage<k>/fold<f>/lock.json         while a job runs: its pid and host (lib/run/jobLock.ts)
 *   <arch>/stage<k>/fold<f>/oof_<set>.csv     predictions of the fold's held-out clips
 *   <arch>/stage<k>/noisy_scores.csv          per-clip out-of-fold lwlrap of the noisy set
 *   <arch>/stage<k>/selected_noisy.csv        noisy clips a stage trained on (stages 3, 4)
 *   <arch>/stage<k>/fold<f>/pseudo_labels.csv unlabelled clips fold f's stage trained on (pseudoLabel recipe)
 */

export const RUN_INFO_VERSION = 1;

/** Contents of `run.json`. */
export interface RunInfo {
  version: number;
  config: Fat2019Config;
  /** Class names in submission column order (the data's sample_submission.csv). */
  vocabulary: string[];
  /** Data folder the run trained on (as given, usually relative to the project root). */
  dataDir: string;
  createdAt: string;
}

/** Contents of `done.json`: what a finished (arch, stage, fold) job reports. */
export interface FoldDone {
  arch: Architecture;
  stage: number;
  fold: number;
  epochs: number;
  /** Best validation lwlrap over the epochs (NaN serialised as null). */
  bestValidLwlrap: number | null;
  /** The task's selection metric ('lwlrap', 'accuracy') and its best validation value (null: no validation). */
  validMetric?: string;
  bestValidScore?: number | null;
  trainClips: number;
  validClips: number;
  seconds: number;
  finishedAt: string;
  /** Which model made the out-of-fold predictions: 'last' (the final epoch; the test ensemble uses the same) or 'best' (older runs). */
  oofModel?: 'last' | 'best';
  /** The task's selection metric (lwlrap for multiLabel, accuracy for singleLabel; see validMetric) of the fold's out-of-fold predictions on its held-out curated / noisy clips (null: none). */
  oofCuratedLwlrap?: number | null;
  oofNoisyLwlrap?: number | null;
  /**
   * This member's input normalisation when it has its own (imported models: fastai computes it
   * per training run); absent: the run's config.model.inputNormalization.
   */
  inputNormalization?: InputNormalization | null;
}

export const runInfoPath = (runDir: string): string => join(runDir, 'run.json');
export const foldsPath = (runDir: string, set: 'curated' | 'noisy'): string => join(runDir, 'folds', `${set}.csv`);
export const stageDir = (runDir: string, arch: Architecture, stage: number): string => join(runDir, arch, `stage${stage}`);
export const foldDir = (runDir: string, arch: Architecture, stage: number, fold: number): string =>
  join(stageDir(runDir, arch, stage), `fold${fold}`);
export const foldDonePath = (runDir: string, arch: Architecture, stage: number, fold: number): string =>
  join(foldDir(runDir, arch, stage, fold), 'done.json');
/** Lock of a running (arch, stage, fold) job: owner pid, host and start time (lib/run/jobLock.ts). */
export const jobLockPath = (runDir: string, arch: Architecture, stage: number, fold: number): string =>
  join(foldDir(runDir, arch, stage, fold), 'lock.json');
/** Out-of-fold predictions of a fold's held-out clips of one set (fname + class columns). */
export const oofPath = (runDir: string, arch: Architecture, stage: number, fold: number, set: 'curated' | 'noisy'): string =>
  join(foldDir(runDir, arch, stage, fold), `oof_${set}.csv`);
/** Per-clip out-of-fold lwlrap of the noisy set after all folds of a stage (fname,fold,lwlrap). */
export const noisyScoresPath = (runDir: string, arch: Architecture, stage: number): string =>
  join(stageDir(runDir, arch, stage), 'noisy_scores.csv');
/** Noisy clips a stage (3, 4) trains on (fname,fold,score). */
export const selectedNoisyPath = (runDir: string, arch: Architecture, stage: number): string =>
  join(stageDir(runDir, arch, stage), 'selected_noisy.csv');

/** Writes `run.json` atomically. */
export function writeRunInfo(runDir: string, info: RunInfo): void {
  writeFileAtomicSync(runInfoPath(runDir), JSON.stringify(info, null, 2) + '\n');
}

/** Reads `run.json`; a missing or malformed file throws an Error naming it. */
export function readRunInfo(runDir: string): RunInfo {
  const path = runInfoPath(runDir);
  if (!existsSync(path)) throw new Error(`${path}: no run.json: ${runDir} is not a run folder (train a model first: fat2019 train)`);
  let info: RunInfo;
  try {
    info = JSON.parse(readFileSync(path, 'utf8')) as RunInfo;
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (info.version !== RUN_INFO_VERSION) throw new Error(`${path}: run.json version ${info.version}, this version reads ${RUN_INFO_VERSION}`);
  if (!info.config || !Array.isArray(info.vocabulary) || info.vocabulary.length === 0) {
    throw new Error(`${path}: run.json lacks "config" or "vocabulary"`);
  }
  // Fields added since the run was made take their defaults (a run without a task or recipe
  // is a multiLabel warm-up run), so old run folders keep working and compare equal.
  try {
    info.config = withDefaults(CONFIG_DEFAULTS, info.config as DeepPartial<Fat2019Config>);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
  return info;
}

/** Marks a fold's job finished (atomically; the last file the job writes). */
export function writeFoldDone(runDir: string, done: FoldDone): void {
  writeFileAtomicSync(foldDonePath(runDir, done.arch, done.stage, done.fold), JSON.stringify(done, null, 2) + '\n');
}

/** The fold's `done.json`, or null when the job has not finished. */
export function readFoldDone(runDir: string, arch: Architecture, stage: number, fold: number): FoldDone | null {
  const path = foldDonePath(runDir, arch, stage, fold);
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as FoldDone;
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message}); delete it to retrain that fold`);
  }
}

/** A finished (arch, stage, fold) model of a run, usable in an ensemble. */
export interface RunMember {
  arch: Architecture;
  stage: number;
  fold: number;
  /**
   * Folder holding model.json: `last/`, the final model (`best/` only in a fold that saved no
   * other, e.g. imported weights). One model rule: the
   * out-of-fold predictions (cross-validation figures, noisy-clip selection, pseudo-labels)
   * come from the final model, so the test ensemble uses the same one. `best/` (the epoch
   * with the best validation score) stays in the fold folder for inspection only: it was
   * chosen on the held-out fold, so figures from it would be optimistic.
   */
  modelDir: string;
  /** The member's own input normalisation (done.json), when it has one; absent: the run's. */
  inputNormalization?: InputNormalization | null;
}

/** Filters of {@link findRunMembers}; each absent field means "all". */
export interface MemberFilter {
  archs?: readonly Architecture[];
  stages?: readonly number[];
  folds?: readonly number[];
}

/**
 * Every finished model of a run (a fold folder with done.json), sorted by arch, stage, fold.
 * Unfinished folds are skipped: an ensemble never uses a half-trained model.
 */
/**
 * The (arch, stage, fold) jobs of the run matching `filter` that are being trained now: a
 * lock.json whose owner is alive (lib/run/jobLock.ts) and no done.json yet.
 */
export function findRunningJobs(runDir: string, filter: MemberFilter = {}): (Omit<RunMember, 'modelDir'> & { owner: LockOwner })[] {
  const out: (Omit<RunMember, 'modelDir'> & { owner: LockOwner })[] = [];
  for (const arch of architectureNames()) {
    if (filter.archs && !filter.archs.includes(arch)) continue;
    const archDir = join(runDir, arch);
    if (!existsSync(archDir)) continue;
    for (const stageName of readdirSync(archDir)) {
      const stage = /^stage(\d+)$/.exec(stageName);
      if (!stage || (filter.stages && !filter.stages.includes(Number(stage[1])))) continue;
      for (const foldName of readdirSync(join(archDir, stageName))) {
        const fold = /^fold(\d+)$/.exec(foldName);
        if (!fold || (filter.folds && !filter.folds.includes(Number(fold[1])))) continue;
        const dir = join(archDir, stageName, foldName);
        if (existsSync(join(dir, 'done.json'))) continue;
        const owner = liveLockOwner(join(dir, 'lock.json'));
        if (owner) out.push({ arch, stage: Number(stage[1]), fold: Number(fold[1]), owner });
      }
    }
  }
  return out.sort((a, b) => a.arch.localeCompare(b.arch) || a.stage - b.stage || a.fold - b.fold);
}

/** done.json's inputNormalization when the member has its own (undefined: the run's applies). */
function memberNormalization(donePath: string): InputNormalization | null | undefined {
  try {
    const done = JSON.parse(readFileSync(donePath, 'utf8')) as FoldDone;
    return 'inputNormalization' in done ? done.inputNormalization ?? null : undefined;
  } catch {
    return undefined;
  }
}

export function findRunMembers(runDir: string, filter: MemberFilter = {}): RunMember[] {
  const out: RunMember[] = [];
  for (const arch of architectureNames()) {
    if (filter.archs && !filter.archs.includes(arch)) continue;
    const archDir = join(runDir, arch);
    if (!existsSync(archDir)) continue;
    for (const stageName of readdirSync(archDir).sort()) {
      const stage = /^stage(\d+)$/.exec(stageName);
      if (!stage || (filter.stages && !filter.stages.includes(Number(stage[1])))) continue;
      for (const foldName of readdirSync(join(archDir, stageName)).sort()) {
        const fold = /^fold(\d+)$/.exec(foldName);
        if (!fold || (filter.folds && !filter.folds.includes(Number(fold[1])))) continue;
        const dir = join(archDir, stageName, foldName);
        if (!existsSync(join(dir, 'done.json'))) continue;
        // One model rule: the final model (last/), which made the out-of-fold predictions. A
        // fold with a single saved model (imported weights write best/ only) uses that one.
        const modelDir = existsSync(join(dir, 'last', 'model.json')) ? join(dir, 'last') : join(dir, 'best');
        if (!existsSync(join(modelDir, 'model.json'))) throw new Error(`${dir}: done.json present but no last/model.json (the final model) nor best/model.json`);
        const member: RunMember = { arch, stage: Number(stage[1]), fold: Number(fold[1]), modelDir };
        const own = memberNormalization(join(dir, 'done.json'));
        if (own !== undefined) member.inputNormalization = own;
        out.push(member);
      }
    }
  }
  return out.sort((a, b) => a.arch.localeCompare(b.arch) || a.stage - b.stage || a.fold - b.fold);
}
