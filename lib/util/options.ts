/**
 * Errors in how a job was asked to run (an option value out of range, a flag that does not
 * apply), shared by the CLI (which prints them with the command's help hint and exits 2) and
 * the library functions that resolve options into a config (lib/train/pipeline/trainConfig).
 */

/** A usage error: the CLI prints it with the command's help hint and exits with code 2. */
export class UsageError extends Error {}

/** Reads a numeric option, failing with the option's name and value when it is not a number. */
export function numberOption(values: Record<string, unknown>, name: string, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n)) {
    throw new UsageError(`--${name} must be a number, got "${String(raw)}"`);
  }
  return n;
}
