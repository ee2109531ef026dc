/**
 * `fat2019 plan --scheduler slurm` on a real Slurm: run by `npm run test:slurm`
 * (scripts/test-slurm.sh starts a one-node cluster and sets SLURM_CONF; not part of `npm test`).
 *
 * The plans of a tiny demo run (2 folds, width 1/8) of the warm-up and pseudoLabel recipes are
 * submitted together (they share the feature cache: several writers), one task of warm-up stage 1
 * is killed mid-epoch and requeued (`scontrol requeue`, as a preemption does), and then:
 * - every job of both plans COMPLETED with exit code 0, the requeued one after one restart, and
 *   its second attempt took over the first one's job lock and resumed from its checkpoint;
 * - each submission is byte-identical to the same run trained and inferred in one process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'fat2019.cjs');
/** One wasm thread per job: the jobs and the one-process run compute alike, and two jobs share the 2 slots. */
const ENV = { ...process.env, FAT2019_THREADS: '1' };
const RUN_FLAGS = ['--quick', '--epochs', '3', '--width', '0.125', '--folds', '2', '--arch', 'cnnModel1'];
const RECIPES = ['warmup', 'pseudoLabel'] as const;

function fat2019(cwd: string, args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, env: ENV, encoding: 'utf8' });
  assert.equal(r.status, 0, `fat2019 ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function slurm(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, env: ENV, encoding: 'utf8' });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `scontrol show job <id>` of an array or single job → one record per task. */
function jobRecords(id: string): { id: string; state: string; exitCode: string; restarts: number }[] {
  const text = slurm('scontrol', ['show', 'job', id]);
  return text.split(/\n\s*\n/).filter((b) => b.includes('JobId=')).map((b) => ({
    // An array task: <array job id>_<task id> (its own JobId is another number).
    id: /ArrayJobId=(\S+)/.test(b) ? `${/ArrayJobId=(\S+)/.exec(b)![1]}_${/ArrayTaskId=(\S+)/.exec(b)![1]}` : /JobId=(\S+)/.exec(b)![1],
    state: /JobState=(\S+)/.exec(b)![1],
    exitCode: /ExitCode=(\S+)/.exec(b)![1],
    restarts: Number(/Restarts=(\d+)/.exec(b)![1]),
  }));
}

/** The "<job> <slurm id>" lines submit.sh wrote. */
function submittedJobs(planDir: string): Map<string, string> {
  return new Map(readFileSync(join(planDir, 'jobs.txt'), 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string]));
}

test('Slurm: the warm-up and pseudoLabel plans run to the one-process submissions, a requeued task resumes', { timeout: 25 * 60_000 }, async (t) => {
  assert.ok(process.env.SLURM_CONF, 'SLURM_CONF is not set: run npm run test:slurm (scripts/test-slurm.sh starts the cluster)');
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-slurm-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const started = Date.now();
  fat2019(dir, ['generate', '--out', 'data', '--size', 'tiny', '--seed', '7']);

  mkdirSync(join(dir, 'plans'));
  for (const recipe of RECIPES) {
    fat2019(dir, ['plan', '--run', `runs/${recipe}`, '--data', 'data', '--recipe', recipe, ...RUN_FLAGS, '--cache', 'features',
      '--scheduler', 'slurm', '--out', `plans/${recipe}`, '--launcher', `${process.execPath} ${CLI}`, '--env', 'FAT2019_THREADS=1', '--sbatch=--cpus-per-task=1']);
  }
  const jobs = new Map<string, Map<string, string>>();
  for (const recipe of RECIPES) {
    execFileSync('bash', [`plans/${recipe}/submit.sh`], { cwd: dir, env: ENV, stdio: ['ignore', 'ignore', 'inherit'] });
    jobs.set(recipe, submittedJobs(join(dir, 'plans', recipe)));
  }
  const allIds = [...jobs.values()].flatMap((m) => [...m.values()]);
  t.after(() => spawnSync('scancel', allIds, { env: ENV }));

  // Preempt warm-up stage 1, fold 0 mid-epoch: once its first epoch's checkpoint exists and
  // before the job is done, requeue it (Slurm kills it and queues it again).
  const fold0 = join(dir, 'runs', 'warmup', 'cnnModel1', 'stage1', 'fold0');
  const stage1 = jobs.get('warmup')!.get('cnnmodel1-stage1')!;
  const deadline = Date.now() + 10 * 60_000;
  while (!existsSync(join(fold0, 'last', 'checkpoint.json'))) {
    assert.ok(Date.now() < deadline, 'warm-up stage 1 fold 0 wrote no checkpoint within 10 minutes');
    await sleep(100);
  }
  const task = jobRecords(stage1).find((r) => r.id === `${stage1}_0`);
  assert.ok(task, `no task ${stage1}_0 in scontrol show job ${stage1}`);
  const epochAtKill = JSON.parse(readFileSync(join(fold0, 'last', 'state.json'), 'utf8')).epoch as number;
  slurm('scontrol', ['requeue', `${stage1}_0`]);
  assert.equal(existsSync(join(fold0, 'done.json')), false, 'the job finished before it could be killed: no mid-training kill happened');
  assert.ok(epochAtKill < 3, `checkpoint of epoch ${epochAtKill} of 3`);

  // Wait for both plans.
  while (slurm('squeue', ['-h', '-o', '%i', '-j', allIds.join(',')]).trim() !== '') {
    assert.ok(Date.now() < deadline + 10 * 60_000, `jobs still queued or running after 20 minutes:\n${slurm('squeue', [])}`);
    await sleep(1000);
  }
  const clusterSeconds = (Date.now() - started) / 1000;

  for (const [recipe, ids] of jobs) {
    for (const [name, id] of ids) {
      for (const r of jobRecords(id)) {
        assert.equal(r.state, 'COMPLETED', `${recipe} ${name} (${r.id}): ${r.state}; log in ${dir}/plans/${recipe}/logs`);
        assert.equal(r.exitCode, '0:0', `${recipe} ${name} (${r.id}): exit code ${r.exitCode}`);
      }
    }
  }
  const requeued = jobRecords(stage1).find((r) => r.id === `${stage1}_0`)!;
  assert.equal(requeued.restarts, 1, `${requeued.id} restarts`);
  const log = readFileSync(join(dir, 'plans', 'warmup', 'logs', 'cnnmodel1-stage1-0.out'), 'utf8');
  assert.match(log, /stage 1 fold 0: resumed from its checkpoint/, `the requeued task did not resume:\n${log}`);
  // Its first attempt was killed holding the job's lock; the second took it over as the next
  // attempt of the same Slurm job (SLURM_RESTART_COUNT), as it would on another node.
  assert.match(log, /lock of attempt 0 of Slurm job \d+ \(pid \d+ on [^)]+\) taken over by its attempt 1/, `no lock takeover in the log:\n${log}`);

  // The same runs in one process, then the submissions compared byte for byte.
  const oneStarted = Date.now();
  for (const recipe of RECIPES) {
    fat2019(dir, ['train', '--run', `single/${recipe}`, '--data', 'data', '--recipe', recipe, ...RUN_FLAGS, '--cache', 'features', '--quiet']);
    fat2019(dir, ['infer', '--run', `single/${recipe}`, '--out', `single/${recipe}/submission.csv`, '--cache', 'features', '--quiet']);
    const cluster = readFileSync(join(dir, 'runs', recipe, 'submission.csv'));
    const single = readFileSync(join(dir, 'single', recipe, 'submission.csv'));
    assert.ok(cluster.equals(single), `${recipe}: the Slurm run's submission differs from the one-process run's`);
  }
  process.stderr.write(`slurm test: both plans on the cluster in ${clusterSeconds.toFixed(0)} s (task ${stage1}_0 requeued after epoch ${epochAtKill}), ` +
    `the one-process runs in ${((Date.now() - oneStarted) / 1000).toFixed(0)} s\n`);
});
