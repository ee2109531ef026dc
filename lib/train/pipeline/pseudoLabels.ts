/**
 * Pseudo-labelling (the pseudoLabel recipe, as in the dog-sound challenge): fold f's model of
 * an earlier stage predicts the unlabelled clips (the `unlabeled/` folder, else the test set);
 * clips it is confident about join fold f's next stage with the predicted labels.
 *
 *   score of a clip = its highest class probability (the task's activation)
 *   labels          = singleLabel: the best class; multiLabel: every class ≥ minScore
 *   kept            = score ≥ minScore, ranked by score (ties: fname), and at most
 *                     maxPerClass clips per class (a clip is taken only while each of its
 *                     labels has room, so the cap holds for every class)
 *
 * The candidates never include a labelled clip (same audio file), so no held-out clip of the
 * labelled set can come back into training through its predicted label. The selection of
 * each fold is saved in `<arch>/stage<k>/fold<f>/pseudo_labels.csv` (fname,labels,score).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Architecture, Fat2019Config } from '../../config';
import { csvField, readCsvTable } from '../../data/labels';
import { loadClipImages } from '../../data/preprocess';
import { ensembleFromModels } from '../../infer/ensemble';
import { predictImages } from '../../infer/predict';
import { loadModel } from '../../runtime/modelFile';
import { makeTask, type Task } from '../../task/task';
import { writeFileAtomicSync } from '../../util/atomicWrite';
import type { RunData } from './data';
import { foldDir } from '../../run/runFolder';

/** One pseudo-labelled clip. */
export interface PseudoLabel {
  fname: string;
  labels: string[];
  score: number;
}

/** Options of {@link selectPseudoLabels}. */
export interface PseudoLabelRule {
  minScore: number;
  maxPerClass: number;
}

/**
 * The clips to add (see the module comment), in rank order.
 * @param probs `[fnames.length][vocabulary.length]` probabilities
 */
export function selectPseudoLabels(fnames: readonly string[], probs: ArrayLike<number>, vocabulary: readonly string[], task: Pick<Task, 'name'>, rule: PseudoLabelRule): PseudoLabel[] {
  const C = vocabulary.length;
  if (probs.length !== fnames.length * C) throw new Error(`selectPseudoLabels: ${probs.length} scores for ${fnames.length} clips × ${C} classes`);
  if (!(rule.minScore >= 0 && rule.minScore <= 1)) throw new Error(`pseudoLabelMinScore must be in [0, 1], got ${rule.minScore}`);
  if (!Number.isInteger(rule.maxPerClass) || rule.maxPerClass < 0) throw new Error(`pseudoLabelMaxPerClass must be an integer >= 0, got ${rule.maxPerClass}`);
  // The task decodes a clip's scores into labels (singleLabel: the best class; multiLabel: every class >= minScore).
  const { decode } = makeTask({ name: task.name });
  const candidates: PseudoLabel[] = [];
  fnames.forEach((fname, i) => {
    let best = 0;
    for (let c = 1; c < C; c++) if (probs[i * C + c] > probs[i * C + best]) best = c;
    const score = probs[i * C + best];
    if (!(score >= rule.minScore)) return;
    const labels = decode(Array.from({ length: C }, (_, c) => probs[i * C + c]), vocabulary, rule.minScore);
    candidates.push({ fname, labels, score });
  });
  candidates.sort((a, b) => b.score - a.score || (a.fname < b.fname ? -1 : a.fname > b.fname ? 1 : 0));
  const counts = new Map<string, number>();
  const out: PseudoLabel[] = [];
  for (const c of candidates) {
    if (c.labels.some((l) => (counts.get(l) ?? 0) >= rule.maxPerClass)) continue;
    for (const l of c.labels) counts.set(l, (counts.get(l) ?? 0) + 1);
    out.push(c);
  }
  return out;
}

export const pseudoLabelsPath = (runDir: string, arch: Architecture, stage: number, fold: number): string =>
  join(foldDir(runDir, arch, stage, fold), 'pseudo_labels.csv');

function writePseudoLabels(path: string, rows: readonly PseudoLabel[]): void {
  writeFileAtomicSync(path, ['fname,labels,score', ...rows.map((r) => `${csvField(r.fname)},${csvField(r.labels.join(','))},${r.score}`)].join('\n') + '\n');
}

export function readPseudoLabels(path: string): PseudoLabel[] {
  const { header, records } = readCsvTable(path, 'pseudo-label file');
  if (header.join(',') !== 'fname,labels,score') throw new Error(`${path}: header must be "fname,labels,score", got "${header.join(',')}"`);
  return records.map(({ fields, line }) => {
    const score = Number(fields[2]);
    if (fields.length !== 3 || !Number.isFinite(score)) throw new Error(`${path}:${line}: expected fname,labels,score`);
    return { fname: fields[0], labels: fields[1].split(',').filter((l) => l !== ''), score };
  });
}

/**
 * Unlabelled clips that may be pseudo-labelled: `data.unlabeled` minus any file that is also a
 * labelled clip (curated or noisy), so a labelled clip never re-enters training this way.
 */
export function pseudoLabelCandidates(data: RunData): string[] {
  const source = data.unlabeled;
  if (!source) return [];
  const labelled = new Set<string>();
  for (const set of [data.sets.curated, data.sets.noisy]) for (const c of set.clips) labelled.add(resolve(set.dataDir, set.dataset, c.fname));
  return source.fnames.filter((f) => !labelled.has(resolve(source.dataDir, source.dataset, f)));
}

/**
 * Fold f's pseudo-labels for `stage` (read when saved, else predicted with stage `from`'s final
 * fold-f model (last/, the model the out-of-fold scores come from) and saved).
 */
export async function ensurePseudoLabels(options: {
  runDir: string; arch: Architecture; stage: number; fold: number; from: number; data: RunData; config: Fat2019Config; task: Task; cacheDir?: string;
}): Promise<PseudoLabel[]> {
  const { runDir, arch, stage, fold, from, data, config, task } = options;
  const path = pseudoLabelsPath(runDir, arch, stage, fold);
  if (existsSync(path)) return readPseudoLabels(path);
  const source = data.unlabeled;
  if (!source) throw new Error(`${data.dataDir}: the pseudoLabel recipe needs unlabelled clips (an unlabeled/ or test/ folder)`);
  const fnames = pseudoLabelCandidates(data);
  const images = await loadClipImages({ dataDir: source.dataDir, dataset: source.dataset, fnames, cacheDir: options.cacheDir, config: config.preprocess });
  const model = await loadModel(join(foldDir(runDir, arch, from, fold), 'last'));
  const ensemble = ensembleFromModels([model], data.vocabulary, config);
  let probs: Float32Array;
  try {
    probs = await predictImages(ensemble, images, { activation: task.activation });
  } finally {
    ensemble.dispose();
  }
  const selected = selectPseudoLabels(fnames, probs, data.vocabulary, task, { minScore: config.pipeline.pseudoLabelMinScore, maxPerClass: config.pipeline.pseudoLabelMaxPerClass });
  writePseudoLabels(path, selected);
  return selected;
}
