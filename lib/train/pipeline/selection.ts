/**
 * Noisy-clip scores and selection of the warm-up pipeline (SPEC "Training"):
 *
 *   l_k  = per-clip out-of-fold lwlrap of every noisy clip after stage k (noisy_scores.csv)
 *   stage 3 trains on curated + noisy clips with sqrt(l1·l2) ≥ stage3MinScore, at most
 *           stage3MaxPerFoldPerLabel per (noisy fold, label)
 *   stage 4 trains on curated + noisy clips with l3 ≥ stage4MinScore (reference: l3 = 1)
 *
 * Pure functions over small records, plus the CSV files of the run folder.
 */
import { csvField, readCsvTable } from '../../data/labels';
import type { Task } from '../../task/task';
import { writeFileAtomicSync } from '../../util/atomicWrite';

/** One noisy clip's out-of-fold score (NaN: the clip has no label, it is never selected). */
export interface ClipScore {
  fname: string;
  fold: number;
  score: number;
}

/** A selected noisy clip, with the score it was ranked by. */
export type SelectedClip = ClipScore;

/**
 * Per-clip scores of out-of-fold predictions, as the task defines them (multiLabel: the
 * clip's lwlrap with the reference's tie rule).
 *
 * @param truth `[n][C]` 0/1 targets, @param probs `[n][C]` predictions, rows aligned with `fnames`
 */
export function clipScores(task: Pick<Task, 'clipScores'>, fnames: readonly string[], folds: ArrayLike<number>, truth: Uint8Array | Float32Array, probs: Float32Array | Float64Array, numClasses: number): ClipScore[] {
  const l = task.clipScores(truth, probs, numClasses);
  return fnames.map((fname, i) => ({ fname, fold: folds[i], score: l[i] }));
}

/** Geometric mean of two scores per clip: sqrt(a·b) (stage 3's ranking score). Both must list the same clips. */
export function geometricMeanScores(a: readonly ClipScore[], b: readonly ClipScore[], what = 'scores'): ClipScore[] {
  const byName = new Map(b.map((s) => [s.fname, s] as [string, ClipScore]));
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} and ${b.length} clips; both stages must score the same noisy clips`);
  return a.map((s) => {
    const other = byName.get(s.fname);
    if (!other) throw new Error(`${what}: clip ${s.fname} is scored in one stage only`);
    if (other.fold !== s.fold) throw new Error(`${what}: clip ${s.fname} is in fold ${s.fold} in one stage and ${other.fold} in the other`);
    return { fname: s.fname, fold: s.fold, score: Math.sqrt(s.score * other.score) };
  });
}

/** Options of {@link selectNoisyClips}. */
export interface SelectionRule {
  /** Keep clips with score ≥ minScore (NaN never passes). */
  minScore: number;
  /** At most this many selected clips per (fold, label); absent or Infinity = no cap. */
  maxPerFoldPerLabel?: number;
}

/**
 * Selects noisy clips by score. Clips are ranked by score (descending), ties broken by fname
 * (ascending, code-unit order), so the result is deterministic. With a cap, a clip is taken
 * only while EVERY one of its labels still has room in its fold, and then counts towards each
 * of its labels: the cap "at most N per fold per label" thus holds for every label (a union of
 * per-label top-N lists would let multi-label clips exceed it).
 *
 * @param labels fname → the clip's label names (needed with a cap)
 * @returns the selected clips sorted by fold, then rank
 */
export function selectNoisyClips(scores: readonly ClipScore[], rule: SelectionRule, labels?: ReadonlyMap<string, readonly string[]>): SelectedClip[] {
  const cap = rule.maxPerFoldPerLabel ?? Infinity;
  if (!(cap >= 0)) throw new Error(`maxPerFoldPerLabel must be >= 0, got ${cap}`);
  if (Number.isFinite(cap) && !labels) throw new Error('selectNoisyClips: a per-label cap needs the clips\' labels');
  const ranked = scores
    .filter((s) => s.score >= rule.minScore)
    .sort((a, b) => b.score - a.score || (a.fname < b.fname ? -1 : a.fname > b.fname ? 1 : 0));
  const counts = new Map<string, number>();
  const out: SelectedClip[] = [];
  for (const s of ranked) {
    if (Number.isFinite(cap)) {
      const ls = labels!.get(s.fname);
      if (!ls) throw new Error(`selectNoisyClips: no labels for clip ${s.fname}`);
      const keys = [...new Set(ls)].map((l) => `${s.fold}\u0000${l}`);
      if (keys.some((key) => (counts.get(key) ?? 0) >= cap)) continue;
      for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    out.push({ fname: s.fname, fold: s.fold, score: s.score });
  }
  return out.sort((a, b) => a.fold - b.fold); // Array sort is stable: rank order within a fold
}

function formatScore(x: number): string {
  return Number.isNaN(x) ? '' : String(x);
}

/** Writes `fname,fold,<scoreColumn>` rows atomically. */
export function writeScoresCsv(path: string, rows: readonly ClipScore[], scoreColumn: 'lwlrap' | 'score'): void {
  const lines = [`fname,fold,${scoreColumn}`, ...rows.map((r) => `${csvField(r.fname)},${r.fold},${formatScore(r.score)}`)];
  writeFileAtomicSync(path, lines.join('\n') + '\n');
}

/** Reads a file written by {@link writeScoresCsv} (an empty score reads as NaN); errors name file and line. */
export function readScoresCsv(path: string): ClipScore[] {
  const { header, records } = readCsvTable(path, 'scores file');
  if (header.length !== 3 || header[0] !== 'fname' || header[1] !== 'fold') {
    throw new Error(`${path}: header must be "fname,fold,<score>", got "${header.join(',')}"`);
  }
  return records.map(({ fields, line }) => {
    if (fields.length !== 3) throw new Error(`${path}:${line}: expected 3 fields, got ${fields.length}`);
    const fold = Number(fields[1]);
    const score = fields[2].trim() === '' ? NaN : Number(fields[2]);
    if (!Number.isInteger(fold) || fold < 0) throw new Error(`${path}:${line}: fold must be a non-negative integer, got "${fields[1]}"`);
    if (fields[2].trim() !== '' && !Number.isFinite(score)) throw new Error(`${path}:${line}: score must be a number, got "${fields[2]}"`);
    return { fname: fields[0], fold, score };
  });
}
