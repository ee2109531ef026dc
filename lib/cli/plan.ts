import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, defineCommand } from './command';
import { CACHE_OPTION, DATA_OPTION, RUN_OPTION } from './options';
import { DEFAULT_FEATURE_CACHE } from '../data/featureCache';
import { TRAIN_CONFIG_OPTIONS } from '../train/pipeline/trainOptions';
import { planArchs, planFromRun } from '../plan/fromRun';
import { PLAN_FOLDER, PLAN_JSON, renderPlan, SCHEDULERS, type Scheduler } from '../plan/render';
import { checkOutputFolder } from '../util/outputPath';
import { writeFileAtomicSync } from '../util/atomicWrite';
import { parseChoice } from '../util/options';
import { readRunInfo, runInfoPath } from '../run/runFolder';

/** The training options that define a run; plan passes them to the prepare job as given. */
const { arch: _arch, ...RUN_DEFINING } = TRAIN_CONFIG_OPTIONS;

/** `fat2019 plan`: the job graph of a run's recipe for a scheduler (lib/plan). */
export const planCommand = defineCommand({
  name: 'plan',
  summary: 'Write the job graph of a run for Slurm, Kubernetes or GitHub Actions',
  usage: 'plan --run <dir> --scheduler <slurm|kubernetes|github> --out <dir> [train options]',
  description: `Writes the jobs that train a run on a cluster, derived from the recipe's stages: a prepare job
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
The training options define the run, as for fat2019 train; they go to the prepare job.`,
  options: {
    run: RUN_OPTION,
    data: { ...DATA_OPTION, arg: '<path>', help: 'data folder or label CSV', defaultText: "the run's, else data/demo" },
    scheduler: {
      type: 'string', arg: '<name>', help: SCHEDULERS.join(' | '), required: SCHEDULERS.join(', '),
      parse: (raw: string, flag: string) => parseChoice<Scheduler>(raw, flag, SCHEDULERS),
    },
    out: { type: 'string', arg: '<dir>', help: "folder for the plan's files: a new or empty one, or a plan folder (its plan.json holds the job graph)", required: "the folder for the plan's files" },
    arch: {
      type: 'string', arg: '<list>', help: 'architectures, comma-separated (independent chains)', defaultText: "the run's, else cnnModel1",
      parse: (raw: string) => planArchs(raw, 'cnnModel1'),
    },
    ...RUN_DEFINING,
    cache: { ...CACHE_OPTION, help: 'feature cache root every job uses (put it on the shared file system)' },
    submission: { type: 'string', arg: '<csv>', help: 'the submission the infer job writes', defaultText: '<run>/submission.csv' },
    launcher: { type: 'string', arg: '<cmd>', help: 'how jobs run the CLI', default: 'npx fat2019' },
    env: { type: 'string', multiple: true, arg: '<K=V>', help: 'environment of every job (repeatable), e.g. FAT2019_THREADS=8' },
    sbatch: { type: 'string', multiple: true, arg: '<opt>', help: 'slurm: an #SBATCH option of every job (repeatable), e.g. --sbatch=--gres=gpu:1' },
    image: { type: 'string', arg: '<name>', help: 'kubernetes: the container image', defaultText: 'registry.example.com/fat2019-ts:latest' },
    volume: { type: 'string', multiple: true, arg: '<claim:path>', help: 'kubernetes: a ReadWriteMany claim and its mount path (repeatable)', defaultText: 'fat2019-shared:/shared' },
    setup: { type: 'string', multiple: true, arg: '<cmd>', help: 'github: a step after npm ci in every job (repeatable), e.g. to fetch the data' },
  },
  positionals: 'none',
  examples: [
    'fat2019 plan --run weights/full --data data/fsdkaggle2019 --arch cnnModel1,vgg16bn --scheduler slurm --out plans/full --sbatch=--gres=gpu:1',
    'bash plans/full/submit.sh',
  ],
  async run(o, _positionals, raw) {
    const run = o.run;
    const data = o.data ?? (existsSync(runInfoPath(run)) ? readRunInfo(run).dataDir : 'data/demo');
    const env: Record<string, string> = {};
    for (const e of o.env ?? []) {
      const i = e.indexOf('=');
      if (i <= 0) throw new UsageError(`--env must be NAME=value, got "${e}"`);
      env[e.slice(0, i)] = e.slice(i + 1);
    }
    const outDir = o.out;
    // The output rule, before any work: a new or empty folder, or a plan folder written before.
    checkOutputFolder(outDir, { option: '--out', kind: PLAN_FOLDER, inputs: [runInfoPath(run)], protectedDirs: [data] });

    // The run-defining flags as given (raw), so the prepare job gets exactly what was typed.
    const runFlags = Object.fromEntries(Object.keys(RUN_DEFINING).map((k) => [k, raw[k]]));
    // The jobs' own default is the same folder: only another one is written into the plan.
    const cache = o.cache === DEFAULT_FEATURE_CACHE ? undefined : o.cache;
    const plan = planFromRun({ run, data, archs: o.arch, runFlags, cache, submission: o.submission });
    const files = renderPlan(plan, o.scheduler, {
      planDir: outDir, launcher: o.launcher, schedulerOptions: o.sbatch ?? [], env, image: o.image, volumes: o.volume, setup: o.setup ?? [],
    });
    mkdirSync(outDir, { recursive: true });
    const names = Object.keys(files).sort();
    for (const name of names) writeFileAtomicSync(join(outDir, name), files[name]);
    // Written last: it marks the folder as a complete plan.
    writeFileAtomicSync(join(outDir, PLAN_JSON), JSON.stringify({ scheduler: o.scheduler, ...plan }, null, 2) + '\n');
    const trains = plan.jobs.filter((j) => j.kind === 'train');
    process.stdout.write(`${outDir}: ${names.join(', ')}: recipe ${plan.recipe}, ${trains.length} job arrays × ${plan.folds} fold(s) ` +
      `(${plan.archs.join(', ')}), prepare and infer\n`);
    return 0;
  },
});
