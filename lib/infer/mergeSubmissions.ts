/**
 * Split inference: `fat2019 infer --folds 0,1 --out a.csv` and `--folds 2,3 --out b.csv` (or by
 * `--stages`, `--arch`) predict parts of a run's ensemble on different machines, and
 * `fat2019 merge a.csv b.csv --out submission.csv` averages them into the whole ensemble's
 * submission.
 *
 * Each submission gets a sidecar `<csv>.members.json` ({@link SubmissionMembers}): which members
 * voted, the run's identity, the vocabulary, the averaging settings and the CSV's sha256. The CSV
 * itself stays a plain Kaggle submission, so `score` and uploads are unaffected.
 *
 * Why the weighted mean is exact: `infer` averages every window of every member with equal
 * weight, and every member sees the same windows of a clip, so a part with m members holds the
 * mean over its m members; the whole is the member-count-weighted mean of the parts:
 *   arithmetic  p = Σ m_i p_i / Σ m_i
 *   geometric   p = exp(Σ m_i log p_i / Σ m_i)
 * up to the float32 rounding of the written parts (relative 6e-8).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Fat2019Config, InferConfig } from '../config';
import { readSubmission, writeSubmission } from '../data/submission';
import type { RunInfo } from '../run/runFolder';
import { writeFileAtomicSync } from '../util/atomicWrite';

const MEMBERS_VERSION = 1;

/** Contents of `<submission>.members.json`. */
export interface SubmissionMembers {
  version: number;
  /** The run's identity: sha256 of its run.json settings (config, vocabulary, createdAt). */
  runId: string;
  /** The run folder as the writer saw it (for messages only: copies of a run share runId). */
  runDir: string;
  /** `arch/stage<k>/fold<f>` of every member that voted, sorted. */
  members: string[];
  vocabulary: string[];
  /** What must agree for parts to average: the mean and the windows. */
  ensembleMean: InferConfig['ensembleMean'];
  windowFrames: number;
  windowShift: number;
  /** The task's activation (sigmoid, softmax) named by the task. */
  task: Fat2019Config['task']['name'];
  /** sha256 of the submission CSV this sidecar describes. */
  sha256: string;
}

export const membersPath = (submission: string): string => `${submission}.members.json`;

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** The identity of a run: two copies of one run folder (run.json copied) share it; two runs do not. */
export function runIdentity(info: Pick<RunInfo, 'config' | 'vocabulary' | 'createdAt'>): string {
  return sha256(JSON.stringify({ config: info.config, vocabulary: info.vocabulary, createdAt: info.createdAt })).slice(0, 16);
}

/** Writes the sidecar of `submission` (after the CSV: it records the CSV's sha256). */
export function writeSubmissionMembers(submission: string, m: Omit<SubmissionMembers, 'version' | 'sha256'>): void {
  const record: SubmissionMembers = { version: MEMBERS_VERSION, ...m, members: [...m.members].sort(), sha256: sha256(readFileSync(submission)) };
  writeFileAtomicSync(membersPath(submission), JSON.stringify(record, null, 2) + '\n');
}

/** Reads and checks the sidecar of `submission`; errors name the file and the problem. */
export function readSubmissionMembers(submission: string): SubmissionMembers {
  const path = membersPath(submission);
  if (!existsSync(submission)) throw new Error(`${submission}: file not found`);
  if (!existsSync(path)) throw new Error(`${submission}: no ${path}, which says which models made it; only submissions written by fat2019 infer can be merged`);
  let m: SubmissionMembers;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as SubmissionMembers;
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (m.version !== MEMBERS_VERSION || !Array.isArray(m.members) || !Array.isArray(m.vocabulary) || typeof m.runId !== 'string' || typeof m.sha256 !== 'string') {
    throw new Error(`${path}: not a members file of version ${MEMBERS_VERSION} (members, vocabulary, runId, sha256)`);
  }
  if (m.members.length === 0) throw new Error(`${path}: lists no members`);
  if (sha256(readFileSync(submission)) !== m.sha256) {
    throw new Error(`${submission}: its content changed after fat2019 infer wrote it (sha256 differs from ${path}); rerun infer for it`);
  }
  return m;
}

/** A merged submission: rows, scores `[n][C]`, and its members record (without the sha256). */
export interface MergedSubmission {
  fnames: string[];
  vocabulary: string[];
  scores: Float64Array;
  members: Omit<SubmissionMembers, 'version' | 'sha256'>;
}

/**
 * The member-count-weighted mean of submissions of parts of one run's ensemble. Refuses (an
 * Error naming both files): another run, another vocabulary (or column order), another mean or
 * window setting, other clips or clip order, and members in more than one file.
 */
export function mergeSubmissions(paths: readonly string[]): MergedSubmission {
  if (paths.length < 2) throw new Error(`merge needs at least two submissions, got ${paths.length}`);
  const parts = paths.map((path) => ({ path, members: readSubmissionMembers(path) }));
  const first = parts[0];
  const owner = new Map<string, string>();
  for (const p of parts) {
    const a = first.members;
    const b = p.members;
    if (b.runId !== a.runId) {
      throw new Error(`${p.path} comes from another run (${b.runDir}, id ${b.runId}) than ${first.path} (${a.runDir}, id ${a.runId}): only parts of one run's ensemble average to it`);
    }
    if (b.vocabulary.join('\n') !== a.vocabulary.join('\n')) {
      throw new Error(`${p.path}: its classes (${b.vocabulary.length}) differ from ${first.path}'s (${a.vocabulary.length}): another vocabulary`);
    }
    for (const key of ['ensembleMean', 'windowFrames', 'windowShift', 'task'] as const) {
      if (b[key] !== a[key]) throw new Error(`${p.path}: ${key} ${b[key]}, ${first.path}: ${a[key]}; parts must be inferred with the same settings`);
    }
    const overlap = b.members.filter((m) => owner.has(m));
    if (overlap.length > 0) {
      throw new Error(`${p.path} and ${owner.get(overlap[0])} both hold ${overlap.join(', ')}: parts must not overlap (each model counts once)`);
    }
    for (const m of b.members) owner.set(m, p.path);
  }
  const vocabulary = first.members.vocabulary;
  const C = vocabulary.length;
  const subs = parts.map((p) => ({ ...p, sub: readSubmission(p.path, vocabulary) }));
  const fnames = subs[0].sub.fnames;
  for (const s of subs) {
    if (s.sub.fnames.length !== fnames.length || s.sub.fnames.some((f, i) => f !== fnames[i])) {
      const i = s.sub.fnames.findIndex((f, k) => f !== fnames[k]);
      throw new Error(`${s.path}: its clips differ from ${first.path}'s (${s.sub.fnames.length} vs ${fnames.length} rows` +
        `${i >= 0 ? `; row ${i + 1}: ${s.sub.fnames[i]} vs ${fnames[i]}` : ''}): predict the same dataset`);
    }
  }
  const geometric = first.members.ensembleMean === 'geometric';
  const total = subs.reduce((n, s) => n + s.members.members.length, 0);
  const scores = new Float64Array(fnames.length * C);
  for (const s of subs) {
    const w = s.members.members.length / total;
    const v = s.sub.scores;
    for (let i = 0; i < v.length; i++) {
      if (geometric && !(v[i] > 0)) throw new Error(`${s.path}: a score of ${fnames[Math.floor(i / C)]} is ${v[i]}; a geometric mean needs scores > 0`);
      scores[i] += w * (geometric ? Math.log(v[i]) : v[i]);
    }
  }
  if (geometric) for (let i = 0; i < scores.length; i++) scores[i] = Math.exp(scores[i]);
  const { version: _v, sha256: _s, ...rest } = first.members;
  return { fnames, vocabulary, scores, members: { ...rest, members: [...owner.keys()].sort() } };
}

/** Writes a merged submission and its sidecar (so merged parts can be merged again). */
export function writeMergedSubmission(out: string, merged: MergedSubmission): void {
  writeSubmission(out, merged.fnames, merged.scores, merged.vocabulary);
  writeSubmissionMembers(out, merged.members);
}
