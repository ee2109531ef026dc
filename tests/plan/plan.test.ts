/**
 * `fat2019 plan` (lib/plan): the job graph of each recipe against the dependencies the recipes
 * document (lib/train/pipeline/stages.ts), each scheduler's files against golden files
 * (tests/fixtures/plan/; rewrite them with FAT2019_UPDATE_GOLDEN=1 after a deliberate change and
 * review the diff), and the command's usage errors. The plan running on a real Slurm is
 * tests/slurm/plan.slurm.ts (npm run test:slurm).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildJobPlan, type JobPlan } from '../../lib/plan/jobGraph';
import { renderPlan, SCHEDULERS, type RenderOptions } from '../../lib/plan/render';
import { waitFiles } from '../../lib/plan/kubernetes';
import { RECIPES } from '../../lib/train/pipeline/recipes';
import { writeTinyData } from '../support/pipelineFixture';

const ROOT = resolve(__dirname, '..', '..');
const GOLDEN = join(ROOT, 'tests', 'fixtures', 'plan');

/** "job: dep(kind), …" per job: the graph in one readable string per line. */
function edges(plan: JobPlan): string[] {
  return plan.jobs.map((j) => `${j.id}: ${j.dependsOn.map((d) => `${d.on}(${d.kind})`).join(' ')}`.trimEnd());
}

test('plan graph: the warm-up has per-fold stage 2, barriers before stages 3 and 4, independent architectures', () => {
  const plan = buildJobPlan({ run: 'weights/full', data: 'data/d', recipe: RECIPES.warmup, archs: ['cnnModel1', 'vgg16bn'], folds: 10 });
  assert.deepEqual(edges(plan), [
    'prepare:',
    'cnnmodel1-stage1: prepare(allFolds)',
    'cnnmodel1-stage2: cnnmodel1-stage1(perFold)',
    'cnnmodel1-stage3: cnnmodel1-stage1(allFolds) cnnmodel1-stage2(allFolds)',
    'cnnmodel1-stage4: cnnmodel1-stage3(allFolds)',
    'vgg16bn-stage1: prepare(allFolds)',
    'vgg16bn-stage2: vgg16bn-stage1(perFold)',
    'vgg16bn-stage3: vgg16bn-stage1(allFolds) vgg16bn-stage2(allFolds)',
    'vgg16bn-stage4: vgg16bn-stage3(allFolds)',
    'infer: cnnmodel1-stage2(allFolds) cnnmodel1-stage3(allFolds) cnnmodel1-stage4(allFolds) vgg16bn-stage2(allFolds) vgg16bn-stage3(allFolds) vgg16bn-stage4(allFolds)',
  ]);
  assert.ok(plan.jobs.filter((j) => j.kind === 'train').every((j) => j.folds === 10));
  const s3 = plan.jobs.find((j) => j.id === 'vgg16bn-stage3')!;
  assert.deepEqual(s3.args, ['train', '--run', 'weights/full', '--arch', 'vgg16bn', '--stage', '3', '--fold', '{fold}']);
  assert.deepEqual(plan.jobs[0].args, ['train', '--run', 'weights/full', '--data', 'data/d', '--prepare']);
  assert.deepEqual(plan.jobs.at(-1)!.args, ['infer', '--run', 'weights/full', '--out', 'weights/full/submission.csv']);
});

test('plan graph: pseudoLabel, noisyThenCurated and single', () => {
  const graph = (name: keyof typeof RECIPES) => edges(buildJobPlan({ run: 'r', data: 'd', recipe: RECIPES[name], archs: ['cnnModel1'], folds: 5 }));
  // Stage 2 reads only fold f's stage-1 model (its start and its pseudo-labeller): per fold.
  assert.deepEqual(graph('pseudoLabel'), ['prepare:', 'cnnmodel1-stage1: prepare(allFolds)', 'cnnmodel1-stage2: cnnmodel1-stage1(perFold)', 'infer: cnnmodel1-stage2(allFolds)']);
  assert.deepEqual(graph('noisyThenCurated'), ['prepare:', 'cnnmodel1-stage1: prepare(allFolds)', 'cnnmodel1-stage2: cnnmodel1-stage1(perFold)', 'infer: cnnmodel1-stage2(allFolds)']);
  assert.deepEqual(graph('single'), ['prepare:', 'cnnmodel1-stage1: prepare(allFolds)', 'infer: cnnmodel1-stage1(allFolds)']);
  const pseudo = buildJobPlan({ run: 'r', data: 'd', recipe: RECIPES.pseudoLabel, archs: ['cnnModel1'], folds: 5 });
  assert.match(pseudo.jobs[2].dependsOn[0].reason, /pseudo-labels/);
});

test('plan graph: every job comes after the jobs it waits for; bad inputs are refused', () => {
  for (const recipe of Object.values(RECIPES)) {
    const plan = buildJobPlan({ run: 'r', data: 'd', recipe, archs: ['cnnModel1', 'resnet18'], folds: 3 });
    const seen = new Set<string>();
    for (const j of plan.jobs) {
      for (const d of j.dependsOn) assert.ok(seen.has(d.on), `${recipe.name}: ${j.id} waits for ${d.on}, which comes later`);
      assert.ok(!seen.has(j.id), `${j.id} twice`);
      assert.match(j.id, /^[a-z][a-z0-9-]*$/);
      seen.add(j.id);
    }
  }
  assert.throws(() => buildJobPlan({ run: 'r', data: 'd', recipe: RECIPES.single, archs: [], folds: 3 }), /at least one architecture/);
  assert.throws(() => buildJobPlan({ run: 'r', data: 'd', recipe: RECIPES.single, archs: ['cnnModel1'], folds: 0 }), /folds must be an integer >= 1, got 0/);
});

test('kubernetes: a pod waits for its own fold of a per-fold dependency and every fold of a barrier', () => {
  const plan = buildJobPlan({ run: '/shared/runs/full', data: '/shared/data', recipe: RECIPES.warmup, archs: ['cnnModel1'], folds: 3 });
  const job = (id: string) => plan.jobs.find((j) => j.id === id)!;
  assert.deepEqual(waitFiles(plan, job('cnnmodel1-stage1')), ['/shared/runs/full/run.json']);
  assert.deepEqual(waitFiles(plan, job('cnnmodel1-stage2')), ['/shared/runs/full/cnnModel1/stage1/fold$JOB_COMPLETION_INDEX/done.json']);
  assert.deepEqual(waitFiles(plan, job('cnnmodel1-stage4')), [0, 1, 2].map((f) => `/shared/runs/full/cnnModel1/stage3/fold${f}/done.json`));
});

/** The plans the golden files hold: the README's example (warm-up, two architectures) and pseudoLabel. */
const GOLDEN_CASES: { name: string; plan: JobPlan; options: RenderOptions }[] = [
  {
    name: 'warmup',
    plan: buildJobPlan({
      run: '/shared/runs/full', data: '/shared/data/fsdkaggle2019', recipe: RECIPES.warmup, archs: ['cnnModel1', 'vgg16bn'], folds: 10,
      prepareArgs: ['--arch', 'cnnModel1', '--recipe', 'warmup'], commonArgs: ['--cache', '/shared/features'],
    }),
    options: {
      planDir: 'plans/full', launcher: 'npx fat2019', schedulerOptions: ['--gres=gpu:1', '--cpus-per-task=8', '--time=1-00:00:00'],
      env: { FAT2019_THREADS: '8' }, image: 'registry.example.com/fat2019-ts:latest', volumes: ['fat2019-shared:/shared'],
      setup: ['npx fat2019 generate --out /shared/data/fsdkaggle2019 --size small'],
    },
  },
  {
    name: 'pseudoLabel',
    plan: buildJobPlan({ run: 'weights/pl', data: 'data/demo', recipe: RECIPES.pseudoLabel, archs: ['resnet18'], folds: 2, prepareArgs: ['--arch', 'resnet18', '--recipe', 'pseudoLabel', '--quick'] }),
    options: { planDir: 'plans/pl', launcher: 'npx fat2019', setup: ['npx fat2019 generate --out data/demo --size tiny'] },
  },
];

for (const c of GOLDEN_CASES) {
  for (const scheduler of SCHEDULERS) {
    test(`golden: ${c.name} for ${scheduler}`, () => {
      const files = renderPlan(c.plan, scheduler, c.options);
      const dir = join(GOLDEN, c.name, scheduler);
      if (process.env.FAT2019_UPDATE_GOLDEN === '1') {
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
      }
      assert.deepEqual(Object.keys(files).sort(), readdirSync(dir).sort(), `files of ${dir}`);
      for (const [name, text] of Object.entries(files)) assert.equal(text, readFileSync(join(dir, name), 'utf8'), `${dir}/${name} (FAT2019_UPDATE_GOLDEN=1 rewrites it)`);
      if (scheduler === 'slurm') {
        for (const [name, text] of Object.entries(files)) {
          const r = spawnSync('bash', ['-n'], { input: text, encoding: 'utf8' });
          assert.equal(r.status, 0, `${name}: bash -n: ${r.stderr}`);
        }
      }
    });
  }
}

const CLI = join(ROOT, 'bin', 'fat2019.cjs');
function cli(cwd: string, args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8' });
}

test('fat2019 plan: resolves the recipe and folds from the flags and data, passes the run flags to prepare; usage errors exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-plan-'));
  try {
    writeTinyData(join(dir, 'data'), 8, 8);
    mkdirSync(join(dir, 'plans'));
    const ok = cli(dir, ['plan', '--run', 'runs/a', '--data', 'data', '--recipe', 'noisyThenCurated', '--folds', '3', '--width', '0.125', '--quick',
      '--arch', 'cnnModel1,resnet18', '--scheduler', 'slurm', '--out', 'plans/a']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /recipe noisyThenCurated, 4 job arrays × 3 fold\(s\) \(cnnModel1, resnet18\)/);
    const prepare = readFileSync(join(dir, 'plans', 'a', 'prepare.sbatch'), 'utf8');
    assert.match(prepare, /train --run runs\/a --data data --arch cnnModel1 --recipe noisyThenCurated --quick --width 0\.125 --folds 3 --prepare$/m);
    assert.match(readFileSync(join(dir, 'plans', 'a', 'resnet18-stage2.sbatch'), 'utf8'), /#SBATCH --array=0-2/);
    assert.equal(existsSync(join(dir, 'runs', 'a')), false, 'plan must not create the run');

    const usage: [string[], RegExp][] = [
      [['--run', 'r', '--out', 'plans/b'], /--scheduler <name> is required \(slurm, kubernetes, github\)/],
      [['--run', 'r', '--out', 'plans/b', '--scheduler', 'pbs'], /--scheduler must be one of slurm, kubernetes, github, got "pbs"/],
      [['--run', 'r', '--scheduler', 'slurm'], /--out <dir> is required/],
      [['--run', 'r', '--data', 'data', '--scheduler', 'slurm', '--out', 'data'], /--out data: inside the data folder data/],
      [['--run', 'r', '--data', 'data', '--scheduler', 'slurm', '--out', 'data/train_curated.csv'], /--out data\/train_curated\.csv: .*data folder/],
      [['--run', 'r', '--data', 'data', '--scheduler', 'slurm', '--out', 'plans/b', '--arch', 'cnnModel1,alexnet'], /--arch must be a comma-separated list of .*got "alexnet"/],
      [['--run', 'r', '--data', 'data', '--scheduler', 'slurm', '--out', 'plans/b', '--env', 'NOEQUALS'], /--env must be NAME=value/],
    ];
    for (const [args, message] of usage) {
      const r = cli(dir, ['plan', ...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const inData = cli(dir, ['plan', '--run', 'r', '--data', 'data', '--scheduler', 'github', '--out', 'data/plan']);
    assert.equal(inData.status, 2);
    assert.match(inData.stderr, /--out data\/plan: inside the data folder data/);
    assert.equal(existsSync(join(dir, 'data', 'plan')), false);
    // A plan folder is rewritten (plan.json marks it); a folder holding other files is not.
    const plan = JSON.parse(readFileSync(join(dir, 'plans', 'a', 'plan.json'), 'utf8'));
    assert.equal(plan.scheduler, 'slurm');
    assert.equal(plan.jobs.length, 6);
    const again = cli(dir, ['plan', '--run', 'runs/a', '--data', 'data', '--recipe', 'noisyThenCurated', '--scheduler', 'github', '--out', 'plans/a']);
    assert.equal(again.status, 0, again.stderr);
    writeFileSync(join(dir, 'plans', 'notes.txt'), 'mine');
    const other = cli(dir, ['plan', '--run', 'runs/a', '--data', 'data', '--scheduler', 'slurm', '--out', 'plans']);
    assert.equal(other.status, 2);
    assert.match(other.stderr, /--out plans: not empty and not a plan folder/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the README's example plans are what fat2019 plan computes from the same flags (on data of the same layout)", async () => {
  const { PLAN_EXAMPLE, GITHUB_EXAMPLE } = await import('../../scripts/readme-plan');
  const { planFromRun } = await import('../../lib/plan/fromRun');
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-plan-readme-'));
  try {
    const data = join(dir, 'data');
    writeTinyData(data, 8, 8); // Kaggle layout with a noisy set, as FSDKaggle2019 and the demo
    const withData = (plan: JobPlan) => JSON.parse(JSON.stringify(plan).split(JSON.stringify(data).slice(1, -1)).join('DATA')) as JobPlan;
    const full = planFromRun({ run: '/shared/runs/full', data, archs: ['cnnModel1', 'vgg16bn'], runFlags: {}, cache: '/shared/features' });
    const fullReadme = PLAN_EXAMPLE.plan();
    assert.deepEqual(withData(full), JSON.parse(JSON.stringify(fullReadme).split('/shared/data/fsdkaggle2019').join('DATA')));
    assert.match(PLAN_EXAMPLE.command, /--arch cnnModel1,vgg16bn --cache \/shared\/features/);
    const ci = planFromRun({ run: 'weights/ci', data, runFlags: { quick: true }, cache: undefined });
    assert.deepEqual(withData(ci), JSON.parse(JSON.stringify(GITHUB_EXAMPLE.plan()).split('data/demo').join('DATA')));
    assert.match(GITHUB_EXAMPLE.command, /--run weights\/ci --data data\/demo --quick --scheduler github/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
