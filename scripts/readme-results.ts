/**
 * The README's result blocks (the demo summary, the infer and tag examples, the list of commands
 * that take --backend) come from ONE recorded run, so they cannot contradict each other:
 *
 *   npx tsx scripts/readme-results.ts --run weights/demo    # after `npm start`: record + rewrite README.md
 *   npx tsx scripts/readme-results.ts --check               # README.md == render(fixture)? blocks agree?
 *   npx tsx scripts/readme-results.ts --render              # re-render from the fixture (e.g. after a new command)
 *
 * `--run` reads `<run>/summary.json`, runs the README's `fat2019 infer` and `fat2019 tag`
 * commands on that run, and records everything in tests/fixtures/readme-run/ (small text files,
 * committed); then it rewrites the blocks between `<!-- readme-results:NAME -->` and
 * `<!-- /readme-results:NAME -->` in README.md. tests/project/readme.test.ts runs the same checks as
 * `--check`: the README equals what the fixture renders, and the fixture's numbers agree
 * (summary vs infer scores, model counts, tag probabilities vs the submission's rows).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { COMMANDS } from '../lib/cli/commands';
import { defaultText, optionLabel, type OptionSpec } from '../lib/util/options';
import { formatMainJobSummary, type MainJobSummary } from '../lib/job/index';
import { readCsvTable } from '../lib/data/labels';
import { renderPlanBlocks } from './readme-plan';

const ROOT = resolve(__dirname, '..');
const FIXTURE_DIR = join(ROOT, 'tests', 'fixtures', 'readme-run');
export const README = join(ROOT, 'README.md');

/** Where and how the fixture was recorded. */
export interface RecordedMeta {
  /** YYYY-MM-DD. */
  recordedAt: string;
  machine: string;
  /** The commands whose outputs the fixture holds, as a reader would type them. */
  commands: { demo: string; infer: string; tag: string };
  /** Truth labels of the tagged clips (test_post_competition.csv), for the example's caption. */
  tagTruth: Record<string, string[]>;
}

/** Everything the blocks are rendered from. */
export interface RecordedRun {
  meta: RecordedMeta;
  summary: MainJobSummary;
  /** stdout of the infer command. */
  inferOutput: string;
  /** stdout of the tag command. */
  tagOutput: string;
  /** The submission's rows of the tagged clips: header + rows (CSV text). */
  submissionRows: string;
}

export function readFixture(dir = FIXTURE_DIR): RecordedRun {
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return {
    meta: JSON.parse(read('recorded.json')) as RecordedMeta,
    summary: JSON.parse(read('summary.json')) as MainJobSummary,
    inferOutput: read('infer.txt'),
    tagOutput: read('tag.txt'),
    submissionRows: read('submission-rows.csv'),
  };
}

function writeFixture(run: RecordedRun, dir = FIXTURE_DIR): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'recorded.json'), JSON.stringify(run.meta, null, 2) + '\n');
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(run.summary, null, 2) + '\n');
  writeFileSync(join(dir, 'infer.txt'), run.inferOutput);
  writeFileSync(join(dir, 'tag.txt'), run.tagOutput);
  writeFileSync(join(dir, 'submission-rows.csv'), run.submissionRows);
}

/** "`a`, `b` and `c`". */
function listing(names: string[]): string {
  const q = names.map((n) => `\`${n}\``);
  return q.length <= 1 ? q.join('') : `${q.slice(0, -1).join(', ')} and ${q[q.length - 1]}`;
}

/** The commands (from the CLI registry) that take an option. */
export function commandsTaking(option: string): string[] {
  return COMMANDS.filter((c) => option in c.options).map((c) => c.name);
}

/** A help sentence as one Markdown table cell (tables inside it become `<br>` lines). */
function cell(text: string): string {
  return text.split('\n').map((l) => l.trim()).join('<br>').replace(/\|/g, '\\|');
}

/** Every command's options as a collapsed Markdown table, from the CLI's declarations. */
function optionTables(): string {
  return COMMANDS.map((c) => {
    const rows = Object.entries(c.options).map(([name, spec]: [string, OptionSpec]) => {
      const help = typeof spec.help === 'function' ? spec.help() : spec.help;
      const def = defaultText(spec);
      return `| \`${optionLabel(name, spec).replace(/\|/g, '\\|')}\` | ${cell(help)}${spec.required !== undefined ? ' (required)' : ''} | ${def === undefined ? '' : cell(def)} | ${spec.config ? `\`${spec.config}\`` : ''} |`;
    });
    return [`<details><summary><code>fat2019 ${c.name}</code>: ${c.summary}</summary>`, '', '| option | what it does | default | config field |', '|---|---|---|---|', ...rows, '', '</details>'].join('\n');
  }).join('\n');
}

/** Each block's text (what goes between its markers), from the recorded run. */
export function renderBlocks(run: RecordedRun): Record<string, string> {
  const { meta, summary } = run;
  const provenance = `(Recorded ${meta.recordedAt} on ${meta.machine}: \`${meta.commands.demo}\`; ` +
    'the blocks below come from the same run, regenerated by `npx tsx scripts/readme-results.ts --run weights/demo`.)';
  const tagged = Object.keys(meta.tagTruth);
  const captions = tagged.map((f) => meta.tagTruth[f].join(' + '));
  return {
    'demo-summary': ['```', formatMainJobSummary(summary).trim(), '```', '', provenance].join('\n'),
    'infer-example': ['```bash', meta.commands.infer, '```', 'Output (the demo run above):', '```', run.inferOutput.trimEnd(), '```'].join('\n'),
    'tag-example': [
      '```bash',
      meta.commands.tag,
      '```',
      `Output (${tagged.length === 2 ? 'two' : tagged.length} test clips of the demo set, labelled ${captions.join(' and ')}; same run):`,
      '```',
      run.tagOutput.trimEnd(),
      '```',
    ].join('\n'),
    ...renderPlanBlocks(),
    'cli-options': optionTables(),
    'backend-commands': `${listing(commandsTaking('backend'))} take \`--backend\` and \`--threads\` (${listing(COMMANDS.filter((c) => !('backend' in c.options)).map((c) => c.name))} do not).`,
  };
}

const MARK = (name: string) => [`<!-- readme-results:${name} -->`, `<!-- /readme-results:${name} -->`];

/** The text between a block's markers, or null when the markers are missing. */
function blockText(readme: string, name: string): string | null {
  const [open, close] = MARK(name);
  const a = readme.indexOf(open);
  const b = readme.indexOf(close);
  if (a < 0 || b < a) return null;
  return readme.slice(a + open.length, b).replace(/^\n/, '').replace(/\n$/, '');
}

/** `readme` with every block replaced by its rendering (markers must exist). */
export function applyBlocks(readme: string, blocks: Record<string, string>): string {
  let out = readme;
  for (const [name, text] of Object.entries(blocks)) {
    const [open, close] = MARK(name);
    const a = out.indexOf(open);
    const b = out.indexOf(close);
    if (a < 0 || b < a) throw new Error(`README.md: markers ${open} … ${close} not found`);
    // Inline blocks (one line, inside a sentence) stay inline.
    const inline = !text.includes('\n') && out[a + open.length] !== '\n';
    out = out.slice(0, a + open.length) + (inline ? text : `\n${text}\n`) + out.slice(b);
  }
  return out;
}

/** Problems of the README against the fixture: each block must equal its rendering. */
export function readmeProblems(readme: string, run: RecordedRun): string[] {
  const problems: string[] = [];
  for (const [name, text] of Object.entries(renderBlocks(run))) {
    const found = blockText(readme, name);
    if (found === null) problems.push(`README.md: block "${name}" (markers <!-- readme-results:${name} -->) is missing`);
    else if (found !== text) problems.push(`README.md: block "${name}" does not match its source (tests/fixtures/readme-run): run npx tsx scripts/readme-results.ts --render (or --run weights/demo after a new demo run)`);
  }
  return problems;
}

/** lwlrap per split name from the infer command's score table ("Public 66 0.681955"). */
export function parseScoreTable(text: string): Record<string, { clips: number; lwlrap: number }> {
  const out: Record<string, { clips: number; lwlrap: number }> = {};
  for (const m of text.matchAll(/^\s+(\S+)\s+(\d+)\s+([0-9.]+)\s*$/gm)) out[m[1]] = { clips: Number(m[2]), lwlrap: Number(m[3]) };
  return out;
}

/** Tag output → file → [label, probability] in rank order. */
export function parseTagOutput(text: string): Record<string, [string, number][]> {
  const out: Record<string, [string, number][]> = {};
  let current: string | null = null;
  for (const line of text.split('\n')) {
    const head = /^(\S.*?)\s+\(([0-9.]+) s\)$/.exec(line);
    const row = /^\s+\d+\s+([0-9.]+)\s+(\S+)\s*$/.exec(line);
    if (head) out[(current = head[1])] = [];
    else if (row && current) out[current].push([row[2], Number(row[1])]);
  }
  return out;
}

/**
 * Disagreements inside the recorded run: the summary's test lwlrap vs the infer command's
 * scores (same 4 decimals), the model counts, the tagged clips' probabilities vs their rows
 * in the submission (±1e-4), and tagged clips that the truth or the submission lacks.
 */
export function consistencyProblems(run: RecordedRun): string[] {
  const problems: string[] = [];
  const { summary } = run;
  const scores = parseScoreTable(run.inferOutput);
  if (!summary.test) problems.push('summary.json has no test scores');
  else {
    const want: Record<string, number> = { all: summary.test.model.overall, ...summary.test.model.perSplit };
    for (const [split, value] of Object.entries(want)) {
      const got = scores[split];
      if (!got) problems.push(`infer output has no "${split}" row (summary: ${value.toFixed(4)})`);
      else if (got.lwlrap.toFixed(4) !== value.toFixed(4)) problems.push(`test lwlrap ${split}: summary ${value.toFixed(4)}, infer ${got.lwlrap.toFixed(4)}`);
    }
  }
  const summaryModels = /^(\d+) models/.exec(summary.ensemble)?.[1];
  const inferModels = /(\d+) model\(s\)/.exec(run.inferOutput)?.[1];
  if (summaryModels === undefined || summaryModels !== inferModels) problems.push(`models: summary "${summary.ensemble}", infer ${inferModels ?? '?'} model(s)`);

  const { header, records } = parseCsv(run.submissionRows);
  const rows = new Map(records.map((r) => [r[0], r] as [string, string[]]));
  const tags = parseTagOutput(run.tagOutput);
  for (const fname of Object.keys(run.meta.tagTruth)) {
    const file = Object.keys(tags).find((f) => f.endsWith(`/${fname}`) || f === fname);
    if (!file) {
      problems.push(`tag output has no clip ${fname}`);
      continue;
    }
    const row = rows.get(fname);
    if (!row) {
      problems.push(`submission rows lack ${fname}`);
      continue;
    }
    for (const [label, p] of tags[file]) {
      const col = header.indexOf(label);
      const q = col > 0 ? Number(row[col]) : NaN;
      if (!(Math.abs(q - p) <= 1e-4)) problems.push(`${fname} ${label}: tag ${p.toFixed(4)}, submission ${Number.isFinite(q) ? q.toFixed(4) : 'missing'}`);
    }
  }
  return problems;
}

function parseCsv(text: string): { header: string[]; records: string[][] } {
  const lines = text.trim().split('\n').map((l) => l.split(','));
  return { header: lines[0] ?? [], records: lines.slice(1) };
}

function run(args: string[], cwd: string): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'fat2019.cjs'), ...args], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`fat2019 ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr}`);
  return r.stdout;
}

/**
 * Records a finished run: its summary, the README's infer and tag commands run on it (paths as
 * given, relative to `cwd`), the truth labels of the tagged clips and their submission rows.
 */
function recordRun(runDir: string, opts: { cwd?: string; dataDir?: string; demoCommand?: string; machine?: string; tagClips?: string[] } = {}): RecordedRun {
  const cwd = opts.cwd ?? process.cwd();
  const summary = JSON.parse(readFileSync(join(cwd, runDir, 'summary.json'), 'utf8')) as MainJobSummary;
  const dataDir = opts.dataDir ?? summary.dataDir;
  const truth = readCsvTable(join(cwd, dataDir, 'test_post_competition.csv'), 'truth file');
  const fcol = truth.header.indexOf('fname');
  const lcol = truth.header.indexOf('labels');
  // By default the tag example shows the first two test clips of the truth file.
  const clips = opts.tagClips ?? truth.records.slice(0, 2).map((r) => r.fields[fcol]);
  const inferArgs = ['infer', '--run', runDir, '--data', dataDir, '--score'];
  const tagArgs = ['tag', '--run', runDir, '--top', '3', ...clips.map((c) => `${dataDir}/test/${c}`)];
  const inferOutput = run([...inferArgs, '--quiet'], cwd);
  const tagOutput = run([...tagArgs, '--quiet'], cwd);
  const tagTruth: Record<string, string[]> = {};
  for (const c of clips) {
    const rec = truth.records.find((r) => r.fields[fcol] === c);
    if (!rec) throw new Error(`${dataDir}/test_post_competition.csv: no row for ${c}`);
    tagTruth[c] = rec.fields[lcol].split(',').map((s) => s.trim());
  }
  const sub = readFileSync(join(cwd, runDir, 'submission.csv'), 'utf8').trim().split('\n');
  const submissionRows = [sub[0], ...sub.slice(1).filter((l) => clips.includes(l.split(',')[0]))].join('\n') + '\n';
  const cpu = cpus();
  return {
    meta: {
      recordedAt: new Date().toISOString().slice(0, 10),
      machine: opts.machine ?? `${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'})`,
      commands: { demo: opts.demoCommand ?? 'npm start', infer: `fat2019 ${inferArgs.join(' ')}`, tag: `fat2019 ${tagArgs.join(' ')}` },
      tagTruth,
    },
    summary,
    inferOutput,
    tagOutput,
    submissionRows,
  };
}

function main(argv: string[]): number {
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (argv.includes('--help') || argv.length === 0) {
    process.stdout.write('Usage: npx tsx scripts/readme-results.ts --run weights/demo [--data data/demo] [--clips a.wav,b.wav] [--demo-command "npm start"] [--machine TEXT]\n' +
      '       npx tsx scripts/readme-results.ts --check | --render\n');
    return argv.length === 0 ? 2 : 0;
  }
  const runDir = arg('--run');
  if (runDir) {
    if (!existsSync(join(runDir, 'summary.json'))) throw new Error(`${runDir}/summary.json not found: run the demo first (npm start)`);
    const clips = arg('--clips')?.split(',').map((c) => c.trim()).filter(Boolean);
    const recorded = recordRun(runDir, { dataDir: arg('--data'), demoCommand: arg('--demo-command'), machine: arg('--machine'), tagClips: clips });
    const problems = consistencyProblems(recorded);
    if (problems.length > 0) throw new Error(`the run's outputs disagree, README not changed:\n  ${problems.join('\n  ')}`);
    writeFixture(recorded);
    writeFileSync(README, applyBlocks(readFileSync(README, 'utf8'), renderBlocks(recorded)));
    process.stdout.write(`recorded ${runDir} into ${FIXTURE_DIR} and rewrote the README blocks\n`);
    return 0;
  }
  if (argv.includes('--render')) {
    // The code-derived blocks changed (e.g. a new command): re-render from the recorded run.
    const recorded = readFixture();
    writeFileSync(README, applyBlocks(readFileSync(README, 'utf8'), renderBlocks(recorded)));
    process.stdout.write(`rewrote the README blocks from ${FIXTURE_DIR}\n`);
    return 0;
  }
  if (argv.includes('--check')) {
    const recorded = readFixture();
    const problems = [...consistencyProblems(recorded), ...readmeProblems(readFileSync(README, 'utf8'), recorded)];
    process.stdout.write(problems.length === 0 ? 'README result blocks match tests/fixtures/readme-run\n' : problems.join('\n') + '\n');
    return problems.length === 0 ? 0 : 1;
  }
  process.stderr.write('give --run <dir> or --check\n');
  return 2;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`readme-results: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
