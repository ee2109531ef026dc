import type { InferProgress } from '../infer/types';
import type { TagResult } from '../infer/tag';
import type { ScoreReport } from '../metrics/score';
import { bar } from '../viz/charts';
import { htmlTable } from '../viz/grid';
import type { Figure } from '../viz/plotly';
import { perClassLwlrapChart } from './training';

/**
 * Helpers of the inference notebook: what the ensemble holds, a progress label, the first rows
 * of a submission, the score tables and charts, and the tags of a file.
 */

/** One row per (arch, stage) of the ensemble with its folds: `members` as loadEnsemble lists them. */
export function ensembleTable(members: readonly { arch: string; stage: number; fold: number }[]): string {
  const groups = new Map<string, { arch: string; stage: number; folds: number[] }>();
  for (const m of members) {
    const key = `${m.arch}/${m.stage}`;
    const g = groups.get(key) ?? { arch: m.arch, stage: m.stage, folds: [] };
    g.folds.push(m.fold);
    groups.set(key, g);
  }
  return htmlTable(['architecture', 'stage', 'folds', 'models'], [...groups.values()].map((g) => [g.arch, g.stage, g.folds.sort((a, b) => a - b).join(', '), g.folds.length]));
}

/** "predicting: model 2/6 (cnnModel1 stage 3 fold 1) · 12 s left" for a progress bar. */
export function inferProgressLabel(p: InferProgress, members: number): string {
  const perMember = members > 0 ? p.total / members : p.total;
  const index = Math.min(members, Math.floor(p.done / Math.max(1, perMember)) + (p.done < p.total ? 1 : 0));
  const eta = p.etaSec === null ? '' : ` · ${Math.ceil(p.etaSec)} s left`;
  return `predicting: model ${index}/${members} (${p.member.arch} stage ${p.member.stage} fold ${p.member.fold})${eta}`;
}

/**
 * The first `rows` clips of a prediction as a table: file name, the `topK` most probable
 * classes with their probabilities.
 */
export function predictionTable(fnames: readonly string[], scores: ArrayLike<number>, vocabulary: readonly string[], rows = 8, topK = 3): string {
  const C = vocabulary.length;
  const body = fnames.slice(0, rows).map((f, i) => {
    const order = vocabulary.map((_, c) => c).sort((a, b) => scores[i * C + b] - scores[i * C + a] || a - b);
    return [f, order.slice(0, topK).map((c) => `${vocabulary[c]} ${scores[i * C + c].toFixed(3)}`).join(' · ')];
  });
  return htmlTable(['clip', `top ${topK} classes (probability)`], body);
}

/** lwlrap overall and per usage split (Public, Private) of a {@link ScoreReport}. */
export function scoreTable(report: ScoreReport): string {
  const rows: (string | number)[][] = [['all', report.clips, report.overall]];
  for (const [split, s] of Object.entries(report.perSplit)) rows.push([split, s.clips, s.lwlrap]);
  return htmlTable(['split', 'clips', 'lwlrap'], rows);
}

/** Per-class lwlrap bars of a {@link ScoreReport} (classes absent from the truth left out). */
export function scorePerClassChart(report: ScoreReport, title = 'Per-class lwlrap on the test set'): Figure {
  return perClassLwlrapChart(
    report.perClass.map((c) => c.label),
    report.perClass.map((c) => c.lwlrap),
    report.overall,
    { title, weights: report.perClass.map((c) => c.weight) },
  );
}

/** The tags of one file as horizontal bars, most probable on top. */
export function tagChart(tags: TagResult): Figure {
  return bar(
    tags.labels.map((l) => l.label),
    { name: 'probability', values: tags.labels.map((l) => l.probability) },
    { horizontal: true, sort: 'desc', title: `Top ${tags.labels.length} classes`, yTitle: 'probability', height: 120 + 28 * tags.labels.length },
  );
}
