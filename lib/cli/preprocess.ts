import { UsageError, defineCommand } from './command';
import { CACHE_OPTION, DATA_OPTION, QUIET_OPTION, WORKERS_OPTION } from './options';
import { PREPROCESS_DEFAULTS, withDefaults } from '../config';
import { formatDuration } from '../util/format';
import { preprocessDatasets, DEFAULT_DATASETS, type PreprocessProgress, type PreprocessReport } from '../data/preprocess';

/** One-line progress bar: `[#####.....]  512/4970  10.3%  12.4 clips/s  ETA 6:01  (3 failed)`. */
export function formatProgressBar(p: PreprocessProgress, width = 30): string {
  const frac = p.total > 0 ? p.done / p.total : 1;
  const filled = Math.round(frac * width);
  const rate = p.elapsedSec > 0 ? (p.computed + p.failed) / p.elapsedSec : 0;
  const eta = p.etaSec === null ? '' : `  ETA ${formatDuration(p.etaSec)}`;
  const failed = p.failed > 0 ? `  (${p.failed} failed)` : '';
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(p.done).padStart(String(p.total).length)}/${p.total}  ${(100 * frac).toFixed(1)}%  ${rate.toFixed(1)} clips/s${eta}${failed}`;
}

/** Human summary of a run: counters per dataset, then every failure with its reason. */
export function formatPreprocessReport(r: PreprocessReport): string {
  const lines = [`Preprocessed into ${r.cacheDir} (config ${r.configHash}) in ${formatDuration(r.elapsedSec)} on ${r.workers} worker(s)${r.aborted ? ' -- ABORTED before the end' : ''}`];
  lines.push(`  ${'dataset'.padEnd(14)} ${'clips'.padStart(7)} ${'computed'.padStart(9)} ${'cached'.padStart(7)} ${'failed'.padStart(7)}`);
  for (const [name, c] of Object.entries(r.datasets)) {
    lines.push(`  ${name.padEnd(14)} ${String(c.total).padStart(7)} ${String(c.computed).padStart(9)} ${String(c.skipped).padStart(7)} ${String(c.failed).padStart(7)}`);
  }
  lines.push(`  ${'all'.padEnd(14)} ${String(r.total).padStart(7)} ${String(r.computed).padStart(9)} ${String(r.skipped).padStart(7)} ${String(r.failed).padStart(7)}`);
  if (r.ignoredFiles.length > 0) {
    lines.push(`${r.ignoredFiles.length} file(s) that are not audio were left alone: ${r.ignoredFiles.slice(0, 5).join(', ')}${r.ignoredFiles.length > 5 ? ', …' : ''}`);
  }
  if (r.failures.length > 0) {
    lines.push(`${r.failures.length} file(s) failed (listed in ${r.cacheDir}/preprocess-report.json):`);
    for (const f of r.failures) lines.push(`  ${f.file}: ${f.reason}`);
  }
  return lines.join('\n') + '\n';
}

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
    const quiet = o.quiet || !process.stderr.isTTY;
    let lastDraw = 0;
    const report = await preprocessDatasets({
      dataDir: o.data,
      datasets: o.datasets,
      cacheDir: o.cache,
      config: withDefaults(PREPROCESS_DEFAULTS),
      workers: o.workers,
      onProgress: (p) => {
        const now = Date.now();
        if (o.quiet) return;
        if (quiet) {
          // Not a terminal (CI, logs): a plain line every 10 s and at the end.
          if (now - lastDraw >= 10000 || p.done === p.total) {
            lastDraw = now;
            process.stderr.write(formatProgressBar(p) + '\n');
          }
        } else if (now - lastDraw >= 100 || p.done === p.total) {
          lastDraw = now;
          process.stderr.write(`\r${formatProgressBar(p)}\x1b[K${p.done === p.total ? '\n' : ''}`);
        }
      },
    });
    process.stdout.write(formatPreprocessReport(report));
    return report.failed > 0 || report.aborted ? 1 : 0;
  },
});
