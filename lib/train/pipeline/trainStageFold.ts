/**
 * One job of the warm-up pipeline: (arch, stage, fold) → a trained model, its out-of-fold
 * predictions and `done.json`. The unit a scheduler (CLI, Slurm array, CI matrix) runs.
 *
 * Restartable: a finished job (done.json) returns at once; an interrupted one resumes from
 * its checkpoint (`<fold>/last`), and a crash after training but before done.json only
 * repeats the cheap prediction step.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Architecture, Fat2019Config } from '../../config';
import { labelMatrix } from '../../data/labels';
import { writeSubmission } from '../../data/submission';
import type { TrainingClip } from '../../data/types';
import { batchMaker } from '../../augment/pipeline';
import { multiHot } from '../../data/labels';
import { makeTask } from '../../task/task';
import { buildModel } from '../../models/index';
import { jsonlLogger, type Callback } from '../callbacks';
import { loadWeightsInto } from '../../runtime/modelFile';
import { fit } from '../fit';
import { discriminativeLr, freezeBody, sourceMember, transferWeights } from '../finetune';
import { predictModelClips } from '../../infer/modelPredict';
import { ClipStore, loadRunData, type RunData } from './data';
import type { ClipSet } from './folds';
import { openRun } from './runInfo';
import { foldDir, foldDonePath, jobLockPath, oofPath, readFoldDone, readRunInfo, writeFoldDone, type FoldDone } from '../../run/runFolder';
import { withJobLock } from '../../run/jobLock';
import { checkStageFold, ensureNoisyScores, ensureSelection, planStageFold, unfinishedFolds } from './stages';
import { recipeOf, stageSpec } from './recipes';
import { ensurePseudoLabels } from './pseudoLabels';
import { formatFixed } from '../../util/format';

/** Thrown when a callback paused training (e.g. `stopAfterEpochs`) before the last epoch: rerun to resume. */
export class TrainingPausedError extends Error {
  constructor(readonly arch: Architecture, readonly stage: number, readonly fold: number, readonly epochs: number, readonly target: number, readonly reason?: string) {
    super(`${arch} stage ${stage} fold ${fold}: training paused after epoch ${epochs}/${target}${reason ? ` (${reason})` : ''}; run the job again to resume from its checkpoint`);
    this.name = 'TrainingPausedError';
  }
}

/** Options of {@link trainStageFold}. */
export interface TrainStageFoldOptions {
  /** Run folder, e.g. `weights/<run>`. */
  runDir: string;
  /** Data folder (Kaggle layout). */
  dataDir: string;
  /** Feature cache root (default `work/features`). */
  cacheDir?: string;
  /** Architecture (default config.model.arch). */
  arch?: Architecture;
  /** 1..4. */
  stage: number;
  /** 0 .. config.pipeline.folds − 1. */
  fold: number;
  /** The run's config (default: the run.json of `runDir`, which must exist). */
  config?: Fat2019Config;
  /** fit callbacks (progress bar, live plots, stopAfterEpochs…). */
  callbacks?: Callback[];
  log?: (msg: string) => void;
  /**
   * Parsed label files / folds and loaded clips to share between jobs of one process (what
   * runPipeline passes); by default each call reads its own.
   */
  shared?: { data: RunData; store: ClipStore };
}

/**
 * Seed of a job: the run's train.seed offset by stage and fold, so folds and stages draw
 * different shuffles and augmentations, and a rerun of a job draws the same ones.
 */
export function jobSeed(config: Fat2019Config, stage: number, fold: number): number {
  return config.train.seed + 1000 * stage + fold;
}

/** The job's config: `config` (or run.json's) with `arch` applied, deep-copied. */
function resolveConfig(runDir: string, config: Fat2019Config | undefined, arch: Architecture | undefined): Fat2019Config {
  const base = config ?? readRunInfo(runDir).config;
  const out = JSON.parse(JSON.stringify(base)) as Fat2019Config;
  if (arch) out.model.arch = arch;
  return out;
}

/**
 * Trains (arch, stage, fold) as SPEC "Training" describes (see ./stages for the clip lists):
 * fit on the stage's training clips (checkpointDir = the fold folder, resume 'ifExists',
 * lib/augment batchMaker with config.augment, epochs = pipeline.stageEpochs[stage−1], max lr
 * = pipeline.stageMaxLr[stage−1]), initialised from the final model of (stage−1, fold); then
 * predicts the held-out curated and noisy fold f (sliding windows, config.infer) into
 * oof_curated.csv / oof_noisy.csv; then writes done.json, last. The epoch history goes to
 * `<fold>/history.jsonl` as training goes (lib/train jsonlLogger). When this was the last
 * unfinished fold of the stage, also writes the stage's noisy_scores.csv.
 *
 * Stage k needs (k−1, fold) finished; stages 3 and 4 need every fold of the stages their
 * selection comes from (1 and 2, resp. 3). Missing prerequisites throw, naming them.
 *
 * @returns the fold's done.json contents (the existing one when the job had finished before)
 * @throws TrainingPausedError when a callback paused training before the last epoch
 */
export async function trainStageFold(options: TrainStageFoldOptions): Promise<FoldDone> {
  // One process per job: a second one (another terminal, another machine on the same run
  // folder) exits naming the holder instead of training the same fold twice.
  const config = resolveConfig(options.runDir, options.config, options.arch);
  checkStageFold(options.stage, options.fold, config);
  const arch = config.model.arch;
  const lock = jobLockPath(options.runDir, arch, options.stage, options.fold);
  return withJobLock(lock, `${arch} stage ${options.stage} fold ${options.fold}`, () => trainStageFoldLocked(options), options.log);
}

async function trainStageFoldLocked(options: TrainStageFoldOptions): Promise<FoldDone> {
  const { runDir, dataDir, stage, fold } = options;
  const log = options.log ?? (() => undefined);
  const config = resolveConfig(runDir, options.config, options.arch);
  const arch = config.model.arch;
  checkStageFold(stage, fold, config);
  // First: a job with other settings than the run's fails even when its fold is finished.
  const info = openRun(runDir, dataDir, config);
  const finished = readFoldDone(runDir, arch, stage, fold);
  if (finished) {
    log(`${arch} stage ${stage} fold ${fold}: finished before (${foldDonePath(runDir, arch, stage, fold)}), skipped`);
    return finished;
  }
  const k = config.pipeline.folds;
  const data = options.shared?.data ?? loadRunData(runDir, dataDir, info.vocabulary, config);
  if (config.preprocess.nMels !== config.model.inputMels) {
    throw new Error(`config.model.inputMels (${config.model.inputMels}) must equal config.preprocess.nMels (${config.preprocess.nMels})`);
  }
  const recipe = recipeOf(config);
  const task = makeTask(config.task);
  const spec = stageSpec(recipe, stage);
  for (const prior of new Set([spec.initFrom, spec.select?.kind === 'pseudoLabel' ? spec.select.from : null])) {
    if (prior !== null && readFoldDone(runDir, arch, prior, fold) === null) {
      throw new Error(`${arch} stage ${stage} fold ${fold} starts from stage ${prior} fold ${fold}, which has not finished (no ${foldDonePath(runDir, arch, prior, fold)}); train it first`);
    }
  }
  const selected = spec.select?.kind === 'noisyByScore' ? ensureSelection(runDir, arch, stage, data, config) : undefined;
  const plan = planStageFold(stage, fold, data, selected, recipe);
  const store = options.shared?.store ?? new ClipStore(data, { cacheDir: options.cacheDir, preprocess: config.preprocess });
  const waveform = config.augment.waveform.enabled;
  const pseudo = plan.pseudoLabelFrom !== undefined
    ? await ensurePseudoLabels({ runDir, arch, stage, fold, from: plan.pseudoLabelFrom, data, config, task, cacheDir: options.cacheDir })
    : [];
  const trainClips: TrainingClip[] = [
    ...(await store.get('curated', plan.train.curated, { waveform })),
    ...(await store.get('noisy', plan.train.noisy, { waveform })),
    ...(await store.getUnlabeled(pseudo.map((p) => p.fname), pseudo.map((p) => multiHot(p.labels, data.vocabulary)), { waveform })),
  ];
  const validClips = await store.get(plan.valid.set, plan.valid.fnames);
  const dir = foldDir(runDir, arch, stage, fold);
  const epochs = config.pipeline.stageEpochs[stage - 1];
  log(`${arch} stage ${stage} fold ${fold}: training on ${trainClips.length} clips (labelled ${plan.train.curated.length}, noisy ${plan.train.noisy.length}` +
    `${plan.pseudoLabelFrom !== undefined ? `, pseudo-labelled ${pseudo.length}` : ''}), ` +
    `validating on ${validClips.length} ${plan.valid.set} clips, ${epochs} epochs, max lr ${config.pipeline.stageMaxLr[stage - 1]}` +
    (plan.initFromStage ? `, from stage ${plan.initFromStage} fold ${fold}` : config.finetune.from !== null ? `, fine-tuned from ${config.finetune.from}` : ', from scratch'));

  const seed = jobSeed(config, stage, fold);
  const model = buildModel(config.model, { seed });
  let done: FoldDone;
  try {
    const resuming = existsSync(join(dir, 'last'));
    if (plan.initFromStage !== null && !resuming) {
      // The previous stage's final model (last/): the warm-up continues where that stage's
      // one-cycle ended, and it is the model whose out-of-fold scores drove the selection.
      loadWeightsInto(model, join(foldDir(runDir, arch, plan.initFromStage, fold), 'last'));
    }
    let completed = false;
    const watch: Callback = { name: 'pipelineWatch', onTrainEnd: (ctx) => void (completed = ctx.completed === true) };
    const maxLr = config.pipeline.stageMaxLr[stage - 1];
    const common = {
      model, trainClips, validClips, task,
      makeBatch: batchMaker(config.augment, config.model.inputFrames, config.model.numClasses, config.preprocess),
      validation: { mode: 'centre' as const, windowFrames: config.model.inputFrames, batchSize: config.infer.batchSize },
      resume: 'ifExists' as const,
      runConfig: { arch, stage, fold, model: config.model, augment: config.augment, trainClips: trainClips.length, finetune: config.finetune },
      inputNormalization: config.model.inputNormalization,
      cropFrames: config.model.inputFrames,
    };
    // Fine-tuning (lib/train/finetune): the first stage starts from the source's weights, with
    // fastai's fine_tune schedule; later stages continue from the previous one as usual.
    const ft = config.finetune;
    let phase2: { optimizer: typeof config.optimizer; lrMultiplier?: (name: string) => number } = { optimizer: { ...config.optimizer, maxLr } };
    if (ft.from !== null && plan.initFromStage === null) {
      const frozenDir = join(dir, 'frozen');
      if (!resuming && !existsSync(join(frozenDir, 'last'))) {
        const source = sourceMember(ft.from);
        const report = transferWeights(model, source.modelDir, arch);
        log(`${arch} stage ${stage} fold ${fold}: ${report.copied} weights from ${source.modelDir}` +
          (report.keptHead ? ' (head kept: same classes)' : `, new head (${report.newHead.length} weights) for ${config.model.numClasses} classes`));
      }
      if (ft.freezeBody) {
        freezeBody(model, arch); // a linear probe: the body stays as the source made it
      } else {
        if (ft.freezeEpochs > 0 && !resuming) {
          const unfreeze = freezeBody(model, arch);
          await fit({
            ...common, train: { ...config.train, epochs: ft.freezeEpochs, seed },
            optimizer: { ...config.optimizer, maxLr, pctStart: 0.99 },
            callbacks: [...(options.callbacks ?? []), jsonlLogger(join(frozenDir, 'history.jsonl'))], checkpointDir: frozenDir,
          });
          unfreeze();
        }
        phase2 = { optimizer: { ...config.optimizer, maxLr: maxLr / 2, pctStart: 0.3, divFactor: 5 }, lrMultiplier: discriminativeLr(model, arch, ft.lrMult) };
      }
    }
    const result = await fit({
      ...common,
      train: { ...config.train, epochs, seed },
      ...phase2,
      callbacks: [...(options.callbacks ?? []), jsonlLogger(join(dir, 'history.jsonl')), watch],
      checkpointDir: dir,
    });
    if (result.epochs < epochs && !completed) throw new TrainingPausedError(arch, stage, fold, result.epochs, epochs, result.stopReason);
    if (result.resumed) log(`${arch} stage ${stage} fold ${fold}: resumed from its checkpoint`);

    // Out-of-fold predictions from the FINAL model (the one in memory now), not best/: best/
    // was chosen on these very held-out clips, so its scores would be optimistically biased,
    // and these scores select noisy clips and give the cross-validation figures. The test
    // ensemble uses the same final models (lib/run/runFolder findRunMembers: one model rule).
    const predictStart = Date.now();
    const oofScore: Record<ClipSet, number | null> = { curated: null, noisy: null };
    for (const set of ['curated', 'noisy'] as ClipSet[]) {
      const fnames = plan.heldOut[set];
      const clips = await store.get(set, fnames, { keep: set === plan.valid.set });
      // The inference predictor on the fastest engine (ONNX Runtime on the model exported in
      // memory when it loads): the same windows and scores as infer, several times faster.
      const probs = await predictModelClips(model, clips.map((c) => c.image), {
        mode: 'sliding', windowFrames: config.infer.windowFrames, windowShift: config.infer.windowShift, batchSize: config.infer.batchSize,
        names: fnames,
        activation: task.activation,
        inputNormalization: config.model.inputNormalization,
      });
      writeSubmission(oofPath(runDir, arch, stage, fold, set), fnames, probs, data.vocabulary);
      if (fnames.length > 0) {
        const setData = data.sets[set];
        const truth = labelMatrix(fnames.map((f) => setData.clips[setData.index.get(f)!]), data.vocabulary);
        const score = task.metrics(truth, probs, data.vocabulary.length)[task.selectionMetric];
        oofScore[set] = Number.isFinite(score) ? score : null;
      }
    }
    const best = result.best?.validLwlrap;
    const bestScore = result.best?.validScore;
    done = {
      arch, stage, fold,
      epochs: result.epochs,
      bestValidLwlrap: best !== undefined && Number.isFinite(best) ? best : null,
      validMetric: task.selectionMetric,
      bestValidScore: bestScore !== undefined && Number.isFinite(bestScore) ? bestScore : null,
      trainClips: trainClips.length,
      validClips: validClips.length,
      // Epoch time over all runs of the job (resumed ones included) + this run's predictions.
      seconds: result.history.reduce((s, h) => s + h.seconds, 0) + (Date.now() - predictStart) / 1000,
      finishedAt: new Date().toISOString(),
      oofModel: 'last',
      oofCuratedLwlrap: oofScore.curated,
      oofNoisyLwlrap: oofScore.noisy,
    };
  } finally {
    model.dispose();
  }
  writeFoldDone(runDir, done);
  log(`${arch} stage ${stage} fold ${fold}: done, out-of-fold ${task.selectionMetric} curated ${formatFixed(done.oofCuratedLwlrap)}, noisy ${formatFixed(done.oofNoisyLwlrap)}`);
  if (unfinishedFolds(runDir, arch, stage, k).length === 0 && hasNoisyScores(data, k)) {
    ensureNoisyScores(runDir, arch, stage, data, config);
    log(`${arch} stage ${stage}: all ${k} folds finished, noisy_scores.csv written`);
  }
  return done;
}

/** Noisy clips get out-of-fold scores only when there is a noisy set split into k ≥ 2 folds. */
export function hasNoisyScores(data: RunData, k: number): boolean {
  return data.sets.noisy.clips.length > 0 && k >= 2;
}
