/**
 * Ensembles: the finished models of a run folder (lib/run/runFolder layout), loaded
 * all at once (small models) or one at a time while predicting (`lazy`, big ensembles).
 */
import type * as tf from '@tensorflow/tfjs';
import type { Architecture, Fat2019Config, InferConfig } from '../config';
import { INFER_DEFAULTS } from '../config';
import { loadModel } from '../runtime/modelFile';
import { findRunMembers, readRunInfo, type MemberFilter } from '../run/runFolder';
import type { Ensemble, EnsembleMember } from './types';

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
    m.model?.dispose();
    m.model = null;
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
  const members: EnsembleMember[] = found.map((m) => ({ ...m, model: null }));
  const lazy = options.lazy === true;
  if (!lazy) {
    try {
      for (const m of members) m.model = await loadMemberModel(m, info.vocabulary.length);
    } catch (err) {
      disposeMembers(members);
      throw err;
    }
  }
  return {
    runDir,
    members,
    vocabulary: [...info.vocabulary],
    config: info.config,
    lazy,
    dispose: () => disposeMembers(members),
  };
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
    return { arch: config.model.arch, stage: 0, fold: i, modelDir: '', model };
  });
  return { members, vocabulary: [...vocabulary], config, lazy: false, dispose: () => disposeMembers(members) };
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

async function loadMemberModel(m: EnsembleMember, numClasses: number): Promise<tf.LayersModel> {
  const model = await loadModel(m.modelDir);
  try {
    checkOutputs(model, numClasses, m.modelDir);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

/**
 * Runs `fn` with the member's model: the loaded one, or (lazy ensemble) one read from disk for
 * the call and freed afterwards.
 */
export async function withMemberModel<T>(ensemble: Ensemble, m: EnsembleMember, fn: (model: tf.LayersModel) => Promise<T>): Promise<T> {
  if (m.model) return fn(m.model);
  if (!m.modelDir) throw new Error(`${memberName(m)}: the model was disposed`);
  const model = await loadMemberModel(m, ensemble.vocabulary.length);
  try {
    return await fn(model);
  } finally {
    model.dispose();
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
