import { UsageError, numberOption, type Command } from './command';
import { loadEnsemble } from '../infer/ensemble';
import { tagFiles, type TagResult } from '../infer/tag';
import { archOption, inferOverrides, initCliBackend, intListOption, progressPrinter } from './infer';
import { BACKEND_OPTIONS_HELP } from './backendOption';
import { cliEngine, ENGINE_OPTIONS_HELP } from './engineOption';
import { architectureNames } from '../models/index';

/** The human table of one file: `file (3.2 s)` then rank, probability, label. */
export function formatTagResult(r: TagResult): string {
  const lines = [`${r.file}  (${r.seconds.toFixed(1)} s)`];
  r.labels.forEach((l, i) => lines.push(`  ${String(i + 1).padStart(3)}  ${l.probability.toFixed(4)}  ${l.label}`));
  return lines.join('\n') + '\n';
}

/** `fat2019 tag`: the most probable classes of audio files, from a run's ensemble. */
export const tagCommand: Command = {
  name: 'tag',
  summary: "Tag audio files with a run's ensemble (top classes and probabilities)",
  help: `Usage: fat2019 tag --run weights/<run> [options] <file>...

Decodes each audio file (WAV: PCM/float/extensible, FLAC; any sample rate, mono or stereo),
applies the run's preprocessing and prints its most probable classes, averaged over the
ensemble's models and 128-frame windows. A file that cannot be decoded is reported on stderr
and the others are still tagged; the exit code is then 1.

Options:
  --run <dir>          run folder (required), e.g. weights/demo
  --top <k>            classes listed per file (default: 5)
  --json               print a JSON array [{file, seconds, labels: [{label, probability}]}]
  --stages <list>      stages whose models vote (default: the run's pipeline.ensembleStages)
  --arch <list>        architectures, comma-separated: ${architectureNames().join(', ')}
                       (default: all trained)
  --folds <list>       folds (default: all finished)
  --mean <kind>        arithmetic | geometric (default: the run's infer.ensembleMean)
  --batch-size <n>     windows per forward pass (default: the run's infer.batchSize)
  --one-at-a-time      load one model at a time (big ensembles)
  --partial            use the finished models while other jobs of the run still train
                       (default: refuse, naming the running jobs)
${BACKEND_OPTIONS_HELP}
${ENGINE_OPTIONS_HELP}
  --quiet              no backend line or progress output

Example:
  fat2019 tag --run weights/demo data/demo/test/*.wav
  fat2019 tag --run weights/demo --top 3 --json dog.flac
`,
  options: {
    run: { type: 'string' },
    top: { type: 'string' },
    json: { type: 'boolean' },
    stages: { type: 'string' },
    arch: { type: 'string', multiple: true },
    folds: { type: 'string' },
    mean: { type: 'string' },
    'batch-size': { type: 'string' },
    'one-at-a-time': { type: 'boolean' },
    partial: { type: 'boolean' },
    backend: { type: 'string' },
    engine: { type: 'string' },
    threads: { type: 'string' },
    quiet: { type: 'boolean' },
  },
  async run(values, positionals) {
    if (typeof values.run !== 'string') throw new UsageError('--run <dir> is required (a run folder, e.g. weights/demo)');
    if (positionals.length === 0) throw new UsageError('no audio file given');
    const topK = numberOption(values, 'top', 5);
    if (!Number.isInteger(topK) || topK < 1) throw new UsageError(`--top must be an integer >= 1, got ${topK}`);
    const stages = intListOption(values, 'stages');
    const folds = intListOption(values, 'folds');
    const archs = archOption(values);
    const infer = inferOverrides(values);
    const quiet = values.quiet === true;
    const engine = cliEngine(values, quiet);
    await initCliBackend(values, quiet);
    const ensemble = await loadEnsemble(values.run, { archs, stages, folds, lazy: values['one-at-a-time'] === true, partial: values.partial === true, engine, log: quiet ? undefined : (line) => process.stderr.write(`${line}\n`) });
    let failed = 0;
    let results: TagResult[];
    try {
      results = await tagFiles(positionals, ensemble, {
        topK,
        infer,
        onProgress: progressPrinter(quiet || positionals.length < 8),
        onError: (file, err) => {
          failed++;
          process.stderr.write(`fat2019 tag: ${err.message.includes(file) ? err.message : `${file}: ${err.message}`}\n`);
        },
      });
    } finally {
      ensemble.dispose();
    }
    if (values.json === true) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
    else process.stdout.write(results.map(formatTagResult).join('\n'));
    if (failed > 0) process.stderr.write(`fat2019 tag: ${failed} of ${positionals.length} file(s) could not be tagged\n`);
    return failed > 0 ? 1 : 0;
  },
};
