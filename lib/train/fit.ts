/**
 * The training loop (fastai style): shuffle → batches → forward/backward (with gradient
 * accumulation) → AdamW step on the one-cycle schedule → callbacks. Validation, checkpoints
 * and resume are the only things the loop does itself; progress, logs, live plots and early
 * stopping are callbacks (./callbacks).
 *
 * Randomness: one Rng seeded from `train.seed` drives the epoch shuffles, the batch maker
 * (crops, augmentation) and the dropout masks (a fresh seed per forward pass), in that order,
 * and its state is checkpointed, so a resumed run reproduces an uninterrupted one.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { InputNormalization, OptimizerConfig, TrainConfig } from '../config';
import { predictClipImages } from '../infer/modelPredict';
import type { TrainingClip } from '../data/types';
import { Rng } from '../util/rng';
import { AdamW, trainableVariables } from './adamw';
import { MakeBatch, randomCropBatch } from './batch';
import { toModelInput } from '../runtime/modelInput';
import { withUnusedInputGradients } from '../runtime/kernels/conv2dGrads';
import { fuseBatchNormRelu } from '../runtime/kernels/batchNormTraining';
import { accumulateScaled } from '../runtime/kernels/gradAccumulate';
import { loadWeightsInto, saveModel } from '../runtime/modelFile';
import { Callback, EpochLog, FitContext, bestEpoch, earlyStopping, runHook, validationScore } from './callbacks';
import { loadCheckpoint, saveCheckpoint, TrainingState } from './checkpoint';
import { snapshotRunningVariances } from './bnStats';
import { makeTask, type Task } from '../task/task';
import { oneCycleBeta1, oneCycleLr } from './oneCycle';

/** How validation clips are scored. */
export interface ValidationOptions {
  /**
   * 'centre' (default): one `windowFrames` crop at the centre of each clip (fast, what a
   * fastai validation set of fixed-size crops gives); 'sliding': the reference sliding
   * windows (SPEC Inference), probabilities averaged.
   */
  mode?: 'centre' | 'sliding';
  windowFrames?: number;
  windowShift?: number;
  /** Windows per forward pass; default 32. */
  batchSize?: number;
  /** Probabilities from logits: 'sigmoid' (default, multiLabel) or 'softmax' (singleLabel). */
  activation?: 'sigmoid' | 'softmax';
  /** ModelConfig.inputNormalization of the model (default none). */
  inputNormalization?: InputNormalization | null;
}

export interface FitOptions {
  /** Built by lib/models `buildModel`; input `[B, H, W, 3]`, logits `[B, C]`. */
  model: tf.LayersModel;
  trainClips: TrainingClip[];
  /** Scored after every epoch (loss + the task's metrics) when given. */
  validClips?: TrainingClip[];
  /**
   * The task (lib/task): training loss, validation activation and metrics, the metric that
   * picks best/ and drives early stopping. Default multiLabel (sigmoid + BCE, lwlrap).
   */
  task?: Task;
  train: TrainConfig;
  optimizer: OptimizerConfig;
  /** Batch maker; default {@link randomCropBatch}(model input width). */
  makeBatch?: MakeBatch;
  callbacks?: Callback[];
  validation?: ValidationOptions;
  /**
   * Run folder (e.g. `weights/<run>`): the checkpoint goes to `<dir>/last` after every epoch,
   * the best model by validation lwlrap to `<dir>/best` (model files only).
   */
  checkpointDir?: string;
  /**
   * Continue from `<checkpointDir>/last`. true: the checkpoint must exist (else an Error);
   * 'ifExists': start fresh when there is no `last` folder at all. An incomplete or corrupt
   * checkpoint always throws.
   */
  resume?: boolean | 'ifExists';
  /** Extra configuration stored in the checkpoint (e.g. the ModelConfig and data selection). */
  runConfig?: unknown;
  /** ModelConfig.inputNormalization: applied to every input, as inference does (default none). */
  inputNormalization?: InputNormalization | null;
  /** Training crop width (frames) of a network that takes any width (PANNs); default the model's input width. */
  cropFrames?: number;
  /** Learning-rate multiplier per trainable weight (by name): discriminative learning rates (lib/train/finetune). */
  lrMultiplier?: (weightName: string) => number;
}

export interface FitResult {
  history: EpochLog[];
  /** Epochs completed in total (restored ones included). */
  epochs: number;
  steps: number;
  /** Best validation epoch, when validation ran. */
  best?: EpochLog;
  stoppedEarly: boolean;
  stopReason?: string;
  resumed: boolean;
}

/** Sets a fresh seed on every Dropout layer so masks come from the training Rng (determinism). */
function reseedDropout(model: tf.LayersModel, rng: Rng): void {
  for (const layer of model.layers) {
    if (layer.getClassName() === 'Dropout') (layer as unknown as { seed?: number }).seed = 1 + rng.int(0x7ffffffe);
  }
}

function clearDropoutSeeds(model: tf.LayersModel): void {
  for (const layer of model.layers) {
    if (layer.getClassName() === 'Dropout') (layer as unknown as { seed?: number }).seed = undefined;
  }
}

/**
 * Height, width and channels of the model's input. A network that takes any width (PANNs:
 * width null) trains on `frames`-wide crops; without `frames` it is an error.
 */
function inputShape(model: tf.LayersModel, frames?: number): { height: number; width: number; channels: number } {
  const shape = model.inputs[0].shape;
  if (shape.length !== 4 || shape[1] == null || (shape[3] !== 1 && shape[3] !== 3)) {
    throw new Error(`fit: model input must be [batch, height, width, 1 or 3], got [${shape}]`);
  }
  const width = shape[2] ?? frames;
  if (width == null) throw new Error(`fit: the model takes any width ([${shape}]): give the crop width (FitOptions.cropFrames, ModelConfig.inputFrames)`);
  return { height: shape[1], width, channels: shape[3] };
}

function validateOptions(o: FitOptions): void {
  const t = o.train;
  if (!Number.isInteger(t.epochs) || t.epochs < 1) throw new Error(`train.epochs must be an integer >= 1, got ${t.epochs}`);
  if (!Number.isInteger(t.batchSize) || t.batchSize < 1) throw new Error(`train.batchSize must be an integer >= 1, got ${t.batchSize}`);
  if (!Number.isInteger(t.microBatchSize) || t.microBatchSize < 0) throw new Error(`train.microBatchSize must be an integer >= 0, got ${t.microBatchSize}`);
  if (o.trainClips.length === 0) throw new Error('fit: trainClips must not be empty');
  if (o.resume && !o.checkpointDir) throw new Error('fit: resume needs checkpointDir');
}

/** A layer as the graph walk below sees it (tfjs-layers internals). */
interface GraphLayer {
  getClassName(): string;
  trainableWeights: unknown[];
  inboundNodes: Array<{ inboundLayers: GraphLayer[] }>;
}

/**
 * True when every path from `layer`'s output back to the graph's inputs runs through layers
 * with no trainable weights (the input layer, zero padding, a channel repeat): nothing upstream
 * wants a gradient from it.
 */
function onlyFromModelInput(layer: GraphLayer, seen = new Map<GraphLayer, boolean>()): boolean {
  const known = seen.get(layer);
  if (known !== undefined) return known;
  seen.set(layer, false);
  const result = layer.getClassName() === 'InputLayer' || (layer.trainableWeights.length === 0 && layer.inboundNodes.length > 0
    && layer.inboundNodes.every((n) => n.inboundLayers.length > 0 && n.inboundLayers.every((l) => onlyFromModelInput(l, seen))));
  seen.set(layer, result);
  return result;
}

/**
 * Kernels (current values) of the Conv2D layers fed by the model input, directly or through
 * weightless layers (ResNet's zero-padded 7×7 stem): nothing reads their input gradient, which
 * tfjs' fused conv gradient would still compute (see withUnusedInputGradients in
 * lib/runtime/kernels/conv2dGrads.ts; ResNet-18's stem at width 1/8: 83 of a step's 250 ms).
 */
function modelInputConvKernels(model: tf.LayersModel): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  const seen = new Map<GraphLayer, boolean>();
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'Conv2D') continue;
    const nodes = (layer as unknown as GraphLayer).inboundNodes;
    if (nodes.length === 0 || !nodes.every((n) => n.inboundLayers.length > 0 && n.inboundLayers.every((l) => onlyFromModelInput(l, seen)))) continue;
    const kernel = (layer as unknown as { kernel?: { read(): tf.Tensor } }).kernel;
    if (kernel) out.push(kernel.read());
  }
  return out;
}

/**
 * One optimizer step on `batch` (`x` `[B][H][W]`, `y` `[B][C]`): micro-batches of
 * `microBatch` samples, their gradients summed with weights n_micro / B (= the gradient of
 * the batch-mean loss), then one AdamW step. Returns the batch-mean loss. Leaves no tensors.
 * BatchNorm sees each micro-batch separately (batch statistics and running-stat updates per
 * micro-batch, as gradient accumulation in PyTorch would); running variances follow PyTorch's
 * unbiased update (./bnStats). Dropout masks are seeded from `rng`. conv → BatchNorm → ReLU
 * trains with the relu inside the batch-norm op (lib/runtime/kernels/batchNormTraining
 * fuseBatchNormRelu; the same bits).
 */
export function trainStep(
  model: tf.LayersModel, optimizer: AdamW, batch: { x: Float32Array; y: Float32Array }, size: number,
  microBatch: number, hyper: { lr: number; beta1: number }, rng: Rng, inputNormalization: InputNormalization | null = null,
  loss: (logits: tf.Tensor, targets: tf.Tensor) => tf.Scalar = DEFAULT_TASK.loss,
): number {
  const height = model.inputs[0].shape[1] ?? 0;
  // A network of any width (PANNs) takes the batch's own crop width.
  const { width, channels } = inputShape(model, height > 0 ? batch.x.length / (size * height) : undefined);
  const pixels = height * width;
  const numClasses = batch.y.length / size;
  const vars = optimizer.params.map((p) => p.variable);
  const inputConvKernels = modelInputConvKernels(model);
  let acc: tf.Tensor[] | null = null;
  let lossSum = 0;
  const unfuse = fuseBatchNormRelu(model);
  try {
    for (let start = 0; start < size; start += microBatch) {
      const n = Math.min(microBatch, size - start);
      reseedDropout(model, rng);
      const weight = n / size;
      const bnFix = snapshotRunningVariances(model);
      let result: { value: tf.Scalar; grads: tf.NamedTensorMap };
      try {
        result = tf.tidy(() => {
          const x = toModelInput(batch.x.subarray(start * pixels, (start + n) * pixels), n, height, width, channels, inputNormalization);
          const y = tf.tensor2d(batch.y.subarray(start * numClasses, (start + n) * numClasses), [n, numClasses]);
          return withUnusedInputGradients(inputConvKernels,
            () => tf.variableGrads(() => loss(model.apply(x, { training: true }) as tf.Tensor, y), vars));
        });
        bnFix.apply(n);
      } catch (err) {
        bnFix.dispose();
        throw err;
      }
      const { value, grads } = result;
      lossSum += weight * (value.dataSync()[0]);
      value.dispose();
      const ordered = vars.map((v) => grads[v.name]);
      const prev = acc as tf.Tensor[] | null;
      if (prev === null && weight === 1) {
        // One micro-batch: the gradients as they are (× 1 is exact; ResNet-18: 62 calls fewer).
        acc = ordered;
        continue;
      }
      // wasm: one C call for all parameters, in place after the first (lib/runtime/kernels/gradAccumulate).
      const next: tf.Tensor[] = accumulateScaled(prev, ordered, weight)
        ?? tf.tidy(() => ordered.map((g, i) => (prev !== null ? tf.add(prev[i], tf.mul(g, weight)) : tf.mul(g, weight))));
      acc = next;
      if (prev !== null && next !== prev) tf.dispose(prev);
      tf.dispose(Object.values(grads));
    }
    optimizer.step(acc!, hyper);
  } finally {
    unfuse();
    clearDropoutSeeds(model);
    if (acc) tf.dispose(acc);
  }
  return lossSum;
}

const DEFAULT_TASK = makeTask();

/**
 * Scores `clips` with `model` (inference mode): per-clip probabilities `[numClips][C]`
 * (`options.activation`, averaged over the clip's windows). See {@link ValidationOptions}.
 * This is lib/infer's predictor itself (predictClipImages: the windows, activation and means
 * test time uses), so validation and inference cannot drift apart.
 */
export function predictForValidation(model: tf.LayersModel, clips: TrainingClip[], options: ValidationOptions = {}): Float32Array {
  const { width } = inputShape(model, options.windowFrames);
  const frames = options.windowFrames ?? width;
  if (frames !== width) throw new Error(`validation windowFrames (${frames}) must equal the model input width ${width}`);
  return predictClipImages(model, clips.map((c) => c.image), {
    mode: options.mode ?? 'centre',
    windowFrames: frames,
    windowShift: options.windowShift ?? 48,
    batchSize: options.batchSize ?? 32,
    activation: options.activation ?? 'sigmoid',
    inputNormalization: options.inputNormalization ?? null,
    names: clips.map((c) => `validation clip ${c.fname}`),
  });
}

/**
 * Validation loss (the task's loss of the probabilities, float64, clamped to [1e-7, 1 − 1e-7])
 * and the task's metrics (multiLabel: lwlrap, mAP, auc; singleLabel: accuracy, map3, auc), all
 * from the task object. `score` = the task's selection metric; `lwlrap` when the task measures
 * it (multiLabel), else undefined.
 */
export function scoreValidation(clips: TrainingClip[], probs: Float32Array, task: Task = DEFAULT_TASK): { loss: number; lwlrap: number | undefined; score: number; metrics: Record<string, number> } {
  const numClasses = probs.length / clips.length;
  const truth = new Float32Array(probs.length);
  clips.forEach((c, i) => truth.set(c.target, i * numClasses));
  const metrics = task.metrics(truth, probs, numClasses);
  return { loss: task.probabilityLoss(truth, probs, numClasses), lwlrap: metrics.lwlrap, score: metrics[task.selectionMetric], metrics };
}

/**
 * Trains `options.model` in place. Steps per epoch = floor(N / batchSize) (the incomplete last
 * batch is dropped, as fastai's training loader; one batch of all N when N < batchSize);
 * total steps = epochs × steps per epoch is the one-cycle length.
 */
export async function fit(options: FitOptions): Promise<FitResult> {
  validateOptions(options);
  const { model, trainClips, validClips, train, optimizer: optCfg } = options;
  const { width } = inputShape(model, options.cropFrames);
  const makeBatch = options.makeBatch ?? randomCropBatch(width);
  const n = trainClips.length;
  const batchSize = Math.min(train.batchSize, n);
  const micro = train.microBatchSize > 0 ? Math.min(train.microBatchSize, batchSize) : batchSize;
  const stepsPerEpoch = Math.floor(n / batchSize);
  const totalSteps = train.epochs * stepsPerEpoch;
  const rng = new Rng(train.seed);
  const optimizer = new AdamW(trainableVariables(model), optCfg);
  if (options.lrMultiplier) optimizer.lrScale = Float64Array.from(optimizer.params, (p) => options.lrMultiplier!(p.name));
  const task = options.task ?? DEFAULT_TASK;
  const validation: ValidationOptions = { windowFrames: width, ...options.validation, activation: task.activation };
  const callbacks = [...(options.callbacks ?? [])];
  if (train.earlyStoppingPatience > 0 && validClips && validClips.length > 0) callbacks.push(earlyStopping(train.earlyStoppingPatience));
  const lastDir = options.checkpointDir ? path.join(options.checkpointDir, 'last') : undefined;
  const bestDir = options.checkpointDir ? path.join(options.checkpointDir, 'best') : undefined;
  const config = { train, optimizer: optCfg, run: options.runConfig ?? null };

  const ctx: FitContext = {
    model, epoch: 0, epochs: train.epochs, step: 0, stepsPerEpoch, totalSteps, history: [],
    stopTraining: false, resumed: false,
  };
  try {
    if (options.resume && lastDir && (options.resume === true || existsSync(lastDir))) {
      const ckpt = loadCheckpoint<EpochLog>(lastDir);
      const s = ckpt.state;
      if (s.totalSteps !== totalSteps || s.stepsPerEpoch !== stepsPerEpoch || s.numTrainClips !== n) {
        throw new Error(`fit: checkpoint ${lastDir} was made for ${s.numTrainClips} clips, ${s.stepsPerEpoch} steps/epoch, ${s.totalSteps} steps; this run has ${n}, ${stepsPerEpoch}, ${totalSteps} (same data, batch size and epochs are needed to resume)`);
      }
      loadWeightsInto(model, lastDir);
      optimizer.setState(ckpt.optimizer);
      rng.setState(s.rngState);
      ctx.epoch = s.epoch;
      ctx.step = s.step;
      ctx.history = s.history;
      ctx.resumed = true;
      if (s.completed) {
        ctx.stopTraining = true;
        ctx.completed = true;
        ctx.stopReason = s.stopReason;
      }
    }
    await runHook(callbacks, 'onTrainBegin', ctx);
    const startEpoch = ctx.epoch + 1;
    for (let epoch = startEpoch; epoch <= train.epochs && !ctx.stopTraining; epoch++) {
      ctx.epoch = epoch;
      await runHook(callbacks, 'onEpochBegin', ctx);
      const t0 = Date.now();
      const order = rng.permutation(n);
      let lossSum = 0;
      let lr = 0;
      for (let b = 0; b < stepsPerEpoch; b++) {
        const indices = order.slice(b * batchSize, (b + 1) * batchSize);
        const batch = makeBatch(trainClips, indices, rng);
        lr = oneCycleLr(ctx.step, totalSteps, optCfg);
        const beta1 = oneCycleBeta1(ctx.step, totalSteps, optCfg);
        const loss = trainStep(model, optimizer, batch, indices.length, micro, { lr, beta1 }, rng, options.inputNormalization ?? null, task.loss);
        if (!Number.isFinite(loss)) throw new Error(`fit: loss is ${loss} at epoch ${epoch}, step ${ctx.step + 1} (lr ${lr}); lower optimizer.maxLr`);
        ctx.step++;
        lossSum += loss;
        await runHook(callbacks, 'onBatchEnd', ctx, { epoch, batch: b, step: ctx.step, loss, lr, beta1, samples: indices.length });
      }
      const trainSeconds = (Date.now() - t0) / 1000;
      const log: EpochLog = {
        epoch, step: ctx.step, trainLoss: lossSum / stepsPerEpoch, lr, seconds: 0,
        samplesPerSecond: (stepsPerEpoch * batchSize) / Math.max(trainSeconds, 1e-9),
      };
      if (validClips && validClips.length > 0) {
        const scores = scoreValidation(validClips, predictForValidation(model, validClips, { ...validation, inputNormalization: options.inputNormalization }), task);
        log.validLoss = scores.loss;
        if (scores.lwlrap !== undefined) log.validLwlrap = scores.lwlrap;
        log.validMetric = task.selectionMetric;
        log.validScore = scores.score;
        log.validMetrics = scores.metrics;
      }
      log.seconds = (Date.now() - t0) / 1000;
      ctx.history.push(log);
      await runHook(callbacks, 'onEpochEnd', ctx, log);
      if (bestDir && validationScore(log) !== undefined && bestEpoch(ctx.history) === log) await saveModel(model, bestDir);
      if (lastDir) {
        const state: TrainingState<EpochLog> = {
          epoch, step: ctx.step, totalSteps, stepsPerEpoch, rngState: rng.getState(), numTrainClips: n, config, history: ctx.history,
          completed: ctx.completed === true, stopReason: ctx.stopReason,
        };
        await saveCheckpoint(lastDir, model, optimizer.getState(), state);
      }
    }
    await runHook(callbacks, 'onTrainEnd', ctx);
  } finally {
    optimizer.dispose();
  }
  return {
    history: ctx.history, epochs: ctx.epoch, steps: ctx.step, best: bestEpoch(ctx.history),
    stoppedEarly: ctx.stopTraining && ctx.epoch < train.epochs, stopReason: ctx.stopReason, resumed: ctx.resumed,
  };
}
