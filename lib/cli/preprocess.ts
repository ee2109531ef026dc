import { UsageError, defineCommand } from './command';
import { CACHE_OPTION, DATA_OPTION, QUIET_OPTION, WORKERS_OPTION } from './options';
import { PREPROCESS_DEFAULTS, withDefaults } from '../config';
import { preprocessDatasets, DEFAULT_DATASETS } from '../data/preprocess';
import { formatPreprocessProgress, formatPreprocessReport } from '../data/preprocessReport';
import { progressReporter } from '../util/progress';

/** `fat2019 preprocess`: every clip of the datasets → its uint8 log-mel image in the feature cache. */
export const preprocessCommand = defineCommand({
  name: 'preprocess',
  summary: 'Compute the log-mel images of every clip into the feature cache',
  usage: 'preprocess [options]',
  description: `Decodes every WAV/FLAC file of the dataset folders, applies the reference preprocessing (trim
silence, pad to 2 s, log-mel 128 bands, uint8 image) and caches each image under
<cache>/<config hash>/<dataset>/<fname>.u8. Resumable: cached clips are skipped, so rerunning
after an interruption computes only what is missing. Before any work, every clip of the folders
and of their label files (<dataset>.csv, sample_submission.csv for test) is checked: missing,
outside the data folder, unreadable or in an unsupported format (MP3, OGG, ...) clips are all
listed in one error. A file that cannot be decoded later is reported (file + reason, also in
<cache>/<hash>/preprocess-report.json) and the run goes on.
Exit code 1 if any file failed, 0 otherwise.`,
  options: {
    data: { ...DATA_OPTION, help: 'folder with the dataset folders', default: 'data/demo' },
    datasets: {
      type: 'string', arg: '<a,b>', help: 'comma-separated dataset folders', defaultText: `whichever of ${DEFAULT_DATASETS.join(', ')} exist`,
      parse: (raw, flag) => {
        const names = raw.split(',').map((s) => s.trim()).filter(Boolean);
        if (names.length === 0) throw new UsageError(`${flag} must name at least one folder`);
        return names;
      },
    },
    cache: CACHE_OPTION,
    workers: { ...WORKERS_OPTION, help: 'worker threads; 0 = in this thread', defaultText: 'and at most: the core count' },
    quiet: { ...QUIET_OPTION, help: 'no progress bar' },
  },
  positionals: 'none',
  examples: ['fat2019 preprocess --data data/fsdkaggle2019 --datasets train_curated,test --workers 2'],
  async run(o) {
    // A bar on a terminal, a plain line every 10 s elsewhere (CI, logs).
    const progress = progressReporter({ quiet: o.quiet, redrawEveryMs: 100 });
    const report = await preprocessDatasets({
      dataDir: o.data,
      datasets: o.datasets,
      cacheDir: o.cache,
      config: withDefaults(PREPROCESS_DEFAULTS),
      workers: o.workers,
      onProgress: (p) => progress.update(() => formatPreprocessProgress(p), p.done === p.total),
    });
    process.stdout.write(formatPreprocessReport(report));
    return report.failed > 0 || report.aborted ? 1 : 0;
  },
});
