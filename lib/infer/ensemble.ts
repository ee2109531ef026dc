/**
 * Ensembles: the finished models of a run folder (lib/run/runFolder layout), loaded
 * all at once (small models) or one at a time while predicting (`lazy`, big ensembles), on the
 * chosen engine (./engine): ONNX Runtime reads each member's `model.onnx` (exported on first
 * use, re-exported when the tfjs model changed), tfjs reads `model.json`.
 */
import type * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import type { Architecture, Fat2019Config, InferConfig } from '../config';
import { INFER_DEFAULTS } from '../config';
import { checkOnnxFits, exportModelDir, onnxPath, readOnnxFile, tfjsModelChecksum } from '../export/onnxFile';
import { getArchitecture, minInputOf } from '../models/index';
import { loadModel } from '../runtime/modelFile';
import { findRunMembers, findRunningJobs, readRunInfo, type MemberFilter } from '../run/runFolder';
import { chooseEngine, type EngineChoice, type EnginePreference } from './engine';
import { ortNetwork, tfjsNetwork, type WindowNetwork } from './network';
import { memberNormalization, type Ensemble, type EnsembleMember } from './types';

/** Options of {@link loadEnsemble}; absent filters mean "all". */
export interface LoadEnsembleOptions {
  archs?: readonly Architecture[];
  /** Stages whose models vote; default the run's `config.pipeline.ensembleStages` (reference 2, 3, 4). */
  stages?: readonly number[];
  folds?: readonly number[];
  /**
   * true: keep only the member list; each model is read from disk while it predicts and freed
   * afterwards (one model's weights in memory at a time). Default false: load every member now.
   */
  lazy?: boolean;
  /** 'auto' (default): ONNX Runtime when onnxruntime-node loads, else tfjs; or force one. */
  engine?: EnginePreference | EngineChoice;
  /** ONNX Runtime threads (default every core). */
  threads?: number;
  /** Told about model.onnx files exported on first use (default: silent). */
  log?: (line: string) => void;
  /**
   * true: use the finished members while other jobs of the run still train (told to `log`).
   * Default false: refuse, naming the running jobs (a partial ensemble is a different model).
   */
  partial?: boolean;
}

function describeFilter(f: MemberFilter): string {
  const part = (name: string, v: readonly (string | number)[] | undefined) => `${name} ${v ? v.join(',') : 'any'}`;
  return `${part('arch', f.archs)}, ${part('stage', f.stages)}, ${part('fold', f.folds)}`;
}

function summarizeMembers(members: readonly { arch: string; stage: number }[]): string {
  const counts = new Map<string, number>();
  for (const m of members) counts.set(`${m.arch}/stage${m.stage}`, (counts.get(`${m.arch}/stage${m.stage}`) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k} (${n} fold${n === 1 ? '' : 's'})`).join(', ');
}

/** Frees the weights of every loaded member. */
function disposeMembers(members: EnsembleMember[]): void {
  for (const m of members) {
    m.net?.dispose();
    m.net = null;
  }
}

/**
 * The ensemble of a run folder: every finished member (`<arch>/stage<k>/fold<f>/done.json`)
 * matching the filters, with the run's vocabulary and configuration (run.json).
 * Throws an Error naming the run folder and the filter when no finished member matches.
 */
export async function loadEnsemble(runDir: string, options: LoadEnsembleOptions = {}): Promise<Ensemble> {
  const info = readRunInfo(runDir);
  const filter: MemberFilter = {
    archs: options.archs,
    stages: options.stages ?? info.config.pipeline?.ensembleStages,
    folds: options.folds,
  };
  const found = findRunMembers(runDir, filter);
  if (found.length === 0) {
    const all = findRunMembers(runDir);
    throw new Error(
      `${runDir}: no finished ensemble member (looked for <arch>/stage<k>/fold<f>/done.json with ${describeFilter(filter)}); ` +
        (all.length > 0 ? `finished members outside that filter: ${summarizeMembers(all)}` : 'no fold of this run has finished training yet'),
    );
  }
  const running = findRunningJobs(runDir, filter);
  if (running.length > 0) {
    const jobs = running.map((j) => `${j.arch}/stage${j.stage}/fold${j.fold} (pid ${j.owner.pid} on ${j.owner.host})`);
    const what = `${running.length} job(s) of this run are still training: ${jobs.slice(0, 4).join(', ')}${jobs.length > 4 ? ', ...' : ''}`;
    if (options.partial !== true) {
      throw new Error(`${runDir}: ${what}; the ensemble would use only ${found.length} of its ${found.length + running.length} models. ` +
        'Wait for them to finish, or pass --partial to use the finished ones');
    }
    options.log?.(`--partial: ${found.length} finished model(s); ${what}`);
  }
  const members: EnsembleMember[] = found.map((m) => ({ ...m, net: null }));
  const lazy = options.lazy === true;
  const engine = typeof options.engine === 'object' ? options.engine : chooseEngine(options.engine ?? 'auto', options.threads);
  const ensemble: Ensemble = {
    runDir,
    members,
    vocabulary: [...info.vocabulary],
    config: info.config,
    lazy,
    engine,
    log: options.log,
    dispose: () => disposeMembers(members),
  };
  if (engine.engine === 'ort') {
    // Export (or refresh) every member's model.onnx now, before any long work starts.
    for (const m of members) await ensureOnnxFile(m, ensemble);
  }
  if (!lazy) {
    try {
      for (const m of members) m.net = await loadMemberNetwork(m, ensemble);
    } catch (err) {
      disposeMembers(members);
      throw err;
    }
  }
  return ensemble;
}

/**
 * An ensemble of models already in memory (notebooks, tests): members get arch
 * `config.model.arch`, stage 0 and fold = their index. `dispose()` frees the models.
 */
export function ensembleFromModels(models: readonly tf.LayersModel[], vocabulary: readonly string[], config: Fat2019Config): Ensemble {
  if (models.length === 0) throw new Error('ensembleFromModels: models must not be empty');
  if (vocabulary.length === 0) throw new Error('ensembleFromModels: vocabulary must not be empty');
  const members: EnsembleMember[] = models.map((model, i) => {
    checkOutputs(model, vocabulary.length, `model ${i}`);
    // Unfolded (./foldedModel): the caller may go on training these models, and a folded copy
    // would keep their old weights, and hold tensors until dispose(), which frees the models too.
    const net = tfjsNetwork(model, `model ${i}`, config.model.inputNormalization ?? null, { fold: false });
    return { arch: config.model.arch, stage: 0, fold: i, modelDir: '', net };
  });
  const engine: EngineChoice = { engine: 'tfjs', reason: 'models given in memory' };
  return { members, vocabulary: [...vocabulary], config, lazy: false, engine, dispose: () => disposeMembers(members) };
}

/**
 * An ensemble of networks already made (e.g. ONNX Runtime sessions of in-memory models, see
 * {@link networkFromModel}); `dispose()` frees them.
 */
export function ensembleFromNetworks(nets: readonly WindowNetwork[], vocabulary: readonly string[], config: Fat2019Config): Ensemble {
  if (nets.length === 0) throw new Error('ensembleFromNetworks: nets must not be empty');
  nets.forEach((n, i) => {
    if (n.numClasses !== vocabulary.length) throw new Error(`network ${i} outputs ${n.numClasses} classes, the vocabulary has ${vocabulary.length}`);
  });
  const members: EnsembleMember[] = nets.map((net, i) => ({ arch: config.model.arch, stage: 0, fold: i, modelDir: '', net }));
  const engine: EngineChoice = { engine: nets[0].engine, reason: 'networks given in memory' };
  return { members, vocabulary: [...vocabulary], config, lazy: false, engine, dispose: () => disposeMembers(members) };
}

/** A member's display name: `cnnModel1/stage2/fold0`. */
export function memberName(m: { arch: string; stage: number; fold: number }): string {
  return `${m.arch}/stage${m.stage}/fold${m.fold}`;
}

function checkOutputs(model: tf.LayersModel, numClasses: number, name: string): void {
  const out = model.outputs[0].shape;
  if (out.length !== 2 || out[1] !== numClasses) {
    throw new Error(`${name}: model outputs [${out.join(', ')}], expected [batch, ${numClasses}] (one logit per vocabulary class)`);
  }
}

/** How to repair a member's model.onnx, for error messages. */
function exportHint(ensemble: Ensemble): string {
  return `export it again with: fat2019 export --run ${ensemble.runDir ?? "<run>"} --force (or use --engine tfjs)`;
}

/**
 * Makes sure `<modelDir>/model.onnx` exists and was exported from the member's current tfjs
 * files: a missing file is exported (first use), a stale one (the checksum it records differs)
 * is exported again. A corrupt file throws naming it; a foreign file (no checksum) is kept.
 */
async function ensureOnnxFile(m: EnsembleMember, ensemble: Ensemble): Promise<void> {
  const file = onnxPath(m.modelDir);
  let why: string | null = null;
  if (!existsSync(file)) why = 'first use';
  else {
    let source: string | null;
    try {
      source = readOnnxFile(file).source;
    } catch (err) {
      throw new Error(`${(err as Error).message}; ${exportHint(ensemble)}`);
    }
    if (source !== null && source !== tfjsModelChecksum(m.modelDir)) why = 'the tfjs model changed since it was exported';
  }
  if (why === null) return;
  await exportModelDir(m.modelDir, { classes: ensemble.vocabulary, arch: m.arch });
  ensemble.log?.(`exported ${file} (${why})`);
}

async function loadMemberNetwork(m: EnsembleMember, ensemble: Ensemble): Promise<WindowNetwork> {
  const numClasses = ensemble.vocabulary.length;
  if (ensemble.engine.engine === 'ort') {
    const info = readOnnxFile(onnxPath(m.modelDir));
    const config = ensemble.config;
    const channels = typeof info.inputDims[1] === 'number' ? info.inputDims[1] : 3;
    checkOnnxFits(info, { channels, height: config.model.inputMels, width: resolveInferConfig(ensemble).windowFrames, numClasses }, exportHint(ensemble));
    return ortNetwork(info.bytes, info.file, {
      channels,
      height: typeof info.inputDims[2] === 'number' ? info.inputDims[2] : null,
      width: typeof info.inputDims[3] === 'number' ? info.inputDims[3] : null,
      minWidth: minInputOf(getArchitecture(m.arch), config.model).frames,
      numClasses,
    }, { threads: ensemble.engine.threads, inputName: info.inputName, outputName: info.outputName, normalization: memberNormalization(m, config), thread: 'worker' });
  }
  const model = await loadModel(m.modelDir);
  try {
    checkOutputs(model, numClasses, m.modelDir);
    return tfjsNetwork(model, m.modelDir, memberNormalization(m, ensemble.config));
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/**
 * Runs `fn` with the member's network: the loaded one, or (lazy ensemble) one read from disk
 * for the call and freed afterwards.
 */
export async function withMemberNetwork<T>(ensemble: Ensemble, m: EnsembleMember, fn: (net: WindowNetwork) => Promise<T>): Promise<T> {
  if (m.net) return fn(m.net);
  if (!m.modelDir) throw new Error(`${memberName(m)}: the model was disposed`);
  const net = await loadMemberNetwork(m, ensemble);
  try {
    return await fn(net);
  } finally {
    net.dispose();
  }
}

/** The run's `infer` section (defaults for fields an older run.json lacks) with `overrides`, validated. */
export function resolveInferConfig(ensemble: Ensemble, overrides: Partial<InferConfig> = {}): InferConfig {
  const cfg: InferConfig = { ...INFER_DEFAULTS, ...ensemble.config.infer };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) (cfg as unknown as Record<string, unknown>)[k] = v;
  for (const name of ['windowFrames', 'windowShift', 'batchSize'] as const) {
    if (!Number.isInteger(cfg[name]) || cfg[name] < 1) throw new Error(`infer.${name} must be an integer >= 1, got ${cfg[name]}`);
  }
  if (cfg.ensembleMean !== 'arithmetic' && cfg.ensembleMean !== 'geometric') {
    throw new Error(`infer.ensembleMean must be 'arithmetic' or 'geometric', got '${String(cfg.ensembleMean)}'`);
  }
  return cfg;
}
