/**
 * The README's "Scaling out" blocks, rendered by lib/plan (what `fat2019 plan` writes), so the
 * README shows the command's real output and cannot drift from it: the dependency table of
 * every recipe, and the Slurm, Kubernetes and GitHub Actions plans of one example run.
 * scripts/readme-results.ts puts them between their `<!-- readme-results:scaling-... -->`
 * markers; tests/project/readme.test.ts checks them.
 */
import { buildJobPlan, stageDependencies, type JobPlan } from '../lib/plan/jobGraph';
import { renderPlan, type RenderOptions } from '../lib/plan/render';
import { RECIPES, RECIPE_NAMES } from '../lib/train/pipeline/recipes';

/** The example: the reference's ensemble (two networks, 10 folds) on a shared file system. */
export const PLAN_EXAMPLE = {
  command: 'fat2019 plan --run /shared/runs/full --data /shared/data/fsdkaggle2019 --arch cnnModel1,vgg16bn --cache /shared/features \\\n' +
    '  --scheduler slurm --out plans/full --sbatch=--gres=gpu:1 --sbatch=--cpus-per-task=8 --env FAT2019_THREADS=8',
  kubernetesCommand: 'fat2019 plan --run /shared/runs/full --data /shared/data/fsdkaggle2019 --arch cnnModel1,vgg16bn --cache /shared/features \\\n' +
    '  --scheduler kubernetes --out plans/full-k8s --volume fat2019-shared:/shared --env FAT2019_THREADS=8',
  plan: (): JobPlan => buildJobPlan({
    run: '/shared/runs/full', data: '/shared/data/fsdkaggle2019', recipe: RECIPES.warmup, archs: ['cnnModel1', 'vgg16bn'], folds: 10,
    prepareArgs: ['--arch', 'cnnModel1'], commonArgs: ['--cache', '/shared/features'],
  }),
  options: (planDir: string): RenderOptions => ({
    planDir, launcher: 'npx fat2019', schedulerOptions: ['--gres=gpu:1', '--cpus-per-task=8'], env: { FAT2019_THREADS: '8' },
    volumes: ['fat2019-shared:/shared'],
  }),
};

/** The GitHub example: the demo's quick run, which hosted CPU runners can train. */
export const GITHUB_EXAMPLE = {
  command: 'fat2019 plan --run weights/ci --data data/demo --quick --scheduler github --out plans/ci \\\n' +
    "  --setup 'npx fat2019 generate --out data/demo --size small'",
  plan: (): JobPlan => buildJobPlan({
    run: 'weights/ci', data: 'data/demo', recipe: RECIPES.warmup, archs: ['cnnModel1'], folds: 2, prepareArgs: ['--arch', 'cnnModel1', '--quick'],
  }),
  options: (): RenderOptions => ({ planDir: 'plans/ci', launcher: 'npx fat2019', setup: ['npx fat2019 generate --out data/demo --size small'] }),
};

/** "stage 2 of fold f waits for …" per recipe: the edges lib/plan derives from the stage declarations. */
function dependencyTable(): string {
  const rows = ['| recipe | stage | trains on | waits for |', '|---|---|---|---|'];
  for (const name of RECIPE_NAMES) {
    const recipe = RECIPES[name];
    for (const s of recipe.stages) {
      const deps = stageDependencies(recipe, 'cnnModel1', s.stage).map((d) => {
        const stage = d.on.replace(/^.*-stage/, 'stage ');
        return d.kind === 'perFold' ? `${stage}, same fold` : `**every fold** of ${stage}`;
      });
      rows.push(`| \`${name}\` | ${s.stage} | ${s.summary} | ${deps.length > 0 ? deps.join('; ') : 'prepare'} |`);
    }
  }
  return rows.join('\n');
}

/** The YAML document of one Kubernetes Job (by name) from jobs.yaml. */
function k8sJob(yaml: string, name: string): string {
  const doc = yaml.split('\n---\n').find((d) => d.includes(`name: ${name},`));
  if (!doc) throw new Error(`readme-plan: no Job ${name} in the Kubernetes plan`);
  return doc.trim();
}

/** The GitHub workflow's header and the jobs named. */
function githubJobs(yaml: string, ids: string[]): string {
  const [head, ...jobs] = yaml.split(/\n(?= {2}[a-z0-9-]+:\n)/);
  const kept = jobs.filter((j) => ids.some((id) => j.startsWith(`  ${id}:`))).map((j) => j.trimEnd());
  const left = jobs.length - kept.length;
  return [head, ...kept, `  # … and ${left} more job${left === 1 ? '' : 's'} of the same form (the plan's file has them all)`].join('\n').trimEnd();
}

export function renderPlanBlocks(): Record<string, string> {
  const plan = PLAN_EXAMPLE.plan();
  const slurm = renderPlan(plan, 'slurm', PLAN_EXAMPLE.options('plans/full'));
  const k8s = renderPlan(plan, 'kubernetes', PLAN_EXAMPLE.options('plans/full-k8s'))['jobs.yaml'];
  const gh = GITHUB_EXAMPLE.plan();
  const workflow = renderPlan(gh, 'github', GITHUB_EXAMPLE.options())[`${gh.name}.yml`];
  const arrays = plan.jobs.filter((j) => j.kind === 'train').length;
  return {
    'scaling-dependencies': dependencyTable(),
    'scaling-slurm': [
      '```bash',
      PLAN_EXAMPLE.command,
      'bash plans/full/submit.sh          # from the folder the paths are relative to',
      '```',
      `It writes \`plan.json\` (the job graph), \`submit.sh\` and ${Object.keys(slurm).length - 1} batch scripts (prepare, ${arrays} arrays of 10 tasks, infer). \`plans/full/submit.sh\`:`,
      '```bash',
      slurm['submit.sh'].trimEnd(),
      '```',
      '`plans/full/cnnmodel1-stage3.sbatch` (the others differ in name, stage and comments):',
      '```bash',
      slurm['cnnmodel1-stage3.sbatch'].trimEnd(),
      '```',
    ].join('\n'),
    'scaling-kubernetes': [
      '```bash',
      PLAN_EXAMPLE.kubernetesCommand,
      'kubectl apply -f plans/full-k8s/jobs.yaml',
      '```',
      `One Indexed Job per node of the graph (${plan.jobs.length} in \`jobs.yaml\`), all applied at once; stage 2 of \`cnnModel1\`, whose pods wait for their own fold of stage 1:`,
      '```yaml',
      k8sJob(k8s, `${plan.name}-cnnmodel1-stage2`),
      '```',
    ].join('\n'),
    'scaling-github': [
      '```bash',
      GITHUB_EXAMPLE.command,
      '```',
      `\`plans/ci/${gh.name}.yml\` (prepare, stage 1, stage 3 and infer shown):`,
      '```yaml',
      githubJobs(workflow, ['prepare', 'cnnmodel1-stage1', 'cnnmodel1-stage3', 'infer']),
      '```',
    ].join('\n'),
  };
}
