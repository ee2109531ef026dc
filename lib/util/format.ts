/**
 * How numbers, durations and progress bars look in text output: the one place for them (the
 * CLI's tables, the training log, the main job's summary and every progress line).
 */

/** "1:05:03" / "4:09" from seconds. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** How {@link formatFixed} shows what it cannot print as a number. */
export interface FixedOptions {
  /** Decimals (default 4). */
  digits?: number;
  /** Text for null / undefined (default `n/a`). */
  missing?: string;
  /** Text for NaN, e.g. a metric with nothing to score (default: `NaN`, so a diverged loss shows). */
  nan?: string;
}

/** A score or loss with fixed decimals: `0.7123`; missing values as `n/a` (or as asked). */
export function formatFixed(x: number | null | undefined, options: FixedOptions = {}): string {
  if (x === null || x === undefined) return options.missing ?? 'n/a';
  if (Number.isNaN(x) && options.nan !== undefined) return options.nan;
  return x.toFixed(options.digits ?? 4);
}

/** `[#########.....................]`: `fraction` (0..1) of `width` characters filled. */
export function formatBar(fraction: number, width = 30): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** Counts of a long job, for {@link formatProgress}. */
export interface ProgressCounts {
  done: number;
  total: number;
  /** Seconds left (null: not known yet); shown while not done. */
  etaSec?: number | null;
  /** Seconds so far; shown when done (if given). */
  elapsedSec?: number;
}

/**
 * One progress line: `[####....] 512/4970 clips  10.3%  <detail>  ETA 6:01` (the elapsed time
 * instead of the ETA once done). `unit` follows the counts; `detail` goes before the time.
 */
export function formatProgress(p: ProgressCounts, options: { unit?: string; detail?: string; padCounts?: boolean; width?: number } = {}): string {
  const frac = p.total > 0 ? p.done / p.total : 1;
  const done = options.padCounts ? String(p.done).padStart(String(p.total).length) : String(p.done);
  const end = p.done === p.total;
  const time = !end && p.etaSec !== undefined && p.etaSec !== null ? `  ETA ${formatDuration(p.etaSec)}`
    : end && p.elapsedSec !== undefined ? `  ${formatDuration(p.elapsedSec)}` : '';
  return `${formatBar(frac, options.width)} ${done}/${p.total}${options.unit ? ` ${options.unit}` : ''}  ${(100 * frac).toFixed(1)}%` +
    `${options.detail ? `  ${options.detail}` : ''}${time}`;
}

/** A parameter in a caption: 3 significant digits, whole numbers from 100 (`0.123`, `1.50`, `250`). */
export function formatCompact(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
}
