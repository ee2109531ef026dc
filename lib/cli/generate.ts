import { UsageError, numberOption, type Command } from './command';
import { checkOutputFolder } from '../util/outputPath';
import { DEMO_DATASET_FOLDER } from '../data/demo/generate';
import { DEFAULT_NOISY_LABEL_ERROR_RATE, DEMO_SETS, DEMO_SIZES, generateDemoDataset, type DemoSize, type DemoSummary } from '../data/demo/index';

/** Human summary of a generated (or reused) demo folder: clips and audio minutes per set. */
export function formatDemoSummary(s: DemoSummary): string {
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

/** `fat2019 generate`: the demo dataset (real CC0 recordings, Kaggle layout) into a folder. */
export const generateCommand: Command = {
  name: 'generate',
  summary: 'Generate the demo dataset (real CC0 recordings, FSDKaggle2019 layout)',
  help: `Usage: fat2019 generate [options]

Builds a small audio tagging dataset in the FSDKaggle2019 layout from the CC0 Sonic Pi samples
(npm package supersonic-scsynth-samples): clips of 1-3 labelled sound events (random time, gain
and pitch) over low coloured noise, in train_curated/ (correct labels), train_noisy/ (labels
wrong for a known share of clips) and test/ (made only from recordings the training sets never
use), with train_curated.csv, train_noisy.csv, test_post_competition.csv (Public/Private) and
sample_submission.csv. The same seed gives byte-identical files; a folder that already holds the
same dataset is left as is. See data/DEMO-PROVENANCE.md.

Options:
  --out <dir>               output folder (default: data/demo)
  --size <tiny|small>       tiny: ${describe('tiny')}
                            small: ${describe('small')} (default: small)
  --seed <n>                random seed, integer (default: 2019)
  --noisy-error-rate <r>    share of train_noisy clips with wrong labels (default: ${DEFAULT_NOISY_LABEL_ERROR_RATE})
  --json                    print the summary as JSON
  -h, --help                this help

Example:
  fat2019 generate --out data/demo --size tiny --seed 7
`,
  options: {
    out: { type: 'string' },
    size: { type: 'string' },
    seed: { type: 'string' },
    'noisy-error-rate': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values, positionals) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const size = (values.size as string | undefined) ?? 'small';
    if (!Object.prototype.hasOwnProperty.call(DEMO_SIZES, size)) {
      throw new UsageError(`--size must be one of ${Object.keys(DEMO_SIZES).join(', ')}, got "${size}"`);
    }
    const seed = numberOption(values, 'seed', 2019);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new UsageError(`--seed must be an integer in [0, 2^32), got ${seed}`);
    const rate = numberOption(values, 'noisy-error-rate', DEFAULT_NOISY_LABEL_ERROR_RATE);
    if (!(rate >= 0 && rate <= 1)) throw new UsageError(`--noisy-error-rate must be in [0, 1], got ${rate}`);
    checkOutputFolder((values.out as string | undefined) ?? 'data/demo', { option: '--out', kind: DEMO_DATASET_FOLDER });
    const showProgress = process.stderr.isTTY && !values.json;
    const summary = await generateDemoDataset({
      outDir: (values.out as string | undefined) ?? 'data/demo',
      size: size as DemoSize,
      seed,
      noisyLabelErrorRate: rate,
      onProgress: showProgress ? ({ done, total }) => { if (done % 20 === 0 || done === total) process.stderr.write(`\r  ${done}/${total} clips`); } : undefined,
    });
    if (showProgress && !summary.skipped) process.stderr.write('\n');
    if (values.json) {
      process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    } else {
      process.stdout.write(formatDemoSummary(summary));
    }
    return 0;
  },
};

function describe(size: DemoSize): string {
  const s = DEMO_SIZES[size];
  return `${s.curatedPerClass} curated, ${s.noisyPerClass} noisy, ${s.testPerClass} test clips per class, ${s.minSeconds}-${s.maxSeconds} s`;
}
