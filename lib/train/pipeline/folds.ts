/**
 * k-fold splits of the curated and noisy sets: iterative stratification for multi-label data
 * (Sechidis, Tsoumakas & Vlahavas 2011, "On the stratification of multi-label data", ECML
 * PKDD), seeded, and saved in the run folder (`folds/{curated,noisy}.csv`, `fname,fold`) on
 * first use, so every later stage and job of the run, on any machine, holds out the same clips.
 *
 * Folds are numbered 0 .. k−1; fold f of the curated set and fold f of the noisy set are held
 * out together by the fold-f chain of models (stages 1→2→3→4), so each out-of-fold prediction
 * comes from models that never trained on that clip.
 */
import { existsSync } from 'node:fs';
import { csvField, readCsvTable } from '../../data/labels';
import { writeFileAtomicSync } from '../../util/atomicWrite';
import { Rng } from '../../util/rng';

/** The two label sets a run splits ("curated" = the labelled set of any layout). */
export type ClipSet = 'curated' | 'noisy';

/**
 * Iterative stratification (Sechidis et al. 2011, Algorithm 1) into `k` equal folds.
 *
 * Repeatedly takes the label with the fewest clips still unassigned (ties: random) and deals
 * its clips out, each to the fold that most lacks that label (ties: the fold that most lacks
 * clips overall, then random), updating every label's and fold's remaining demand. Clips
 * without labels go last to the folds that most lack clips. Rare labels are thereby spread
 * first, when every fold can still take them. Randomness comes from `seed` only (the clips
 * are visited in a seeded random order), so a split is reproducible.
 *
 * @param labels `[numClips]`, each the clip's label indices (any integers; order irrelevant)
 * @returns Int32Array `[numClips]`: the fold (0 .. k−1) of each clip
 */
export function iterativeStratification(labels: readonly (readonly number[])[], k: number, seed: number): Int32Array {
  const n = labels.length;
  if (!Number.isInteger(k) || k < 2) throw new Error(`folds must be an integer >= 2, got ${k}`);
  if (n < k) throw new Error(`cannot split ${n} clips into ${k} folds (need at least one clip per fold)`);
  const rng = new Rng(seed);
  const order = rng.permutation(n);
  // Clips of each label, in the seeded visiting order.
  const byLabel = new Map<number, number[]>();
  for (const i of order) {
    for (const l of new Set(labels[i])) {
      let list = byLabel.get(l);
      if (!list) byLabel.set(l, (list = []));
      list.push(i);
    }
  }
  const fold = new Int32Array(n).fill(-1);
  // Desired clips per fold overall and per (label, fold), decremented as clips are dealt.
  const want = new Float64Array(k).fill(n / k);
  const wantLabel = new Map<number, Float64Array>();
  const remaining = new Map<number, number>();
  for (const [l, list] of byLabel) {
    wantLabel.set(l, new Float64Array(k).fill(list.length / k));
    remaining.set(l, list.length);
  }
  const argmaxFolds = (values: Float64Array, among: number[]): number[] => {
    let best = -Infinity;
    let out: number[] = [];
    for (const j of among) {
      if (values[j] > best + 1e-9) {
        best = values[j];
        out = [j];
      } else if (Math.abs(values[j] - best) <= 1e-9) {
        out.push(j);
      }
    }
    return out;
  };
  const allFolds = Array.from({ length: k }, (_, j) => j);
  const assign = (i: number, j: number): void => {
    fold[i] = j;
    want[j] -= 1;
    for (const l of new Set(labels[i])) {
      wantLabel.get(l)![j] -= 1;
      remaining.set(l, remaining.get(l)! - 1);
    }
  };
  for (;;) {
    // The label with the fewest unassigned clips (> 0); ties broken at random.
    let fewest = Infinity;
    let candidates: number[] = [];
    for (const [l, r] of remaining) {
      if (r <= 0) continue;
      if (r < fewest) {
        fewest = r;
        candidates = [l];
      } else if (r === fewest) {
        candidates.push(l);
      }
    }
    if (candidates.length === 0) break;
    candidates.sort((a, b) => a - b);
    const label = candidates[rng.int(candidates.length)];
    const demand = wantLabel.get(label)!;
    for (const i of byLabel.get(label)!) {
      if (fold[i] >= 0) continue;
      let best = argmaxFolds(demand, allFolds);
      if (best.length > 1) best = argmaxFolds(want, best);
      assign(i, best.length === 1 ? best[0] : best[rng.int(best.length)]);
    }
  }
  for (const i of order) {
    if (fold[i] >= 0) continue;
    const best = argmaxFolds(want, allFolds);
    assign(i, best.length === 1 ? best[0] : best[rng.int(best.length)]);
  }
  return fold;
}

/** Writes `fname,fold` rows atomically (in the given order). */
export function writeFoldsCsv(path: string, fnames: readonly string[], folds: ArrayLike<number>): void {
  if (fnames.length !== folds.length) throw new Error(`writeFoldsCsv: ${fnames.length} fnames but ${folds.length} folds`);
  const lines = ['fname,fold', ...fnames.map((f, i) => `${csvField(f)},${folds[i]}`)];
  writeFileAtomicSync(path, lines.join('\n') + '\n');
}

/**
 * Reads a folds CSV (`fname,fold`) → Map fname → fold. Throws naming the file and line for a
 * wrong header, a duplicate clip, or a fold that is not an integer in [0, k) (when `k` given).
 */
export function readFoldsCsv(path: string, k?: number): Map<string, number> {
  const { header, records } = readCsvTable(path, 'folds file');
  if (header[0] !== 'fname' || header[1] !== 'fold') throw new Error(`${path}: header must be "fname,fold", got "${header.join(',')}"`);
  const out = new Map<string, number>();
  for (const { fields, line } of records) {
    if (fields.length !== 2) throw new Error(`${path}:${line}: expected 2 fields (fname,fold), got ${fields.length}`);
    const fname = fields[0].trim();
    const fold = Number(fields[1]);
    if (!/^-?\d+$/.test(fields[1].trim()) || fold < -1 || (k !== undefined && fold >= k)) {
      throw new Error(`${path}:${line}: fold must be -1 (never held out) or an integer in [0, ${k ?? '∞'}), got "${fields[1]}"`);
    }
    if (out.has(fname)) throw new Error(`${path}:${line}: clip "${fname}" listed twice`);
    out.set(fname, fold);
  }
  return out;
}

function sample(names: string[]): string {
  return names.slice(0, 3).join(', ') + (names.length > 3 ? ', ...' : '');
}

/** Options of {@link ensureFolds}. */
export interface EnsureFoldsOptions {
  /** `weights/<run>/folds/<set>.csv`. */
  path: string;
  /** The set's clips from its label CSV (fname + label names). */
  clips: readonly { fname: string; labels: readonly string[] }[];
  /** The label CSV the clips came from (named in mismatch errors). */
  labelFile: string;
  k: number;
  seed: number;
  /** With k = 1: the fraction of clips held out as fold 0 (0 = none; the rest get fold −1). */
  holdout?: number;
  /** Folds given by the label CSV (0 .. k−1): used as they are. */
  given?: Int32Array;
}

/**
 * The split of a set when none is saved yet: `given` folds; k ≥ 2 folds by iterative
 * stratification; with k = 1 and a holdout fraction h, fold 0 = one of round(1/h) stratified
 * folds (about h of the clips) and −1 (always trained on) for the rest; k = 1 without holdout:
 * every clip −1.
 */
export function planFolds(labels: readonly (readonly number[])[], k: number, seed: number, holdout = 0, given?: Int32Array): Int32Array {
  if (given) return Int32Array.from(given);
  if (!Number.isInteger(k) || k < 1) throw new Error(`folds must be an integer >= 1, got ${k}`);
  if (!(holdout >= 0 && holdout < 1)) throw new Error(`holdout must be a fraction in [0, 1), got ${holdout}`);
  if (k >= 2) return iterativeStratification(labels, k, seed);
  if (holdout === 0 || labels.length === 0) return new Int32Array(labels.length).fill(-1);
  const parts = Math.max(2, Math.round(1 / holdout));
  if (labels.length < parts) return new Int32Array(labels.length).fill(-1);
  return iterativeStratification(labels, parts, seed).map((f) => (f === 0 ? 0 : -1));
}

/** The folds a split must use: 0 .. k−1 for k ≥ 2; for k = 1, fold 0 only with a holdout, and −1. */
function expectedFolds(k: number, holdout: number, n: number): string {
  return k >= 2 ? Array.from({ length: k }, (_, f) => f).join(',') : holdout > 0 && n > 0 ? '-1,0' : '-1';
}

/**
 * The set's folds: read from `path` when it exists (checked against the current clips: the
 * same clip names, folds in [0, k)), else computed by {@link iterativeStratification} and
 * written. A folds file that no longer matches the label file throws: the run's earlier
 * stages held out other clips, so mixing them would leak training clips into validation.
 *
 * @returns Int32Array `[clips.length]`, the fold of each clip (in `clips` order)
 */
export function ensureFolds(options: EnsureFoldsOptions): Int32Array {
  const { path, clips, labelFile, k, seed } = options;
  const holdout = options.holdout ?? 0;
  if (options.given && k < 2) throw new Error(`${labelFile}: its fold column gives folds, but the run has ${k} fold(s)`);
  if (options.given) {
    const used = new Set(options.given).size;
    if (used !== k) throw new Error(`${labelFile}: its fold column holds ${used} folds, the run has ${k}; use --folds ${used} (or leave --folds out)`);
  }
  const out = new Int32Array(clips.length);
  if (existsSync(path)) {
    const saved = readFoldsCsv(path, k);
    const missing = clips.filter((c) => !saved.has(c.fname)).map((c) => c.fname);
    const current = new Set(clips.map((c) => c.fname));
    const extra = [...saved.keys()].filter((f) => !current.has(f));
    if (missing.length > 0 || extra.length > 0) {
      const parts: string[] = [];
      if (missing.length > 0) parts.push(`${missing.length} clip(s) of ${labelFile} are not in it (${sample(missing)})`);
      if (extra.length > 0) parts.push(`${extra.length} clip(s) in it are not in ${labelFile} (${sample(extra)})`);
      throw new Error(`${path}: the run's folds do not match the current label file: ${parts.join('; ')}. ` +
        'The run was split on other data: use the original label files or start a new run folder.');
    }
    clips.forEach((c, i) => (out[i] = saved.get(c.fname)!));
    const used = [...new Set(out)].sort((a, b) => a - b).join(',');
    const expected = expectedFolds(k, holdout, clips.length);
    // A tiny holdout may leave fold 0 empty; any other mismatch means another split.
    if (used !== expected && !(k === 1 && used === '-1')) throw new Error(`${path}: folds ${used} occur, the run's split uses ${expected}`);
    if (options.given && options.given.some((f, i) => f !== out[i])) {
      throw new Error(`${path}: the run's folds differ from the fold column of ${labelFile}; use the original label file or a new run folder`);
    }
    return out;
  }
  const index = new Map<string, number>();
  const labelIds = clips.map((c) => c.labels.map((l) => {
    let id = index.get(l);
    if (id === undefined) index.set(l, (id = index.size));
    return id;
  }));
  out.set(planFolds(labelIds, k, seed, holdout, options.given));
  writeFoldsCsv(path, clips.map((c) => c.fname), out);
  return out;
}
