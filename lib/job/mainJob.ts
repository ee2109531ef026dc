/**
 * The main job (`npm start` = `fat2019 demo`): the whole system end to end on one data folder.
 * generate the demo data when absent → preprocess → 4-stage warm-up pipeline → ensemble
 * inference on the test set → submission.csv → lwlrap on Public/Private, next to the trivial
 * baseline that ranks classes by their training frequency. Every phase resumes: a second run
 * reuses the data, the feature cache and every finished (stage, fold). The CLI's `demo`
 * command, the tests and scripts/readme-results.ts call it.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_DEFAULTS, withDefaults, type Architecture, type DeepPartial, type Fat2019Config } from '../config';
import { generateDemoDataset } from '../data/demo/index';
import { preprocessDatasets } from '../data/preprocess';
import { formatPreprocessProgress, formatPreprocessReport } from '../data/preprocessReport';
import { readLabelCsv, readVocabulary } from '../data/labels';
import { writeSubmission } from '../data/submission';
import type { ScoreReport } from '../metrics/score';
import { scoreSubmission } from '../task/score';
import { initBackend, describeBackend } from '../runtime/backend';
import { formatEpochLog, progressBar, type Callback } from '../train/callbacks';
import { runPipeline, type PipelineReport } from '../train/pipeline/index';
import { loadEnsemble, predictDataset, frequencyBaseline } from '../infer/index';
import { writeFileAtomicSync } from '../util/atomicWrite';
import { formatFixed } from '../util/format';
import { progressReporter } from '../util/progress';

/** Options of {@link runMainJob}. */
export interface MainJobOptions {
  /** Kaggle-layout data folder; the demo set is generated there when it is absent. */
  dataDir: string;
  /** Run folder (weights, folds, submission, summary). */
  runDir: string;
  cacheDir: string;
  arch: Architecture;
  /** Overrides on top of {@link CONFIG_DEFAULTS}: the quick CPU preset, or none for the reference. */
  overrides: DeepPartial<Fat2019Config>;
  /** Demo data size and seed (used only when the demo data must be generated). */
  demoSize: 'tiny' | 'small';
  seed: number;
  /** Writes progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Show training progress bars (a terminal). */
  progress?: boolean;
}

/** What the main job reports (also written to `<runDir>/summary.json`). */
export interface MainJobSummary {
  backend: string;
  dataDir: string;
  runDir: string;
  /** Seconds per phase, in order. */
  phases: { name: string; seconds: number }[];
  /** Cross-validated lwlrap per stage (out-of-fold predictions). */
  stages: { stage: number; cvCurated: number | null; cvNoisy: number | null; selectedNoisy?: number }[];
  /** Test lwlrap of the ensemble and of the frequency baseline (null without test labels). */
  test: { model: SplitScores; baseline: SplitScores } | null;
  submissionPath: string;
  /** Models in the test ensemble, e.g. `cnnModel1 stages 2, 3, 4 × 2 folds`. */
  ensemble: string;
}

interface SplitScores {
  overall: number;
  perSplit: Record<string, number>;
}

const splitScores = (r: ScoreReport): SplitScores => ({
  overall: r.overall,
  perSplit: Object.fromEntries(Object.entries(r.perSplit).map(([k, v]) => [k, v.lwlrap])),
});

/** Runs the main job; returns its summary (also saved as `<runDir>/summary.json`). */
export async function runMainJob(options: MainJobOptions): Promise<MainJobSummary> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const config = withDefaults(CONFIG_DEFAULTS, options.overrides);
  config.model.arch = options.arch;
  const phases: MainJobSummary['phases'] = [];
  const timed = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    log(`\n== ${name} ==`);
    const t0 = Date.now();
    const result = await work();
    phases.push({ name, seconds: (Date.now() - t0) / 1000 });
    log(`== ${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return result;
  };

  const backend = await initBackend();
  log(`backend: ${describeBackend(backend)}`);

  await timed('data', async () => {
    if (existsSync(join(options.dataDir, 'train_curated.csv'))) {
      log(`using the data in ${options.dataDir}`);
      return;
    }
    // Only an absent or empty folder, or an earlier demo set, gets the demo data: a folder of
    // someone's own files (e.g. FSDKaggle2019 label files without the Kaggle CSVs) is left alone.
    const entries = existsSync(options.dataDir) ? readdirSync(options.dataDir) : [];
    if (entries.length > 0 && !entries.includes('demo.json')) {
      throw new Error(`${options.dataDir}: no train_curated.csv (Kaggle layout: train_curated/, train_noisy/, test/, train_curated.csv, ` +
        `train_noisy.csv, sample_submission.csv); the demo data is only generated into an absent or empty folder`);
    }
    log(`no data in ${options.dataDir}: generating the demo dataset (size ${options.demoSize}, seed ${options.seed})`);
    const demo = await generateDemoDataset({ outDir: options.dataDir, size: options.demoSize, seed: options.seed });
    log(`demo data: ${JSON.stringify(demo.counts)}`);
  });

  await timed('preprocess', async () => {
    // Plain lines into the log, at most every 5 s (the main job's output is often a log file).
    const progress = progressReporter({ log, lineEveryMs: 5000 });
    const report = await preprocessDatasets({
      dataDir: options.dataDir,
      cacheDir: options.cacheDir,
      config: config.preprocess,
      onProgress: (p) => progress.update(() => formatPreprocessProgress(p), p.done === p.total),
    });
    log(formatPreprocessReport(report).trimEnd());
    if (report.failed > 0) throw new Error(`${report.failed} clip(s) could not be preprocessed (listed above): fix or remove them, then rerun`);
  });

  // The data's own classes (80 for FSDKaggle2019, 11 for the demo set) size the model's output.
  const vocabulary = readVocabulary(join(options.dataDir, 'sample_submission.csv'));
  config.model.numClasses = vocabulary.length;
  const pipeline: PipelineReport = await timed('train (warm-up stages 1-4)', () =>
    runPipeline({
      runDir: options.runDir,
      dataDir: options.dataDir,
      cacheDir: options.cacheDir,
      config,
      // A bar on a terminal; in a log (CI, nohup) one line per epoch instead.
      callbacks: (stage, fold) => (options.progress ? [progressBar()] : [epochLines(`stage ${stage} fold ${fold}`, log)]),
      log,
    }),
  );

  const submissionPath = join(options.runDir, 'submission.csv');
  let ensembleName = '';
  const baselinePath = join(options.runDir, 'baseline_submission.csv');
  await timed('infer', async () => {
    const ensemble = await loadEnsemble(options.runDir, { archs: [options.arch] });
    try {
      const folds = new Set(ensemble.members.map((m) => m.fold)).size;
      ensembleName = `${ensemble.members.length} models: ${options.arch} stages ${config.pipeline.ensembleStages.join(', ')} × ${folds} folds`;
      log(`ensemble: ${ensembleName}`);
      const pred = await predictDataset({ ensemble, dataDir: options.dataDir, dataset: 'test', cacheDir: options.cacheDir });
      writeSubmission(submissionPath, pred.fnames, pred.scores, pred.vocabulary);
      const curated = readLabelCsv(join(options.dataDir, 'train_curated.csv'), vocabulary);
      writeSubmission(baselinePath, pred.fnames, frequencyBaseline(curated.map((c) => c.labels), vocabulary, pred.fnames.length), vocabulary);
      log(`wrote ${submissionPath} (${pred.fnames.length} clips) and ${baselinePath}`);
    } finally {
      ensemble.dispose();
    }
  });

  const truthPath = join(options.dataDir, 'test_post_competition.csv');
  let test: MainJobSummary['test'] = null;
  await timed('score', async () => {
    if (!existsSync(truthPath)) {
      log(`no ${truthPath}: the test set has no labels, nothing to score`);
      return;
    }
    test = {
      model: splitScores(scoreSubmission({ submissionPath, truthPath, vocabulary })),
      baseline: splitScores(scoreSubmission({ submissionPath: baselinePath, truthPath, vocabulary })),
    };
  });

  const summary: MainJobSummary = {
    backend: describeBackend(backend),
    dataDir: options.dataDir,
    runDir: options.runDir,
    phases,
    stages: pipeline.stages.map((s) => ({ stage: s.stage, cvCurated: s.cvCurated, cvNoisy: s.cvNoisy, selectedNoisy: s.selectedNoisy })),
    test,
    submissionPath,
    ensemble: ensembleName,
  };
  mkdirSync(options.runDir, { recursive: true });
  writeFileAtomicSync(join(options.runDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

/** A fit callback writing one line per finished epoch. */
function epochLines(prefix: string, log: (line: string) => void): Callback {
  return { name: 'epochLines', onEpochEnd: (ctx, epoch) => log(`  ${prefix}  ${formatEpochLog(epoch, ctx.epochs)}`) };
}

/** A score of the summary table; absent ones as a centred dash. */
const scoreCell = (v: number | null | undefined): string => formatFixed(v, { missing: '   -  ', nan: '   -  ' });

/** The summary as the table the main job prints. */
export function formatMainJobSummary(s: MainJobSummary): string {
  const total = s.phases.reduce((a, p) => a + p.seconds, 0);
  const lines = [
    '',
    `Summary (${s.runDir}/summary.json)`,
    `  ${s.backend}`,
    `  data      ${s.dataDir}`,
    '  time per phase:',
    ...s.phases.map((p) => `    ${p.name.padEnd(30)} ${p.seconds.toFixed(1).padStart(7)} s`),
    `    ${'total'.padEnd(30)} ${total.toFixed(1).padStart(7)} s`,
    '  cross-validated lwlrap (out-of-fold):   curated   noisy',
    ...s.stages.map(
      (st) => `    stage ${st.stage}${st.selectedNoisy !== undefined ? ` (+${st.selectedNoisy} noisy clips)` : ''}`.padEnd(40) + `${scoreCell(st.cvCurated)}   ${scoreCell(st.cvNoisy)}`,
    ),
  ];
  if (s.test) {
    const splits = Object.keys(s.test.model.perSplit).sort();
    const width = 60;
    lines.push(`  test lwlrap:`.padEnd(width + 2) + ['all', ...splits].map((k) => k.padStart(8)).join(' '));
    const row = (name: string, r: SplitScores) => `    ${name.padEnd(width - 2)}${[r.overall, ...splits.map((k) => r.perSplit[k])].map((v) => scoreCell(v).padStart(8)).join(' ')}`;
    lines.push(row(`ensemble (${s.ensemble})`, s.test.model), row('baseline (classes by training frequency)', s.test.baseline));
  }
  lines.push(`  submission: ${s.submissionPath}`);
  return lines.join('\n') + '\n';
}
