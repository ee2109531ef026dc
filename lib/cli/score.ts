import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError, defineCommand } from './command';
import { parseChoice } from '../util/options';
import type { ScoreReport } from '../metrics/score';
import { scoreSubmission } from '../task/score';
import { readVocabularyAny } from '../data/labels';
import { LWLRAP_TIES, type LwlrapTies } from '../metrics/lwlrap';
import { formatFixed } from '../util/format';

const DEFAULT_TRUTH = 'data/fsdkaggle2019/test_post_competition.csv';

/** The default truth file: relative to the working directory, else to the project root. */
function defaultTruth(): string {
  if (existsSync(DEFAULT_TRUTH)) return DEFAULT_TRUTH;
  const inProject = resolve(__dirname, '..', '..', DEFAULT_TRUTH);
  return existsSync(inProject) ? inProject : DEFAULT_TRUTH;
}

/** lwlrap and friends with 6 decimals; NaN (nothing to score) as n/a. */
const scoreText = (x: number): string => formatFixed(x, { digits: 6, nan: 'n/a' });

/** Human-readable report: lwlrap per split and overall, then (optionally) the class table. */
export function formatScoreReport(report: ScoreReport, perClass: boolean): string {
  const lines: string[] = [];
  lines.push(`lwlrap (ties: ${report.ties})`);
  lines.push(`  ${'split'.padEnd(10)} ${'clips'.padStart(6)}  lwlrap`);
  for (const [name, s] of Object.entries(report.perSplit)) {
    lines.push(`  ${name.padEnd(10)} ${String(s.clips).padStart(6)}  ${scoreText(s.lwlrap)}`);
  }
  lines.push(`  ${'all'.padEnd(10)} ${String(report.clips).padStart(6)}  ${scoreText(report.overall)}`);
  if (report.extraClips > 0) lines.push(`  (${report.extraClips} submission rows without truth were ignored)`);
  const names: Record<string, string> = { accuracy: 'top-1 accuracy', map3: 'MAP@3', mAP: 'mAP', auc: 'ROC AUC (macro)' };
  const shown = ['accuracy', 'map3', 'mAP', 'auc'].filter((k) => report.metrics?.[k] !== undefined);
  if (shown.length > 0) lines.push(`  ${shown.map((k) => `${names[k]} ${scoreText(report.metrics[k])}`).join(', ')}`);
  if (perClass) {
    const width = Math.max(5, ...report.perClass.map((c) => c.label.length));
    lines.push('');
    lines.push(`  ${'class'.padEnd(width)} ${'clips'.padStart(6)} ${'weight'.padStart(8)}  lwlrap`);
    for (const c of report.perClass) {
      lines.push(`  ${c.label.padEnd(width)} ${String(c.positives).padStart(6)} ${c.weight.toFixed(4).padStart(8)}  ${c.positives > 0 ? scoreText(c.lwlrap) : 'n/a'}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** `fat2019 score`: lwlrap of a submission on labelled clips (Public / Private / all). */
export const scoreCommand = defineCommand({
  name: 'score',
  summary: 'Score a submission CSV with lwlrap (Public, Private, all, per class)',
  usage: 'score <submission.csv> [options]',
  description: `Scores a submission (fname + one score column per class) with lwlrap, the FAT2019 metric,
against a label CSV (fname,labels[,usage]): per usage split (Public / Private), over all clips,
and optionally per class. Exits 1 with a message naming the problem when the submission lacks
clips, has unknown or missing class columns, or holds a non-numeric value.`,
  options: {
    truth: { type: 'string', arg: '<csv>', help: 'truth labels: the FSDKaggle2019 post-competition test labels by default', defaultText: DEFAULT_TRUTH },
    vocabulary: {
      type: 'string', arg: '<file>', help: 'expected classes: sample_submission.csv or vocabulary.csv',
      defaultText: "a vocabulary.csv beside the truth file if there is one, else the submission's own columns",
    },
    split: {
      type: 'string', multiple: true, arg: '<name>',
      help: 'score only truth clips with this usage (repeatable), e.g. Public when the submission covers only the Kaggle public test clips',
    },
    ties: {
      type: 'string', arg: '<rule>', help: `tie rule: ${LWLRAP_TIES.join(' | ')}; numpy = the official DCASE reference`, default: 'numpy',
      parse: (raw, flag) => parseChoice<LwlrapTies>(raw, flag, LWLRAP_TIES),
    },
    'per-class': { type: 'boolean', default: false, help: 'add the per-class table' },
    json: { type: 'boolean', default: false, help: 'print the report as JSON' },
  },
  positionals: 'any',
  examples: ['fat2019 score weights/run1/submission.csv --per-class'],
  async run(o, positionals) {
    if (positionals.length !== 1) {
      throw new UsageError(`expected one submission CSV, got ${positionals.length} arguments`);
    }
    const truthPath = o.truth ?? defaultTruth();
    if (!existsSync(truthPath)) throw new Error(`truth file not found: ${truthPath}`);
    let vocabularyPath = o.vocabulary;
    if (vocabularyPath === undefined) {
      const beside = join(dirname(truthPath), 'vocabulary.csv');
      if (existsSync(beside)) vocabularyPath = beside;
    }
    const vocabulary = vocabularyPath ? readVocabularyAny(vocabularyPath) : undefined;
    const report = scoreSubmission({ submissionPath: positionals[0], truthPath, vocabulary, splits: o.split, ties: o.ties });
    const perClass = o['per-class'];
    if (o.json) {
      const { perClass: table, ...rest } = report;
      const out = { submission: positionals[0], truth: truthPath, vocabulary: vocabularyPath ?? 'submission header', ...rest, ...(perClass ? { perClass: table } : {}) };
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    } else {
      process.stdout.write(formatScoreReport(report, perClass));
    }
    return 0;
  },
});
