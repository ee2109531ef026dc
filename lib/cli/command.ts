import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError, formatOptionsHelp, parseOptions, type OptionSpecs, type OptionValues, type RawValues } from '../util/options';

export { UsageError } from '../util/options';

/** One `fat2019 <command>`: its declared options, help text and entry point (returns the exit code). */
export interface Command {
  name: string;
  summary: string;
  /** Full `--help` text, generated from the declaration: usage, description, options, examples. */
  readonly help: string;
  /** The declared options (lib/cli/options.ts says how to add one). */
  options: OptionSpecs;
  /**
   * Parses raw option values (as `util.parseArgs` returns them, or given by hand in tests)
   * with the declaration, then runs the command. A bad value is a UsageError.
   */
  run(values: RawValues, positionals: string[]): Promise<number>;
}

/** What a command declares; {@link defineCommand} turns it into a {@link Command}. */
export interface CommandDeclaration<O extends OptionSpecs> {
  name: string;
  /** One line for `fat2019 --help`. */
  summary: string;
  /** After `Usage: fat2019 `, e.g. `infer --run weights/<run> [options]`. */
  usage: string;
  /** What the command does (paragraphs; wrapped as written). */
  description: string | (() => string);
  options: O;
  /**
   * Positional arguments: 'none' refuses any (`unexpected argument "x"`); 'any' hands them to
   * `run`, which checks them.
   */
  positionals: 'none' | 'any';
  examples: string[];
  /** `raw`: the values before parsing, for library functions that resolve options themselves (trainConfig). */
  run(options: OptionValues<O>, positionals: string[], raw: RawValues): Promise<number>;
}

/** The `-h, --help` line every command has. */
const HELP_LINE = { help: { type: 'boolean', short: 'h', help: 'this help' } } as const;

/** A command from its declaration: parseArgs table, `--help` text and value parsing all come from `options`. */
export function defineCommand<O extends OptionSpecs>(d: CommandDeclaration<O>): Command {
  return {
    name: d.name,
    summary: d.summary,
    options: d.options,
    get help() {
      const description = typeof d.description === 'function' ? d.description() : d.description;
      return [
        `Usage: fat2019 ${d.usage}`,
        '',
        description.trim(),
        '',
        'Options:',
        formatOptionsHelp({ ...d.options, ...HELP_LINE }),
        '',
        d.examples.length > 1 ? 'Examples:' : 'Example:',
        ...d.examples.map((e) => `  ${e}`),
      ].join('\n') + '\n';
    },
    async run(values, positionals) {
      if (d.positionals === 'none' && positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
      return d.run(parseOptions(d.options, values), positionals, values);
    },
  };
}

/** The `util.parseArgs` option table of a command's declaration (plus `-h, --help`). */
function parseArgsOptions(options: OptionSpecs): NonNullable<ParseArgsConfig['options']> {
  const table: NonNullable<ParseArgsConfig['options']> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, spec] of Object.entries(options)) {
    table[name] = { type: spec.type, ...(spec.multiple ? { multiple: true } : {}), ...(spec.short ? { short: spec.short } : {}) };
  }
  return table;
}

/** Parses argv for `command`, prints help on --help, maps errors to exit codes (0 only on success). */
export async function runCommand(command: Command, argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: parseArgsOptions(command.options), allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`fat2019 ${command.name}: ${(err as Error).message}\nRun 'fat2019 ${command.name} --help' for usage.\n`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(command.help.trimEnd() + '\n');
    return 0;
  }
  try {
    return await command.run(parsed.values, parsed.positionals);
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
