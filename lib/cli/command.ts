import { parseArgs, type ParseArgsConfig } from 'node:util';

/** One `fat2019 <command>`: its help text and its entry point (returns the exit code). */
export interface Command {
  name: string;
  summary: string;
  /** Full `--help` text: usage line, options with defaults, an example. */
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Record<string, string | boolean | string[] | boolean[] | undefined>, positionals: string[]): Promise<number>;
}

import { UsageError } from '../util/options';

export { UsageError, numberOption } from '../util/options';

/** Parses argv for `command`, prints help on --help, maps errors to exit codes (0 only on success). */
export async function runCommand(command: Command, argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`fat2019 ${command.name}: ${(err as Error).message}\nRun 'fat2019 ${command.name} --help' for usage.\n`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(command.help.trimEnd() + '\n');
    return 0;
  }
  try {
    return await command.run(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`fat2019 ${command.name}: ${err.message}\nRun 'fat2019 ${command.name} --help' for usage.\n`);
      return 2;
    }
    process.stderr.write(`fat2019 ${command.name}: error: ${(err as Error).message}\n`);
    if (process.env.FAT2019_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    return 1;
  }
}

