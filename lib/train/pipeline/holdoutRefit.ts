/**
 * Early stopping a user can trust (`fat2019 train --holdout f [--refit]`): a one-model run
 * validated on a held-out fraction picks each stage's epoch count (the epoch with the best
 * validation metric: accuracy for singleLabel, lwlrap for multiLabel), prints which epoch won,
 * and with `--refit` trains again on every labelled clip for that many epochs, so no clip is
 * spent on validation in the model that is kept.
 *
 * Layout: with --refit the held-out run lives in `<run>/holdout/` (a run folder of its own,
 * resumable), and `<run>` becomes a plain one-model run (folds 1, no holdout, stageEpochs =
 * the chosen counts) that `fat2019 infer` uses as any other. The one-cycle schedule is
 * compressed to the shorter length (as fastai's fit_one_cycle(n) would be): the refit's last
 * epochs anneal the rate as the held-out run's did.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Fat2019Config } from '../../config';
import { foldDir, readFoldDone } from '../../run/runFolder';
import { bestEpoch, validationScore, type EpochLog } from '../callbacks';
import { recipeOf } from './recipes';
import { runPipeline, type PipelineReport, type RunPipelineOptions } from './runPipeline';

/** The winning epoch of one stage of a held-out run. */
export interface EpochChoice {
  stage: number;
  /** 1-based epoch with the best validation metric (the first of equals). */
  epoch: number;
  /** Epochs the stage trained. */
  of: number;
  metric: string;
  score: number;
}

/** Reads `<foldDir>/history.jsonl` (one EpochLog per line). */
export function readHistory(dir: string): EpochLog[] {
  const path = join(dir, 'history.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as EpochLog);
}

/**
 * Each stage's best epoch in a finished held-out run (fold 0 of a one-model run). Throws when a
 * stage has not finished or logged no validation score (no holdout).
 */
export function chooseEpochs(runDir: string, config: Fat2019Config): EpochChoice[] {
  return recipeOf(config).stages.map(({ stage }) => {
    const done = readFoldDone(runDir, config.model.arch, stage, 0);
    if (!done) throw new Error(`${runDir}: stage ${stage} has not finished; the epochs are chosen after the held-out run`);
    const history = readHistory(foldDir(runDir, config.model.arch, stage, 0));
    const best = bestEpoch(history);
    if (!best) throw new Error(`${runDir}: stage ${stage} logged no validation score (was a fraction held out? --holdout f)`);
    return { stage, epoch: best.epoch, of: history.length, metric: best.validMetric ?? 'lwlrap', score: validationScore(best)! };
  });
}

/** `fat2019 train`'s line per stage: `stage 1: epoch 7 of 10 won (valid accuracy 0.9400)`. */
export function formatEpochChoices(choices: EpochChoice[]): string {
  return choices.map((c) => `stage ${c.stage}: epoch ${c.epoch} of ${c.of} won (valid ${c.metric} ${c.score.toFixed(4)})`).join('\n') + '\n';
}

/** The refit's config: every labelled clip (folds 1, no holdout), each stage for its chosen epoch count. */
export function refitConfig(config: Fat2019Config, choices: EpochChoice[]): Fat2019Config {
  const stageEpochs = [...config.pipeline.stageEpochs];
  for (const c of choices) stageEpochs[c.stage - 1] = c.epoch;
  return { ...config, pipeline: { ...config.pipeline, folds: 1, holdout: 0, stageEpochs } };
}

/** Where the held-out run of `--refit` lives. */
export const holdoutRunDir = (runDir: string): string => join(runDir, 'holdout');

/**
 * The held-out run in `<run>/holdout/`, the epoch choice, then the refit in `<run>` (see the
 * module comment). `options.config` must hold out a fraction (folds 1, holdout > 0).
 */
export async function runHoldoutRefit(options: RunPipelineOptions): Promise<{ holdout: PipelineReport; choices: EpochChoice[]; refit: PipelineReport; config: Fat2019Config }> {
  const { config } = options;
  if (!(config.pipeline.folds === 1 && config.pipeline.holdout > 0)) {
    throw new Error(`--refit needs a held-out fraction to choose the epochs on (--holdout f); this config has folds ${config.pipeline.folds}, holdout ${config.pipeline.holdout}`);
  }
  const held = holdoutRunDir(options.runDir);
  const holdout = await runPipeline({ ...options, runDir: held });
  const choices = chooseEpochs(held, config);
  options.log?.(formatEpochChoices(choices).trimEnd());
  const refit = refitConfig(config, choices);
  options.log?.(`refit on every labelled clip: ${choices.map((c) => `stage ${c.stage} ${c.epoch} epochs`).join(', ')}`);
  const report = await runPipeline({ ...options, config: refit });
  return { holdout, choices, refit: report, config: refit };
}
