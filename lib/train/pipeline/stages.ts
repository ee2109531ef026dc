/**
 * What each stage of the warm-up pipeline trains on (SPEC "Training"), and the files that pass
 * information between stages: per-clip noisy scores after a stage, the noisy selection of
 * stages 3 and 4.
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

/** The stages of the warm-up pipeline. */
export const STAGES: readonly number[] = [1, 2, 3, 4];

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
}

/** Checks stage, fold and the pipeline section of the config; errors name the value. */
export function checkStageFold(stage: number, fold: number, config: Fat2019Config): void {
  const p = config.pipeline;
  if (!Number.isInteger(p.folds) || p.folds < 2) throw new Error(`config.pipeline.folds must be an integer >= 2, got ${p.folds}`);
  if (!STAGES.includes(stage)) throw new Error(`stage must be one of ${STAGES.join(', ')}, got ${stage}`);
  if (!Number.isInteger(fold) || fold < 0 || fold >= p.folds) throw new Error(`fold must be an integer in [0, ${p.folds}), got ${fold}`);
  const epochs = p.stageEpochs[stage - 1];
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`config.pipeline.stageEpochs[${stage - 1}] (stage ${stage}) must be an integer >= 1, got ${epochs}`);
  const lr = p.stageMaxLr[stage - 1];
  if (!(lr > 0)) throw new Error(`config.pipeline.stageMaxLr[${stage - 1}] (stage ${stage}) must be > 0, got ${lr}`);
}

/**
 * The clip lists of (stage, fold). `selected` = the stage's noisy selection (stages 3 and 4;
 * only the clips of folds ≠ f are trained on).
 */
export function planStageFold(stage: number, fold: number, data: RunData, selected?: readonly SelectedClip[]): StageFoldPlan {
  const curated = data.sets.curated;
  const noisy = data.sets.noisy;
  const heldOut = { curated: foldFnames(curated, fold, true), noisy: foldFnames(noisy, fold, true) };
  if (stage === 1) {
    return { stage, fold, train: { curated: [], noisy: foldFnames(noisy, fold, false) }, valid: { set: 'noisy', fnames: heldOut.noisy }, heldOut, initFromStage: null };
  }
  let selectedNoisy: string[] = [];
  if (stage >= 3) {
    if (!selected) throw new Error(`planStageFold: stage ${stage} needs its noisy selection`);
    selectedNoisy = selected.filter((s) => s.fold !== fold).map((s) => s.fname);
  }
  return {
    stage, fold,
    train: { curated: foldFnames(curated, fold, false), noisy: selectedNoisy },
    valid: { set: 'curated', fnames: heldOut.curated },
    heldOut,
    initFromStage: stage - 1,
  };
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
 * Per-clip out-of-fold lwlrap of every noisy clip after (arch, stage) = l_stage: read from
 * `<arch>/stage<k>/noisy_scores.csv`, or computed from the folds' oof_noisy.csv and written
 * when every fold has finished. Throws, naming the unfinished folds, before that.
 */
export function ensureNoisyScores(runDir: string, arch: Architecture, stage: number, data: RunData, k: number): ClipScore[] {
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
  const scores = clipScores(oof.fnames, oof.folds, oof.truth, oof.probs, data.vocabulary.length);
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
  if (stage !== 3 && stage !== 4) throw new Error(`only stages 3 and 4 select noisy clips, got stage ${stage}`);
  const path = selectedNoisyPath(runDir, arch, stage);
  if (existsSync(path)) {
    const selected = readScoresCsv(path);
    for (const s of selected) if (!data.sets.noisy.index.has(s.fname)) throw new Error(`${path}: clip ${s.fname} is not in ${data.sets.noisy.labelFile}`);
    return selected;
  }
  const k = config.pipeline.folds;
  const p = config.pipeline;
  let selected: SelectedClip[];
  if (stage === 3) {
    const l1 = ensureNoisyScores(runDir, arch, 1, data, k);
    const l2 = ensureNoisyScores(runDir, arch, 2, data, k);
    const labels = new Map(data.sets.noisy.clips.map((c) => [c.fname, c.labels] as [string, string[]]));
    selected = selectNoisyClips(geometricMeanScores(l1, l2, `${arch} stage 1 and 2 noisy scores`), { minScore: p.stage3MinScore, maxPerFoldPerLabel: p.stage3MaxPerFoldPerLabel }, labels);
  } else {
    selected = selectNoisyClips(ensureNoisyScores(runDir, arch, 3, data, k), { minScore: p.stage4MinScore });
  }
  writeScoresCsv(path, selected, 'score');
  return selected;
}
