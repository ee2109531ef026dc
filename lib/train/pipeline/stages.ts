/**
 * What each stage of a recipe (./recipes) trains on, and the files that pass information
 * between stages: per-clip noisy scores after a stage, the noisy selection of warm-up stages
 * 3 and 4, the pseudo-labels of the pseudoLabel recipe. The warm-up recipe's stages:
 *
 *   stage 1: train noisy folds ≠ f, validate on noisy fold f                  (from scratch)
 *   stage 2: train curated folds ≠ f, validate on curated fold f              (init: stage 1, fold f)
 *   stage 3: train curated folds ≠ f + stage-3 selected noisy clips of folds ≠ f,
 *            validate on curated fold f                                        (init: stage 2, fold f)
 *   stage 4: as stage 3 with the stage-4 selection                            (init: stage 3, fold f)
 * Every (stage, fold) predicts its held-out curated fold f and noisy fold f (out-of-fold).
 */
import { existsSync } from 'node:fs';
import type { Architecture, Fat2019Config } from '../../config';
import { labelMatrix } from '../../data/labels';
import { readSubmission } from '../../data/submission';
import type { ClipSet } from './folds';
import type { RunData } from './data';
import { foldFnames } from './data';
import { foldDir, noisyScoresPath, oofPath, readFoldDone, selectedNoisyPath } from '../../run/runFolder';
import { clipScores, geometricMeanScores, readScoresCsv, selectNoisyClips, writeScoresCsv, type ClipScore, type SelectedClip } from './selection';
import { RECIPES, recipeOf, stageSpec, type Recipe } from './recipes';
import { makeTask } from '../../task/task';

/** The stages of the warm-up pipeline. */
export const STAGES: readonly number[] = [1, 2, 3, 4];

/** Stage numbers of any recipe (the warm-up has the most): what `--stage` may name. */
export const ALL_STAGES: readonly number[] = [...new Set(Object.values(RECIPES).flatMap((r) => r.stages.map((s) => s.stage)))].sort((a, b) => a - b);

/** Clip lists of one (stage, fold) job. */
export interface StageFoldPlan {
  stage: number;
  fold: number;
  /** Training clips of each set. */
  train: Record<ClipSet, string[]>;
  /** Validation clips (scored after every epoch; best/ is chosen on them). */
  valid: { set: ClipSet; fnames: string[] };
  /** Held-out fold f of each set: predicted out-of-fold after training. */
  heldOut: Record<ClipSet, string[]>;
  /** Stage whose fold-f model initialises this one (null: from scratch). */
  initFromStage: number | null;
  /** Pseudo-labelled clips join the training set (predicted by this stage's fold-f model). */
  pseudoLabelFrom?: number;
}

/** Checks stage, fold and the pipeline section of the config; errors name the value. */
export function checkStageFold(stage: number, fold: number, config: Fat2019Config): void {
  const p = config.pipeline;
  if (!Number.isInteger(p.folds) || p.folds < 1) throw new Error(`config.pipeline.folds must be an integer >= 1, got ${p.folds}`);
  const recipe = recipeOf(config);
  const spec = stageSpec(recipe, stage);
  if (spec.select?.kind === 'noisyByScore' && p.folds < 2) {
    throw new Error(`recipe ${recipe.name} stage ${stage} selects noisy clips by their out-of-fold scores, which need --folds >= 2 (got ${p.folds})`);
  }
  if (!Number.isInteger(fold) || fold < 0 || fold >= p.folds) throw new Error(`fold must be an integer in [0, ${p.folds}), got ${fold}`);
  const epochs = p.stageEpochs[stage - 1];
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`config.pipeline.stageEpochs[${stage - 1}] (stage ${stage}) must be an integer >= 1, got ${epochs}`);
  const lr = p.stageMaxLr[stage - 1];
  if (!(lr > 0)) throw new Error(`config.pipeline.stageMaxLr[${stage - 1}] (stage ${stage}) must be > 0, got ${lr}`);
}

/**
 * The clip lists of (stage, fold) under `recipe` (default the warm-up): the stage's sets minus
 * fold f, plus `selected` (the stage's noisy selection, only clips of folds ≠ f); validation
 * and out-of-fold prediction on fold f.
 */
export function planStageFold(stage: number, fold: number, data: RunData, selected?: readonly SelectedClip[], recipe: Recipe = RECIPES.warmup): StageFoldPlan {
  const spec = stageSpec(recipe, stage);
  const heldOut = { curated: foldFnames(data.sets.curated, fold, true), noisy: foldFnames(data.sets.noisy, fold, true) };
  const train: Record<ClipSet, string[]> = { curated: [], noisy: [] };
  for (const set of spec.trainOn) train[set] = foldFnames(data.sets[set], fold, false);
  if (spec.select?.kind === 'noisyByScore') {
    if (!selected) throw new Error(`planStageFold: stage ${stage} needs its noisy selection`);
    const chosen = new Set(train.noisy);
    for (const s of selected) if (s.fold !== fold && !chosen.has(s.fname)) train.noisy.push(s.fname);
  }
  const plan: StageFoldPlan = { stage, fold, train, valid: { set: spec.validateOn, fnames: heldOut[spec.validateOn] }, heldOut, initFromStage: spec.initFrom };
  if (spec.select?.kind === 'pseudoLabel') plan.pseudoLabelFrom = spec.select.from;
  return plan;
}

/** Folds of (arch, stage) without done.json, among 0 .. k−1. */
export function unfinishedFolds(runDir: string, arch: Architecture, stage: number, k: number): number[] {
  return Array.from({ length: k }, (_, f) => f).filter((f) => readFoldDone(runDir, arch, stage, f) === null);
}

/**
 * The out-of-fold predictions of `set` over the given folds of (arch, stage), concatenated:
 * fnames, 0/1 truth `[n][C]` and probabilities `[n][C]` (vocabulary order).
 */
export function readOof(runDir: string, arch: Architecture, stage: number, folds: readonly number[], set: ClipSet, data: RunData): { fnames: string[]; folds: number[]; truth: Uint8Array; probs: Float64Array } {
  const setData = data.sets[set];
  const fnames: string[] = [];
  const foldOf: number[] = [];
  const parts: Float64Array[] = [];
  for (const f of folds) {
    const path = oofPath(runDir, arch, stage, f, set);
    const sub = readSubmission(path, data.vocabulary);
    sub.fnames.forEach((fname) => {
      const row = setData.index.get(fname);
      if (row === undefined) throw new Error(`${path}: clip ${fname} is not in ${setData.labelFile}`);
      if (setData.folds[row] !== f) throw new Error(`${path}: clip ${fname} belongs to fold ${setData.folds[row]}, not ${f}`);
      fnames.push(fname);
      foldOf.push(f);
    });
    parts.push(sub.scores);
  }
  const C = data.vocabulary.length;
  const probs = new Float64Array(fnames.length * C);
  let offset = 0;
  for (const p of parts) {
    probs.set(p, offset);
    offset += p.length;
  }
  const truth = labelMatrix(fnames.map((f) => setData.clips[setData.index.get(f)!]), data.vocabulary);
  return { fnames, folds: foldOf, truth, probs };
}

/**
 * Per-clip out-of-fold score (the task's clip score: lwlrap for the reference) of every noisy
 * clip after (arch, stage) = l_stage: read from
 * `<arch>/stage<k>/noisy_scores.csv`, or computed from the folds' oof_noisy.csv and written
 * when every fold has finished. Throws, naming the unfinished folds, before that.
 */
export function ensureNoisyScores(runDir: string, arch: Architecture, stage: number, data: RunData, config: Fat2019Config): ClipScore[] {
  const k = config.pipeline.folds;
  const path = noisyScoresPath(runDir, arch, stage);
  const noisy = data.sets.noisy;
  if (existsSync(path)) {
    const scores = readScoresCsv(path);
    if (scores.length !== noisy.clips.length || scores.some((s) => !noisy.index.has(s.fname))) {
      throw new Error(`${path}: scores ${scores.length} clips, ${noisy.labelFile} lists ${noisy.clips.length} (other ones): the run's noisy set changed`);
    }
    return scores;
  }
  const missing = unfinishedFolds(runDir, arch, stage, k);
  if (missing.length > 0) {
    throw new Error(`the noisy scores of ${arch} stage ${stage} need every fold of that stage; not finished: ${missing.map((f) => `fold ${f}`).join(', ')} ` +
      `(no ${foldDir(runDir, arch, stage, missing[0])}/done.json). Train them first, e.g. fat2019 train --stage ${stage} --fold ${missing[0]}`);
  }
  const oof = readOof(runDir, arch, stage, Array.from({ length: k }, (_, f) => f), 'noisy', data);
  if (oof.fnames.length !== noisy.clips.length) {
    throw new Error(`${arch} stage ${stage}: the folds' oof_noisy.csv files hold ${oof.fnames.length} clips, ${noisy.labelFile} lists ${noisy.clips.length}`);
  }
  const scores = clipScores(makeTask(config.task), oof.fnames, oof.folds, oof.truth, oof.probs, data.vocabulary.length);
  // Label-file order, so the file reads like the label CSV.
  scores.sort((a, b) => noisy.index.get(a.fname)! - noisy.index.get(b.fname)!);
  writeScoresCsv(path, scores, 'lwlrap');
  return scores;
}

/**
 * The noisy clips stage 3 or 4 trains on (`<arch>/stage<k>/selected_noisy.csv`, read when it
 * exists, else computed and written):
 * - stage 3: sqrt(l1·l2) ≥ pipeline.stage3MinScore, at most pipeline.stage3MaxPerFoldPerLabel
 *   per (noisy fold, label), ranked by score (ties: fname);
 * - stage 4: l3 ≥ pipeline.stage4MinScore.
 * Needs every fold of the stages the scores come from (else an Error naming them).
 */
export function ensureSelection(runDir: string, arch: Architecture, stage: number, data: RunData, config: Fat2019Config): SelectedClip[] {
  const select = stageSpec(recipeOf(config), stage).select;
  if (select?.kind !== 'noisyByScore') throw new Error(`stage ${stage} of recipe ${recipeOf(config).name} selects no noisy clips`);
  const path = selectedNoisyPath(runDir, arch, stage);
  if (existsSync(path)) {
    const selected = readScoresCsv(path);
    for (const s of selected) if (!data.sets.noisy.index.has(s.fname)) throw new Error(`${path}: clip ${s.fname} is not in ${data.sets.noisy.labelFile}`);
    return selected;
  }
  const p = config.pipeline;
  const scores = select.scoresFrom.map((s) => ensureNoisyScores(runDir, arch, s, data, config));
  const ranked = scores.length === 1 ? scores[0] : geometricMeanScores(scores[0], scores[1], `${arch} stage ${select.scoresFrom.join(' and ')} noisy scores`);
  const labels = new Map(data.sets.noisy.clips.map((c) => [c.fname, c.labels] as [string, string[]]));
  const selected = select.capPerFoldPerLabel
    ? selectNoisyClips(ranked, { minScore: p[select.minScore], maxPerFoldPerLabel: p[select.capPerFoldPerLabel] }, labels)
    : selectNoisyClips(ranked, { minScore: p[select.minScore] });
  writeScoresCsv(path, selected, 'score');
  return selected;
}
