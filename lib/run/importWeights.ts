/**
 * Importing trained PyTorch / fastai v1 models into a run folder (./runFolder layout), so that
 * `infer`, `tag`, `score` and the inference notebook use them as the run's ensemble.
 *
 * Each file becomes the member `<arch>/stage<k>/fold<f>/best/` with a `done.json` (epochs 0,
 * `importedFrom`), k and f read from the author's names `stage-<k>_fold-<f>.pkl`. The run's
 * `run.json` gets the vocabulary (the export's `data.y_proc[0].classes`, else `--vocabulary`)
 * and the model config (width, classes, input normalisation from the export's `normalize`).
 * Every file is read and checked before anything is written; done.json goes last per member.
 *
 * PANNs checkpoints (lib/models/import/panns) are mapped by state_dict name; a new run made
 * from one gets the network's front end ({@link PANNS_PREPROCESS}: dB input, no trim),
 * whole-clip inference ({@link PANNS_INFER}) and, for a 527-output tagger, the AudioSet class
 * names (lib/models/import/audioset).
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Architecture, Fat2019Config, InferConfig, InputNormalization, ModelConfig } from '../config';
import { CONFIG_DEFAULTS, PANNS_PREPROCESS } from '../config';
import { AUDIOSET_CLASS_COUNT, audiosetClassNames } from '../models/import/audioset';
import { isPannsArchitecture } from '../models/import/panns';
import { loadTorchFile } from '../io/torchFile';
import { readCheckpoint, type TorchCheckpoint } from '../models/import/torchCheckpoint';
import { IMPORTABLE_ARCHITECTURES, networkFromCheckpoint } from '../models/import/toNetwork';
import { saveModel } from '../runtime/modelFile';
import { validateInputNormalization } from '../runtime/modelInput';
import { foldDir, foldDonePath, readRunInfo, runInfoPath, RUN_INFO_VERSION, writeFoldDone, writeRunInfo, type FoldDone, type RunInfo } from './runFolder';

/**
 * Inference of an imported PANNs run: a clip of up to 10 s (1001 frames, the AudioSet clips the
 * networks were trained on) is one window of its own length (the network pools globally);
 * longer files are cut into 10 s windows, 5 s apart, whose scores are averaged.
 */
export const PANNS_INFER: Readonly<Pick<InferConfig, 'windowFrames' | 'windowShift' | 'batchSize'>> = Object.freeze({
  windowFrames: 1001,
  windowShift: 500,
  batchSize: 8,
});

/** A file to import and the member it becomes. */
export interface ImportSource {
  file: string;
  stage: number;
  fold: number;
}

export interface ImportWeightsOptions {
  arch: Architecture;
  /** Class names in output order when the files carry none (sample_submission / vocabulary.csv). */
  vocabulary?: string[] | null;
  /** Where `infer` finds the data (`<dataDir>/test/`, sample_submission.csv); default data/fsdkaggle2019. */
  dataDir?: string;
  /** Name the outputs class0, class1, ... when the file names none (a fine-tuning source, whose head is replaced). */
  placeholderClasses?: boolean;
  /** Replace members that already exist (default: refuse). */
  replace?: boolean;
  /** Progress lines (one per file). */
  log?: (line: string) => void;
  now?: () => Date;
}

export interface ImportedMember extends ImportSource {
  kind: string;
  modelDir: string;
}

/** The member a single file becomes when its name carries no stage and fold. */
export const SINGLE_FILE_MEMBER: Readonly<{ stage: number; fold: number }> = Object.freeze({ stage: 1, fold: 0 });

/** `stage-2_fold-7.pkl` (fastai names of the reference) → {stage 2, fold 7}; null when the name says nothing. */
export function stageFoldFromName(file: string): { stage: number; fold: number } | null {
  const m = /stage[-_]?(\d+)[-_.]fold[-_]?(\d+)/i.exec(basename(file));
  return m ? { stage: Number(m[1]), fold: Number(m[2]) } : null;
}

/** Said with class mismatches: the run's class order comes from --vocabulary, the run, or the first file. */
const VOCABULARY_HINT = ' (the class order is the run\'s, else --vocabulary\'s, else the first file\'s; files with the same classes in another order are reordered to it)';

/** Positions of `vocabulary`'s classes among `classes` (the file's output order); throws on a different class set. */
function outputPermutation(classes: string[], vocabulary: string[], source: string): number[] | null {
  if (classes.length !== vocabulary.length) {
    throw new Error(`${source}: the file has ${classes.length} classes, the vocabulary ${vocabulary.length}${VOCABULARY_HINT}`);
  }
  const index = new Map(classes.map((c, i) => [c, i]));
  const missing = vocabulary.filter((c) => !index.has(c));
  if (missing.length > 0) throw new Error(`${source}: the file's classes lack ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''} of the vocabulary${VOCABULARY_HINT}`);
  const perm = vocabulary.map((c) => index.get(c)!);
  return perm.every((p, i) => p === i) ? null : perm;
}

/** Reorders the last Dense layer's outputs: new output j = old output perm[j]. */
function permuteOutputs(model: tf.LayersModel, perm: number[]): void {
  const dense = [...model.layers].reverse().find((l) => l.getClassName() === 'Dense')!;
  const idx = tf.tensor1d(perm, 'int32');
  const [kernel, bias] = dense.getWeights();
  const next = [tf.gather(kernel, idx, 1), tf.gather(bias, idx, 0)];
  dense.setWeights(next);
  tf.dispose([idx, ...next]);
}

/** Where two configs' shapes differ (null: the same network), naming `aName`'s and `bName`'s values. */
function sameModelShape(a: ModelConfig, b: ModelConfig): string | null {
  if (a.widthMultiplier !== b.widthMultiplier) return `widthMultiplier ${a.widthMultiplier} vs ${b.widthMultiplier}`;
  if (a.headUnits !== b.headUnits) return `headUnits ${a.headUnits} vs ${b.headUnits}`;
  if (a.numClasses !== b.numClasses) return `numClasses ${a.numClasses} vs ${b.numClasses}`;
  if (a.inputMels !== b.inputMels || a.inputFrames !== b.inputFrames) return `input ${a.inputMels}×${a.inputFrames} vs ${b.inputMels}×${b.inputFrames}`;
  return null;
}

/** True when two input normalisations are the same (both none, or equal means and stds). */
function sameNormalization(a: InputNormalization | null | undefined, b: InputNormalization | null | undefined): boolean {
  const na = a ?? null;
  const nb = b ?? null;
  const close = (x: number[], y: number[]) => x.length === y.length && x.every((v, i) => Math.abs(v - y[i]) < 1e-6);
  return na === null || nb === null ? na === nb : close(na.mean, nb.mean) && close(na.std, nb.std);
}

/**
 * The importable architecture other than `arch` that the checkpoint matches layer for layer
 * (tried only after `arch` failed), or null.
 */
function matchingArchitecture(ckpt: TorchCheckpoint, arch: Architecture, source: string, base: Partial<ModelConfig> | undefined): Architecture | null {
  for (const other of IMPORTABLE_ARCHITECTURES.filter((a) => a !== arch)) {
    try {
      networkFromCheckpoint(ckpt, other, source, { base }).model.dispose();
      return other;
    } catch {
      // not this one either
    }
  }
  return null;
}

/**
 * Imports `sources` into `runDir` (created when it has no run.json). Throws an Error naming the
 * file and the problem (unreadable or refused file, a network other than `options.arch`, classes
 * or normalisation that differ from the run's, an existing member without `replace`).
 */
export async function importWeights(runDir: string, sources: readonly ImportSource[], options: ImportWeightsOptions): Promise<ImportedMember[]> {
  const log = options.log ?? (() => {});
  const seen = new Map<string, string>();
  for (const s of sources) {
    if (!existsSync(s.file)) throw new Error(`${s.file}: file not found`);
    const key = `${options.arch}/stage${s.stage}/fold${s.fold}`;
    if (seen.has(key)) throw new Error(`${s.file} and ${seen.get(key)} both map to ${key}`);
    seen.set(key, s.file);
    if (!options.replace && existsSync(foldDonePath(runDir, options.arch, s.stage, s.fold))) {
      throw new Error(`${foldDonePath(runDir, options.arch, s.stage, s.fold)} exists: ${key} of ${runDir} is already a member (use --replace)`);
    }
  }
  let info: RunInfo | null = existsSync(runInfoPath(runDir)) ? readRunInfo(runDir) : null;
  if (info && options.vocabulary && JSON.stringify(info.vocabulary) !== JSON.stringify(options.vocabulary)) {
    throw new Error(`${runInfoPath(runDir)}: the run's vocabulary differs from --vocabulary (${info.vocabulary.length} vs ${options.vocabulary.length} classes, or another order)`);
  }

  // Read and convert every file first: a bad file stops the job before anything is written.
  const converted: Array<{ source: ImportSource; kind: string; model: tf.LayersModel; config: ModelConfig; vocabulary: string[] }> = [];
  try {
    for (const source of sources) {
      const t0 = Date.now();
      const ckpt = readCheckpoint(loadTorchFile(source.file));
      let built;
      try {
        built = networkFromCheckpoint(ckpt, options.arch, source.file, { base: info?.config.model });
      } catch (err) {
        const other = matchingArchitecture(ckpt, options.arch, source.file, info?.config.model);
        if (other) throw new Error(`${(err as Error).message} It matches ${other} layer for layer: import it with --arch ${other}`);
        throw err;
      }
      const { model, config } = built;
      converted.push({ source, kind: ckpt.kind, model, config, vocabulary: [] });
      const entry = converted[converted.length - 1];
      if (config.inputNormalization) validateInputNormalization(config.inputNormalization, source.file);
      // A PANNs AudioSet tagger's 527 outputs are the AudioSet classes (lib/models/import/audioset).
      const audioset = isPannsArchitecture(options.arch) && config.numClasses === AUDIOSET_CLASS_COUNT ? audiosetClassNames() : null;
      const placeholder = options.placeholderClasses ? Array.from({ length: config.numClasses }, (_, i) => `class${i}`) : null;
      // Files after the first take its class order (their outputs are permuted to it).
      const vocabulary = info?.vocabulary ?? options.vocabulary ?? (converted.length > 1 ? converted[0].vocabulary : ckpt.classes ?? audioset ?? placeholder);
      if (!vocabulary) throw new Error(`${source.file}: the file names no classes (not a fastai export${isPannsArchitecture(options.arch) ? ` nor a ${AUDIOSET_CLASS_COUNT}-class AudioSet tagger` : ''}): pass --vocabulary <sample_submission.csv | vocabulary.csv>`);
      if (ckpt.classes) {
        const perm = outputPermutation(ckpt.classes, vocabulary, source.file);
        if (perm) permuteOutputs(model, perm);
      } else if (vocabulary.length !== config.numClasses) {
        throw new Error(`${source.file}: the network has ${config.numClasses} outputs but the vocabulary ${vocabulary.length} classes`);
      }
      entry.vocabulary = vocabulary;
      const first = converted[0];
      const diff = info ? sameModelShape(info.config.model, config) : sameModelShape(first.config, config);
      if (diff) {
        throw new Error(`${source.file}: differs from ${info ? `the run (${runInfoPath(runDir)})` : first.source.file} in ${diff} (${info ? 'the run' : 'that file'} first, this file second): ` +
          'one run holds models of one input and output shape');
      }
      if (JSON.stringify(first.vocabulary) !== JSON.stringify(vocabulary)) {
        throw new Error(`${source.file}: its classes differ from ${first.source.file}'s; --vocabulary <sample_submission.csv | vocabulary.csv> sets one class order for every file`);
      }
      log(`${source.file}: ${ckpt.kind}, ${options.arch} width ${config.widthMultiplier}, ${config.numClasses} classes` +
        `${config.inputNormalization ? ', input normalisation' : ''} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
    if (converted.length === 0) return [];

    if (!info) {
      const config: Fat2019Config = JSON.parse(JSON.stringify(CONFIG_DEFAULTS)) as Fat2019Config;
      config.model = { ...converted[0].config };
      if (isPannsArchitecture(options.arch)) {
        // The network's own front end and whole-clip inference (./importWeights PANNs notes).
        config.preprocess = { ...PANNS_PREPROCESS };
        config.infer = { ...config.infer, ...PANNS_INFER };
        config.pipeline.folds = 1;
      }
      // Members of stages the default ensemble leaves out (a single file imported as stage 1)
      // are the run's ensemble.
      const stages = [...new Set(converted.map((c) => c.source.stage))].sort((a, b) => a - b);
      if (!stages.some((st) => config.pipeline.ensembleStages.includes(st))) config.pipeline.ensembleStages = stages;
      info = {
        version: RUN_INFO_VERSION, config, vocabulary: converted[0].vocabulary,
        dataDir: options.dataDir ?? 'data/fsdkaggle2019', createdAt: (options.now ?? (() => new Date()))().toISOString(),
      };
      writeRunInfo(runDir, info);
    }
    const out: ImportedMember[] = [];
    for (const c of converted) {
      const { stage, fold, file } = c.source;
      const modelDir = join(foldDir(runDir, options.arch, stage, fold), 'best');
      await saveModel(c.model, modelDir);
      const done: FoldDone & { importedFrom: string; importedKind: string } = {
        arch: options.arch, stage, fold, epochs: 0, bestValidLwlrap: null, trainClips: 0, validClips: 0, seconds: 0,
        finishedAt: (options.now ?? (() => new Date()))().toISOString(), importedFrom: basename(file), importedKind: c.kind,
      };
      // fastai computes the input normalisation per training run: a member whose own differs
      // from the run's keeps it (applied to its input only).
      if (!sameNormalization(c.config.inputNormalization, info.config.model.inputNormalization)) done.inputNormalization = c.config.inputNormalization ?? null;
      writeFoldDone(runDir, done);
      out.push({ ...c.source, kind: c.kind, modelDir });
    }
    const voting = info.config.pipeline?.ensembleStages;
    const outside = [...new Set(out.map((m) => m.stage))].filter((s) => voting && !voting.includes(s));
    if (outside.length > 0) log(`note: stage(s) ${outside.join(', ')} are not in the run's pipeline.ensembleStages [${voting}]: select them with --stages`);
    return out;
  } finally {
    for (const c of converted) c.model.dispose();
  }
}
