/**
 * Declared options: each option of a command (or of a library function that resolves options
 * into a config, such as lib/train/pipeline/trainConfig) is one {@link OptionSpec}: its type,
 * value placeholder, help, default, parse/validation function and the config field it sets.
 * The CLI builds node's `util.parseArgs` table, the `--help` text and the README's option
 * tables from the same specs (lib/cli/options.ts holds the shared ones and says how to add
 * one). Errors in how a job was asked to run are {@link UsageError}s: the CLI prints them with
 * the command's help hint and exits 2.
 */

/** A usage error: the CLI prints it with the command's help hint and exits with code 2. */
export class UsageError extends Error {}

/** What `util.parseArgs` hands over (and what tests and notebooks pass by hand). */
export type RawValues = Record<string, unknown>;

/** One declared option; `T` is the value its parse function returns. */
export interface OptionSpec<T = unknown> {
  /** `boolean`: a switch (`--quiet`); `string`: takes a value (`--run <dir>`). */
  type: 'boolean' | 'string';
  /** Repeatable (`--arch a --arch b`): the parse function gets every value. */
  multiple?: boolean;
  /** One-letter alias, e.g. `h`. */
  short?: string;
  /** Placeholder of the value in the help, e.g. `<dir>`. */
  arg?: string;
  /** One sentence (wrapped to the help's width); the default is appended from `default`/`defaultText`. */
  help: string | (() => string);
  /** The value when the option is absent (a function: computed when needed, e.g. the core count). */
  default?: T | (() => T);
  /** How the help and README show the default, when `String(default)` does not say it. */
  defaultText?: string;
  /** When set, the option must be given; the error is `--name <arg> is required (<required>)`. */
  required?: string;
  /** Raw value → value; throws a {@link UsageError} naming `flag` and the bad value. */
  parse?: (raw: string, flag: string) => T;
  /** For a repeatable option: every raw value → value. */
  parseAll?: (raw: string[], flag: string) => T;
  /** The config field the option sets (`model.widthMultiplier`), shown in the help and README. */
  config?: string;
}

/** A command's (or a function's) options, by long name without the dashes. */
export type OptionSpecs = Record<string, OptionSpec<any>>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** What one option's parse step returns (a string when it declares no parse function). */
export type ParsedValue<S> = S extends { parse: (...args: any[]) => infer T } ? T // eslint-disable-line @typescript-eslint/no-explicit-any
  : S extends { parseAll: (...args: any[]) => infer T } ? T // eslint-disable-line @typescript-eslint/no-explicit-any
    : S extends { type: 'boolean' } ? boolean
      : S extends { multiple: true } ? string[]
        : S extends OptionSpec<infer T> ? (unknown extends T ? string : T) : never;

/** The parsed value of one option: `T`, or `T | undefined` when it is neither required nor defaulted. */
export type OptionValue<S> = S extends { required: string } | { default: unknown } ? ParsedValue<S> : ParsedValue<S> | undefined;

/** The parsed values of a set of specs. */
export type OptionValues<O extends OptionSpecs> = { [K in keyof O]: OptionValue<O[K]> };

/**
 * Parses raw values (strings, booleans, string arrays for repeatable options) with their specs:
 * absent options get their default, required ones must be there, every parse function runs.
 * Raw keys without a spec are ignored (the parseArgs step already refused unknown options).
 */
export function parseOptions<O extends OptionSpecs>(specs: O, raw: RawValues): OptionValues<O> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const value = raw[name];
    const flag = `--${name}`;
    if (value === undefined) {
      if (spec.required !== undefined) throw new UsageError(`${flag}${spec.arg ? ` ${spec.arg}` : ''} is required (${spec.required})`);
      out[name] = typeof spec.default === 'function' ? (spec.default as () => unknown)() : spec.default;
      continue;
    }
    if (spec.type === 'boolean') {
      out[name] = value === true;
    } else if (spec.multiple) {
      const all = (Array.isArray(value) ? value : [value]).map(String);
      out[name] = spec.parseAll ? spec.parseAll(all, flag) : all;
    } else {
      const one = Array.isArray(value) ? String(value[value.length - 1]) : String(value);
      out[name] = spec.parse ? spec.parse(one, flag) : one;
    }
  }
  return out as OptionValues<O>;
}

/** The default as the help shows it, or undefined when there is none to show. */
export function defaultText(spec: OptionSpec): string | undefined {
  if (spec.defaultText !== undefined) return spec.defaultText;
  if (spec.default === undefined || spec.type === 'boolean') return undefined;
  const value = typeof spec.default === 'function' ? (spec.default as () => unknown)() : spec.default;
  return Array.isArray(value) ? value.join(',') : String(value);
}

/** `--name <arg>` (with `-x, ` for a short alias). */
export function optionLabel(name: string, spec: OptionSpec): string {
  return `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.arg ? ` ${spec.arg}` : ''}`;
}

/** The help sentence with its default appended. */
function optionHelp(spec: OptionSpec): string {
  const help = typeof spec.help === 'function' ? spec.help() : spec.help;
  const def = defaultText(spec);
  if (def === undefined) return help;
  // After a table the default goes on a line of its own.
  return help.includes('\n') ? `${help}\n(default: ${def})` : `${help} (default: ${def})`;
}

/** Greedy word wrap of `text` to `width` columns; explicit newlines are kept, and lines that start with a space (tables) are kept as written. */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const para of text.split('\n')) {
    if (para.startsWith(' ')) {
      lines.push(para);
      continue;
    }
    let line = '';
    for (const word of para.split(/ +/)) {
      if (line !== '' && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line === '' ? word : `${line} ${word}`;
      }
    }
    lines.push(line);
  }
  return lines;
}

/** The `Options:` lines of a help text: label column, then the wrapped help with its default. */
export function formatOptionsHelp(specs: OptionSpecs, width = 96): string {
  const labels = Object.entries(specs).map(([name, spec]) => optionLabel(name, spec));
  const column = 23; // longer labels are followed by one space
  const lines: string[] = [];
  Object.values(specs).forEach((spec, i) => {
    const label = `  ${labels[i]}`;
    const text = wrapText(optionHelp(spec), width - column);
    const first = label.length + 1 > column ? `${label} ` : label.padEnd(column);
    lines.push(first + text[0], ...text.slice(1).map((t) => ' '.repeat(column) + t));
  });
  return lines.join('\n');
}

/** A number, or a UsageError `<flag> must be a number, got "<raw>"`. */
export function parseNumber(raw: unknown, flag: string): number {
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n)) {
    throw new UsageError(`${flag} must be a number, got "${String(raw)}"`);
  }
  return n;
}

/** Bounds of an integer option; the error says them as `>= min` or `in min..max` (or `range`). */
export interface IntBounds {
  min?: number;
  max?: number;
  /** How the error states the allowed range, when `>= min` / `in min..max` does not fit. */
  range?: string;
}

/** An integer within bounds, or a UsageError naming the flag, the range and the value. */
export function parseInteger(raw: unknown, flag: string, bounds: IntBounds = {}): number {
  const n = parseNumber(raw, flag);
  const { min, max } = bounds;
  if (!Number.isInteger(n) || (min !== undefined && n < min) || (max !== undefined && n > max)) {
    const range = bounds.range ?? (max !== undefined ? `in ${min ?? 0}..${max}` : min !== undefined ? `>= ${min}` : '');
    throw new UsageError(`${flag} must be an integer${range ? ` ${range}` : ''}, got ${n}`);
  }
  return n;
}

/** A string option whose value is one of `choices`. */
export function parseChoice<C extends string>(raw: string, flag: string, choices: readonly C[], say = `one of ${choices.join(', ')}`): C {
  if (!(choices as readonly string[]).includes(raw)) throw new UsageError(`${flag} must be ${say}, got "${raw}"`);
  return raw as C;
}
