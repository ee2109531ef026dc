/**
 * A job plan (./jobGraph) as Slurm batch scripts: one `<job>.sbatch` per node of the graph (an
 * array job with one task per fold for each (arch, stage)), and `submit.sh`, which submits them
 * in order with their dependencies:
 *   per-fold edge → `aftercorr:<array>` (task f waits for task f of the other array only);
 *   barrier       → `afterok:<array>` (waits for every task of the other array).
 * Every job is `--requeue`able and appends to its log, so a preempted or requeued task resumes
 * from its checkpoint and its log keeps both attempts.
 */
import { shellQuote, type JobPlan, type PlanJob } from './jobGraph';
import { describe, renderHeader, type RenderOptions } from './renderOptions';

/** Bash variable holding a job's id in submit.sh. */
function idVar(id: string): string {
  return `job_${id.replace(/-/g, '_')}`;
}

function jobCommand(job: PlanJob, launcher: string): string {
  const args = job.args.map((a) => (a === '{fold}' ? '"$SLURM_ARRAY_TASK_ID"' : shellQuote(a)));
  return `${launcher} ${args.join(' ')}`;
}

function sbatchScript(plan: JobPlan, job: PlanJob, o: RenderOptions): string {
  const logs = `${o.planDir}/logs`;
  const lines = ['#!/bin/bash', `#SBATCH --job-name=${plan.name}-${job.id}`];
  if (job.kind === 'train') lines.push(`#SBATCH --array=0-${job.folds - 1}`);
  lines.push(
    '#SBATCH --requeue',
    '#SBATCH --open-mode=append',
    `#SBATCH --output=${logs}/${job.kind === 'train' ? `${job.id}-%a` : job.id}.out`,
  );
  for (const opt of o.schedulerOptions ?? []) lines.push(`#SBATCH ${opt}`);
  lines.push(...describe(plan, job).map((l) => `# ${l}`));
  for (const [k, v] of Object.entries(o.env ?? {})) lines.push(`export ${k}=${shellQuote(v)}`);
  lines.push(`exec ${jobCommand(job, o.launcher)}`);
  return lines.join('\n') + '\n';
}

/** Files of the Slurm plan, by name (relative to the plan folder). */
export function renderSlurm(plan: JobPlan, o: RenderOptions): Record<string, string> {
  const files: Record<string, string> = {};
  const submit = [
    '#!/bin/bash',
    ...renderHeader(plan, o, 'slurm').map((l) => `# ${l}`),
    `# Run from the folder the plan's paths are relative to: bash ${o.planDir}/submit.sh`,
    '# Prints and writes (jobs.txt) "<job> <slurm id>" per job.',
    'set -euo pipefail',
    `plan=${shellQuote(o.planDir)}`,
    'mkdir -p "$plan/logs"',
    ': > "$plan/jobs.txt"',
    'submit() { # <name> [sbatch options...] <script>: submits, records and echoes the job id',
    '  local name=$1 id; shift',
    '  id=$(sbatch --parsable "$@"); id=${id%%;*}',
    '  echo "$name $id" | tee -a "$plan/jobs.txt" >&2',
    '  echo "$id"',
    '}',
  ];
  for (const job of plan.jobs) {
    files[`${job.id}.sbatch`] = sbatchScript(plan, job, o);
    const deps = job.dependsOn.map((d) => `${d.kind === 'perFold' ? 'aftercorr' : 'afterok'}:$${idVar(d.on)}`);
    const depOpt = deps.length > 0 ? ` --dependency=${deps.join(',')}` : '';
    submit.push(`${idVar(job.id)}=$(submit ${job.id}${depOpt} "$plan/${job.id}.sbatch")`);
  }
  files['submit.sh'] = submit.join('\n') + '\n';
  return files;
}
