import { UsageError, defineCommand } from './command';
import { loadEnsemble } from '../infer/ensemble';
import { tagFiles, type TagResult } from '../infer/tag';
import { initCliBackend, progressPrinter } from './infer';
import { cliEngine } from './engineOption';
import { BACKEND_OPTIONS, ENGINE_OPTION, ENSEMBLE_OPTIONS, QUIET_OPTION, RUN_OPTION, TOP_OPTION, backendChoice, inferOverrides } from './options';

/** The human table of one file: `file (3.2 s)` then rank, probability, label. */
function formatTagResult(r: TagResult): string {
  const lines = [`${r.file}  (${r.seconds.toFixed(1)} s)`];
  r.labels.forEach((l, i) => lines.push(`  ${String(i + 1).padStart(3)}  ${l.probability.toFixed(4)}  ${l.label}`));
  return lines.join('\n') + '\n';
}

/** `fat2019 tag`: the most probable classes of audio files, from a run's ensemble. */
export const tagCommand = defineCommand({
  name: 'tag',
  summary: "Tag audio files with a run's ensemble (top classes and probabilities)",
  usage: 'tag --run weights/<run> [options] <file>...',
  description: `Decodes each audio file (WAV: PCM/float/extensible, FLAC; any sample rate, mono or stereo),
applies the run's preprocessing and prints its most probable classes, averaged over the
ensemble's models and 128-frame windows. A file that cannot be decoded is reported on stderr
and the others are still tagged; the exit code is then 1.`,
  options: {
    run: RUN_OPTION,
    top: TOP_OPTION,
    json: { type: 'boolean', default: false, help: 'print a JSON array [{file, seconds, labels: [{label, probability}]}]' },
    ...ENSEMBLE_OPTIONS,
    ...BACKEND_OPTIONS,
    engine: ENGINE_OPTION,
    quiet: { ...QUIET_OPTION, help: 'no backend line or progress output' },
  },
  positionals: 'any',
  examples: [
    'fat2019 tag --run weights/demo data/demo/test/*.wav',
    'fat2019 tag --run weights/demo --top 3 --json dog.flac',
  ],
  async run(o, positionals) {
    if (positionals.length === 0) throw new UsageError('no audio file given');
    const { quiet } = o;
    const engine = cliEngine(o.engine, o.threads, quiet);
    await initCliBackend(backendChoice(o), quiet);
    const ensemble = await loadEnsemble(o.run, { archs: o.arch, stages: o.stages, folds: o.folds, lazy: o['one-at-a-time'], partial: o.partial, engine, log: quiet ? undefined : (line) => process.stderr.write(`${line}\n`) });
    let failed = 0;
    let results: TagResult[];
    try {
      results = await tagFiles(positionals, ensemble, {
        topK: o.top,
        infer: inferOverrides(o),
        onProgress: progressPrinter(quiet || positionals.length < 8),
        onError: (file, err) => {
          failed++;
          process.stderr.write(`fat2019 tag: ${err.message.includes(file) ? err.message : `${file}: ${err.message}`}\n`);
        },
      });
    } finally {
      ensemble.dispose();
    }
    if (o.json) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
    else process.stdout.write(results.map(formatTagResult).join('\n'));
    if (failed > 0) process.stderr.write(`fat2019 tag: ${failed} of ${positionals.length} file(s) could not be tagged\n`);
    return failed > 0 ? 1 : 0;
  },
});
