import { runCommand, type Command } from '../../lib/cli/command';

/**
 * Runs a `fat2019` command in this process with argv, capturing what it writes to stdout and
 * stderr. Only strings are captured: the test runner's own reports (Buffers on stdout) pass
 * through, or whole tests would vanish from its count.
 */
export async function runCli(command: Command, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const w1 = process.stdout.write.bind(process.stdout);
  const w2 = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string | Uint8Array, ...rest: unknown[]) => (typeof s === 'string' ? ((out += s), true) : (w1 as (...a: unknown[]) => boolean)(s, ...rest))) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array, ...rest: unknown[]) => (typeof s === 'string' ? ((err += s), true) : (w2 as (...a: unknown[]) => boolean)(s, ...rest))) as typeof process.stderr.write;
  try {
    return { code: await runCommand(command, argv), out, err };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
  }
}
