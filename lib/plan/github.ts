/**
 * A job plan (./jobGraph) as a GitHub Actions workflow: one job per node, a matrix over the folds
 * for each (arch, stage), `needs:` for the dependencies. `needs:` waits for a whole matrix, so a
 * per-fold edge becomes a barrier here (correct, a little less parallel). There is no shared
 * file system: each job downloads the run folder so far (every `run-*` artifact, merged), and
 * uploads what it made (`run.json` plus its fold folder, so the artifact's root is the run
 * folder). Jobs that select noisy clips compute `noisy_scores.csv` and `selected_noisy.csv`
 * themselves, from the downloaded out-of-fold files: every job gets the same ones.
 */
import { posix } from 'node:path';
import { shellQuote, type JobPlan, type PlanJob } from './jobGraph';
import { describe, renderHeader, type RenderOptions } from './renderOptions';

const FOLD = '${{ matrix.fold }}';

function jobLines(plan: JobPlan, job: PlanJob, o: RenderOptions): string[] {
  const command = `${o.launcher} ${job.args.map((a) => (a === '{fold}' ? FOLD : shellQuote(a))).join(' ')}`;
  const lines = [`  ${job.id}:`, ...describe(plan, job).map((l) => `    # ${l}`)];
  if (job.dependsOn.some((d) => d.kind === 'perFold')) lines.push('    # (needs: waits for the whole matrix, also where a per-fold wait would do)');
  if (job.dependsOn.length > 0) lines.push(`    needs: [${job.dependsOn.map((d) => d.on).join(', ')}]`);
  lines.push('    runs-on: ubuntu-latest');
  if (job.kind === 'train') lines.push(`    strategy: { fail-fast: false, matrix: { fold: [${Array.from({ length: job.folds }, (_, f) => f).join(', ')}] } }`);
  const env = Object.entries(o.env ?? {});
  if (env.length > 0) lines.push(`    env: { ${env.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')} }`);
  lines.push(
    '    steps:',
    '      - uses: actions/checkout@v4',
    '      - uses: actions/setup-node@v4',
    '        with: { node-version: 20, cache: npm }',
    '      - run: npm ci',
    ...(o.setup ?? []).map((s) => `      - run: ${s}`),
  );
  if (job.kind !== 'prepare') {
    lines.push(
      '      - uses: actions/download-artifact@v4',
      `        with: { pattern: run-*, path: ${plan.run}, merge-multiple: true }`,
    );
  }
  lines.push(`      - run: ${command}`);
  if (job.kind === 'infer') {
    lines.push(
      '      - uses: actions/upload-artifact@v4',
      `        with: { name: submission, path: ${plan.submission} }`,
    );
  } else {
    const made = job.kind === 'prepare' ? [plan.run] : [posix.join(plan.run, 'run.json'), posix.join(plan.run, job.arch!, `stage${job.stage}`, `fold${FOLD}`)];
    lines.push(
      '      - uses: actions/upload-artifact@v4',
      '        with:',
      `          name: run-${job.id}${job.kind === 'train' ? `-f${FOLD}` : ''}`,
      '          path: |',
      ...made.map((p) => `            ${p}`),
    );
  }
  return lines;
}

/** Files of the GitHub Actions plan: `<run name>.yml`, to copy into .github/workflows/. */
export function renderGithub(plan: JobPlan, o: RenderOptions): Record<string, string> {
  const lines = [
    ...renderHeader(plan, o, 'github').map((l) => `# ${l}`),
    `# Copy to .github/workflows/. Hosted runners are CPUs: use the quick settings or self-hosted GPU runners.`,
    `name: ${plan.name}`,
    'on: workflow_dispatch',
    'jobs:',
  ];
  for (const job of plan.jobs) lines.push(...jobLines(plan, job, o));
  return { [`${plan.name}.yml`]: lines.join('\n') + '\n' };
}
