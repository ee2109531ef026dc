import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMMANDS } from '../../lib/cli/commands';
import { defineCommand, runCommand } from '../../lib/cli/command';
import { CACHE_OPTION, RUN_OPTION, WORKERS_OPTION } from '../../lib/cli/options';
import { UsageError, defaultText, formatOptionsHelp, parseInteger, parseOptions, wrapText } from '../../lib/util/options';

/**
 * The declared command line (lib/util/options.ts, lib/cli/options.ts): parsing, defaults,
 * usage errors and `--help` all come from one declaration per option.
 */

/** Runs `fn` with stdout and stderr captured. */
async function captured(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const write = [process.stdout.write, process.stderr.write];
  process.stdout.write = ((s: string) => out.push(s)) as never;
  process.stderr.write = ((s: string) => err.push(s)) as never;
  try {
    const code = await fn();
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    [process.stdout.write, process.stderr.write] = write;
  }
}

test('parseOptions: defaults (also computed ones), required options, parse functions, repeatable values', () => {
  const specs = {
    run: RUN_OPTION,
    cache: CACHE_OPTION,
    workers: WORKERS_OPTION,
    n: { type: 'string', arg: '<n>', help: 'a count', parse: (raw: string, flag: string) => parseInteger(raw, flag, { min: 1 }) },
    tag: { type: 'string', multiple: true, arg: '<t>', help: 'tags' },
    quiet: { type: 'boolean', help: 'q', default: false },
  } as const;
  const o = parseOptions(specs, { run: 'r' });
  assert.deepEqual({ ...o, workers: typeof o.workers }, { run: 'r', cache: 'work/features', workers: 'number', n: undefined, tag: undefined, quiet: false });
  assert.equal(parseOptions(specs, { run: 'r', n: '3', tag: 'a', quiet: true }).n, 3);
  assert.deepEqual(parseOptions(specs, { run: 'r', tag: ['a', 'b'] }).tag, ['a', 'b']);
  assert.throws(() => parseOptions(specs, {}), (e: Error) => e instanceof UsageError && e.message === '--run <dir> is required (a run folder, e.g. weights/demo)');
  assert.throws(() => parseOptions(specs, { run: 'r', n: '0' }), (e: Error) => e instanceof UsageError && e.message === '--n must be an integer >= 1, got 0');
  assert.throws(() => parseOptions(specs, { run: 'r', n: 'two' }), /--n must be a number, got "two"/);
  assert.throws(() => parseOptions(specs, { run: 'r', workers: '-1' }), /--workers must be an integer >= 0, got -1/);
});

test('help text: every declared option of every command, with its default; tables kept, prose wrapped', () => {
  for (const command of COMMANDS) {
    const help = command.help;
    assert.match(help, new RegExp(`^Usage: fat2019 ${command.name}`));
    assert.match(help, /\n  -h, --help +this help\n/);
    for (const [name, spec] of Object.entries(command.options)) {
      assert.ok(help.includes(`--${name}`), `${command.name} --help lacks --${name}`);
      const def = defaultText(spec);
      if (def !== undefined) assert.ok(help.replace(/\s+/g, ' ').includes(`(default: ${def})`.replace(/\s+/g, ' ')), `${command.name} --help lacks the default of --${name}`);
    }
    for (const line of help.split('\n')) if (!line.startsWith('   ') && !/^  (fat2019|python3) /.test(line)) assert.ok(line.length <= 100, `${command.name}: long line ${line}`);
  }
  assert.deepEqual(wrapText('aa bb cc\n  keep  this', 5), ['aa bb', 'cc', '  keep  this']);
  assert.equal(formatOptionsHelp({ x: { type: 'string', arg: '<v>', help: 'the x', default: 3 } }), '  --x <v>              the x (default: 3)');
});

test('a command from its declaration: typed values, exit 2 naming the option and the bad value, unknown options refused', async () => {
  let seen: unknown;
  const cmd = defineCommand({
    name: 'probe', summary: 's', usage: 'probe [options]', description: 'd', positionals: 'none', examples: ['fat2019 probe'],
    options: { count: { type: 'string', arg: '<n>', help: 'n', default: 2, parse: (raw: string, flag: string) => parseInteger(raw, flag, { min: 1 }) }, cache: CACHE_OPTION },
    async run(o) {
      seen = o;
      return 0;
    },
  });
  assert.equal((await captured(() => runCommand(cmd, ['--count', '5']))).code, 0);
  assert.deepEqual(seen, { count: 5, cache: 'work/features' });
  const bad = await captured(() => runCommand(cmd, ['--count', 'zero']));
  assert.equal(bad.code, 2);
  assert.match(bad.err, /^fat2019 probe: --count must be a number, got "zero"\nRun 'fat2019 probe --help' for usage\.\n$/);
  const unknown = await captured(() => runCommand(cmd, ['--nope']));
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /Unknown option '--nope'/);
  const extra = await captured(() => runCommand(cmd, ['x']));
  assert.equal(extra.code, 2);
  assert.match(extra.err, /unexpected argument "x"/);
  const help = await captured(() => runCommand(cmd, ['-h']));
  assert.equal(help.code, 0);
  assert.match(help.out, /--count <n> +n \(default: 2\)/);
});

test('shared options are declared once: --cache, --run, --backend are the same object in every command', () => {
  for (const name of ['cache', 'backend', 'threads', 'engine']) {
    const specs = new Set(COMMANDS.filter((c) => name in c.options).map((c) => c.options[name]));
    assert.ok(specs.size <= 1 || name === 'cache', `--${name} declared ${specs.size} times`);
  }
  const caches = COMMANDS.filter((c) => 'cache' in c.options).map((c) => defaultText(c.options.cache));
  assert.ok(caches.length >= 4 && caches.every((d) => d === 'work/features'));
  // Every command that takes --arch validates it against the model registry.
  for (const c of COMMANDS.filter((c) => 'arch' in c.options)) {
    assert.ok(c.options.arch.parse ?? c.options.arch.parseAll, `${c.name} --arch has no parse function`);
  }
});
