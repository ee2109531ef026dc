import { UsageError, defineCommand } from './command';
import { parseChoice, parseInteger, parseNumber, type OptionSpec } from '../util/options';
import { progressReporter } from '../util/progress';
import { DEFAULT_NOISY_LABEL_ERROR_RATE, DEMO_SETS, DEMO_SIZES, generateDemoDataset, type DemoSize, type DemoSummary } from '../data/demo/index';
import { checkOutputFolder } from '../util/outputPath';
import { DEMO_DATASET_FOLDER } from '../data/demo/generate';

/** Human summary of a generated (or reused) demo folder: clips and audio minutes per set. */
function formatDemoSummary(s: DemoSummary): string {
  const lines = [
    s.skipped
      ? `${s.outDir} already holds the complete '${s.size}' demo dataset for seed ${s.seed}: nothing to do`
      : `Generated the '${s.size}' demo dataset (seed ${s.seed}) in ${s.outDir} in ${s.elapsedSec.toFixed(1)} s`,
    `  ${s.vocabulary.length} classes: ${s.vocabulary.join(', ')}`,
    `  ${'set'.padEnd(14)} ${'clips'.padStart(6)} ${'multi-label'.padStart(12)} ${'audio'.padStart(9)}`,
  ];
  for (const set of DEMO_SETS) {
    lines.push(`  ${set.padEnd(14)} ${String(s.counts[set]).padStart(6)} ${String(s.multiLabelClips[set]).padStart(12)} ${(s.seconds[set] / 60).toFixed(1).padStart(7)} min`);
  }
  lines.push(`  train_noisy: ${s.noisyWrongLabelClips} of ${s.counts.train_noisy} clips have wrong labels (rate ${s.noisyLabelErrorRate})`);
  return lines.join('\n') + '\n';
}

/** `--size tiny|small`: the demo dataset's size (generate, demo). */
export const SIZE_OPTION: OptionSpec<DemoSize> & { default: DemoSize } = {
  type: 'string', arg: '<tiny|small>', default: 'small',
  help: () => (Object.keys(DEMO_SIZES) as DemoSize[]).map((size) => `${size}: ${describe(size)}`).join('; '),
  parse: (raw, flag) => parseChoice(raw, flag, Object.keys(DEMO_SIZES) as DemoSize[]),
};

/** `--seed <n>`: the demo dataset's random seed (generate, demo). */
export const SEED_OPTION: OptionSpec<number> & { default: number } = {
  type: 'string', arg: '<n>', help: 'random seed, integer', default: 2019,
  parse: (raw, flag) => parseInteger(raw, flag, { min: 0, max: 0xffffffff, range: 'in [0, 2^32)' }),
};

/** `fat2019 generate`: the demo dataset (real CC0 recordings, Kaggle layout) into a folder. */
export const generateCommand = defineCommand({
  name: 'generate',
  summary: 'Generate the demo dataset (real CC0 recordings, FSDKaggle2019 layout)',
  usage: 'generate [options]',
  description: `Builds a small audio tagging dataset in the FSDKaggle2019 layout from the CC0 Sonic Pi samples
(npm package supersonic-scsynth-samples): clips of 1-3 labelled sound events (random time, gain
and pitch) over low coloured noise, in train_curated/ (correct labels), train_noisy/ (labels
wrong for a known share of clips) and test/ (made only from recordings the training sets never
use), with train_curated.csv, train_noisy.csv, test_post_competition.csv (Public/Private) and
sample_submission.csv. The same seed gives byte-identical files; a folder that already holds the
same dataset is left as is. See data/DEMO-PROVENANCE.md.`,
  options: {
    out: { type: 'string', arg: '<dir>', help: 'output folder', default: 'data/demo' },
    size: SIZE_OPTION,
    seed: SEED_OPTION,
    'noisy-error-rate': {
      type: 'string', arg: '<r>', help: 'share of train_noisy clips with wrong labels', default: DEFAULT_NOISY_LABEL_ERROR_RATE,
      parse: (raw, flag) => {
        const rate = parseNumber(raw, flag);
        if (!(rate >= 0 && rate <= 1)) throw new UsageError(`${flag} must be in [0, 1], got ${rate}`);
        return rate;
      },
    },
    json: { type: 'boolean', default: false, help: 'print the summary as JSON' },
  },
  positionals: 'none',
  examples: ['fat2019 generate --out data/demo --size tiny --seed 7'],
  async run(o) {
    checkOutputFolder(o.out, { option: '--out', kind: DEMO_DATASET_FOLDER });
    // Clip counts on a terminal only (the summary follows on stdout).
    const progress = progressReporter({ quiet: o.json || process.stderr.isTTY !== true });
    const summary = await generateDemoDataset({
      outDir: o.out,
      size: o.size,
      seed: o.seed,
      noisyLabelErrorRate: o['noisy-error-rate'],
      onProgress: ({ done, total }) => progress.update(() => `  ${done}/${total} clips`, done === total),
    });
    if (o.json) {
      process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    } else {
      process.stdout.write(formatDemoSummary(summary));
    }
    return 0;
  },
});

function describe(size: DemoSize): string {
  const s = DEMO_SIZES[size];
  return `${s.curatedPerClass} curated, ${s.noisyPerClass} noisy, ${s.testPerClass} test clips per class, ${s.minSeconds}-${s.maxSeconds} s`;
}
