/** The preprocessing job as text: its progress line and its report (CLI, main job). */
import { formatDuration, formatProgress } from '../util/format';
import type { PreprocessProgress, PreprocessReport } from './preprocess';

/** One-line progress bar: `[#####.....]  512/4970  10.3%  12.4 clips/s  ETA 6:01  (3 failed)`. */
export function formatPreprocessProgress(p: PreprocessProgress, width = 30): string {
  const rate = p.elapsedSec > 0 ? (p.computed + p.failed) / p.elapsedSec : 0;
  const failed = p.failed > 0 ? `  (${p.failed} failed)` : '';
  return formatProgress(p, { padCounts: true, width, detail: `${rate.toFixed(1)} clips/s` }) + failed;
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

