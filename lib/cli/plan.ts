import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError, type Command } from './command';
import { RUN_FLAGS, planFromRun } from '../plan/fromRun';
import { renderPlan, SCHEDULERS, type Scheduler } from '../plan/render';
import { checkOutputPath } from '../util/outputPath';
import { writeFileAtomicSync } from '../util/atomicWrite';
import { readRunInfo, runInfoPath } from '../run/runFolder';

/** Repeatable string option → its values. */
function many(raw: unknown): string[] {
  return raw === undefined ? [] : (Array.isArray(raw) ? raw : [raw]).map(String);
}

/** `fat2019 plan`: the job graph of a run's recipe for a scheduler (lib/plan). */
export const planCommand: Command = {
  name: 'plan',
  summary: 'Write the job graph of a run for Slurm, Kubernetes or GitHub Actions',
  help: `Usage: fat2019 plan --run <dir> --scheduler <slurm|kubernetes|github> --out <dir> [train options]

Writes the jobs that train a run on a cluster, derived from the recipe's stages: a prepare job
(fat2019 train --prepare: run.json and the folds), one job per (arch, stage, fold), and a final
fat2019 infer. Stage k of fold f waits for the same fold of the stage it starts from (or whose
model pseudo-labels its clips); a stage that selects noisy clips by out-of-fold scores waits for
every fold of the stages the scores come from. Architectures are independent chains.

  slurm       <out>/submit.sh submits <out>/<job>.sbatch: array jobs (one task per fold) with
              aftercorr (per fold) and afterok (every fold) dependencies, --requeue; logs in
              <out>/logs/, "<job> <slurm id>" lines in <out>/jobs.txt
  kubernetes  <out>/jobs.yaml: Indexed Jobs (index = fold) applied at once; each pod's init
              container waits for the done.json files it depends on in the shared run folder
  github      <out>/<run>.yml: a workflow with a fold matrix per (arch, stage) and needs:,
              passing the run folder as artifacts

Paths (--run, --data, --cache, --out) are written as given: they must name the same places
where the jobs run (a shared file system, mounted at the same path; see README "Scaling out").

Options:
  --run <dir>          run folder (required)
  --data <path>        data folder or label CSV (default: the run's, else data/demo)
  --scheduler <name>   slurm | kubernetes | github (required)
  --out <dir>          folder for the plan's files (created when its parent exists; required)
  --arch <list>        architectures, comma-separated (default: the run's, else cnnModel1)
  --recipe, --task, --label-smoothing, --quick, --epochs, --width, --head-units, --mish,
  --channel-stem, --folds, --holdout
                       as fat2019 train: they define the run (passed to the prepare job)
  --cache <dir>        feature cache root every job uses (default: work/features of each job)
  --submission <csv>   the submission the infer job writes (default: <run>/submission.csv)
  --launcher <cmd>     how jobs run the CLI (default: npx fat2019)
  --env <K=V>          environment of every job (repeatable), e.g. FAT2019_THREADS=8
  --sbatch <opt>       slurm: an #SBATCH option for every job (repeatable), e.g. --sbatch=--gres=gpu:1
  --image <name>       kubernetes: the container image (default: registry.example.com/fat2019-ts:latest)
  --volume <c:path>    kubernetes: a ReadWriteMany claim and its mount path (repeatable;
                       default fat2019-shared:/shared)
  --setup <cmd>        github: a step after npm ci in every job (repeatable), e.g. to fetch the data

Examples:
  fat2019 plan --run weights/full --data data/fsdkaggle2019 --arch cnnModel1,vgg16bn --scheduler slurm --out plans/full --sbatch=--gres=gpu:1
  bash plans/full/submit.sh
`,
  options: {
    run: { type: 'string' },
    data: { type: 'string' },
    scheduler: { type: 'string' },
    out: { type: 'string' },
    arch: { type: 'string' },
    ...Object.fromEntries(Object.entries(RUN_FLAGS).map(([k, type]) => [k, { type }])),
    cache: { type: 'string' },
    submission: { type: 'string' },
    launcher: { type: 'string' },
    env: { type: 'string', multiple: true },
    sbatch: { type: 'string', multiple: true },
    image: { type: 'string' },
    volume: { type: 'string', multiple: true },
    setup: { type: 'string', multiple: true },
  },
  async run(values, positionals) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (typeof values.run !== 'string' || values.run === '') throw new UsageError('--run <dir> is required (e.g. --run weights/full)');
    const scheduler = values.scheduler;
    if (typeof scheduler !== 'string' || !(SCHEDULERS as readonly string[]).includes(scheduler)) {
      throw new UsageError(`--scheduler must be one of ${SCHEDULERS.join(', ')}, got ${scheduler === undefined ? 'nothing' : `"${String(scheduler)}"`}`);
    }
    if (typeof values.out !== 'string' || values.out === '') throw new UsageError('--out <dir> is required (the folder for the plan\'s files)');
    const run = values.run;
    const data = typeof values.data === 'string' ? values.data : existsSync(runInfoPath(run)) ? readRunInfo(run).dataDir : 'data/demo';
    const env: Record<string, string> = {};
    for (const e of many(values.env)) {
      const i = e.indexOf('=');
      if (i <= 0) throw new UsageError(`--env must be NAME=value, got "${e}"`);
      env[e.slice(0, i)] = e.slice(i + 1);
    }
    const outDir = values.out;
    if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new UsageError(`--out ${outDir}: is a file; give a folder`);
    if (!existsSync(outDir) && !existsSync(dirname(resolve(outDir)))) throw new UsageError(`--out ${outDir}: its folder ${dirname(outDir)} does not exist; create it first or fix the path`);

    const plan = planFromRun({ run, data, values, submission: typeof values.submission === 'string' ? values.submission : undefined });
    const files = renderPlan(plan, scheduler as Scheduler, {
      planDir: outDir,
      launcher: typeof values.launcher === 'string' ? values.launcher : 'npx fat2019',
      schedulerOptions: many(values.sbatch),
      env,
      image: typeof values.image === 'string' ? values.image : undefined,
      volumes: values.volume === undefined ? undefined : many(values.volume),
      setup: many(values.setup),
    });
    const rules = { option: '--out', inputs: [runInfoPath(run)], protectedDirs: [data] };
    if (!existsSync(outDir)) checkOutputPath(outDir, rules);
    mkdirSync(outDir, { recursive: true });
    const names = Object.keys(files).sort();
    for (const name of names) checkOutputPath(join(outDir, name), rules);
    for (const name of names) writeFileAtomicSync(join(outDir, name), files[name]);
    const trains = plan.jobs.filter((j) => j.kind === 'train');
    process.stdout.write(`${outDir}: ${names.join(', ')}: recipe ${plan.recipe}, ${trains.length} job arrays × ${plan.folds} fold(s) ` +
      `(${plan.archs.join(', ')}), prepare and infer\n`);
    return 0;
  },
};
