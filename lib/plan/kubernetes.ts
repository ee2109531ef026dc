/**
 * A job plan (./jobGraph) as Kubernetes Indexed Jobs (`completionMode: Indexed`, the index is the
 * fold), all applied at once (`kubectl apply -f jobs.yaml`). Kubernetes has no dependencies
 * between Jobs, so each pod's init container waits for what its job depends on in the shared
 * run folder, where every finished job leaves its `done.json` (lib/run/runFolder):
 *   per-fold edge → `<run>/<arch>/stage<s>/fold<index>/done.json` of its own index only;
 *   barrier       → the `done.json` of every fold of that stage;
 *   prepare       → `<run>/run.json`.
 * The run folder, the data and the feature cache (`--cache`) must lie on ReadWriteMany volumes
 * mounted at the same paths in every pod. `backoffLimitPerIndex` retries a failed fold alone,
 * and the retry resumes from its checkpoint.
 */
import { posix } from 'node:path';
import type { Architecture } from '../config';
import { shellQuote, type JobPlan, type PlanJob } from './jobGraph';
import { describe, renderHeader, type RenderOptions } from './renderOptions';

const INDEX = '$JOB_COMPLETION_INDEX';

/** done.json of (arch, stage, fold) as the pods see it (lib/run/runFolder's layout). */
function donePath(run: string, arch: Architecture, stage: number, fold: string): string {
  return posix.join(run, arch, `stage${stage}`, `fold${fold}`, 'done.json');
}

/** The files a job's pods wait for; `$JOB_COMPLETION_INDEX` stands for the pod's own fold. */
export function waitFiles(plan: JobPlan, job: PlanJob): string[] {
  const files: string[] = [];
  for (const d of job.dependsOn) {
    const dep = plan.jobs.find((j) => j.id === d.on)!;
    if (dep.kind === 'prepare') files.push(posix.join(plan.run, 'run.json'));
    else if (d.kind === 'perFold') files.push(donePath(plan.run, dep.arch!, dep.stage!, INDEX));
    else for (let f = 0; f < dep.folds; f++) files.push(donePath(plan.run, dep.arch!, dep.stage!, String(f)));
  }
  return files;
}

/** `"…"`: a YAML double-quoted scalar (JSON strings are valid YAML). */
const q = (s: string) => JSON.stringify(s);

function volumes(o: RenderOptions): { claim: string; mountPath: string }[] {
  return (o.volumes ?? ['fat2019-shared:/shared']).map((v) => {
    const i = v.indexOf(':');
    if (i <= 0 || i === v.length - 1) throw new Error(`a Kubernetes volume must be claim:mountPath, got "${v}"`);
    return { claim: v.slice(0, i), mountPath: v.slice(i + 1) };
  });
}

function jobYaml(plan: JobPlan, job: PlanJob, o: RenderOptions): string {
  const image = o.image ?? 'registry.example.com/fat2019-ts:latest';
  const vols = volumes(o);
  const mounts = `[${vols.map((v, i) => `{ name: v${i}, mountPath: ${q(v.mountPath)} }`).join(', ')}]`;
  const command = `${o.launcher} ${job.args.map((a) => (a === '{fold}' ? INDEX : shellQuote(a))).join(' ')}`;
  const env = Object.entries(o.env ?? {});
  const waits = waitFiles(plan, job);
  const lines = [
    '---',
    ...describe(plan, job).map((l) => `# ${l}`),
    'apiVersion: batch/v1',
    'kind: Job',
    `metadata: { name: ${plan.name}-${job.id}, labels: { app: fat2019, run: ${plan.name} } }`,
    'spec:',
    '  completionMode: Indexed',
    `  completions: ${job.folds}`,
    `  parallelism: ${job.folds}`,
    '  backoffLimitPerIndex: 3          # a retried index resumes from its checkpoint',
    `  maxFailedIndexes: ${job.folds}`,
    '  template:',
    '    spec:',
    '      restartPolicy: Never',
  ];
  if (waits.length > 0) {
    const test = waits.map((f) => `[ -f "${f}" ]`).join(' && ');
    lines.push(
      '      initContainers:',
      '        - name: wait',
      `          image: ${image}`,
      `          command: ["sh", "-c", ${q(`until ${test}; do sleep 30; done`)}]`,
      `          volumeMounts: ${mounts}`,
    );
  }
  lines.push(
    '      containers:',
    `        - name: ${job.kind}`,
    `          image: ${image}`,
    `          command: ["sh", "-c", ${q(`exec ${command}`)}]`,
  );
  if (env.length > 0) lines.push(`          env: [${env.map(([k, v]) => `{ name: ${k}, value: ${q(v)} }`).join(', ')}]`);
  lines.push(
    `          volumeMounts: ${mounts}`,
    '      volumes:',
    ...vols.map((v, i) => `        - { name: v${i}, persistentVolumeClaim: { claimName: ${v.claim} } }`),
  );
  return lines.join('\n');
}

/** Files of the Kubernetes plan: jobs.yaml. */
export function renderKubernetes(plan: JobPlan, o: RenderOptions): Record<string, string> {
  const head = [
    ...renderHeader(plan, o, 'kubernetes'),
    `Apply all at once: kubectl apply -f ${o.planDir}/jobs.yaml`,
    'Each pod waits (init container) for the done.json files of the jobs it depends on, in the shared run folder.',
    `Follow: kubectl get jobs -l run=${plan.name}; kubectl wait --for=condition=complete --timeout=48h job/${plan.name}-infer`,
  ].map((l) => `# ${l}`);
  return { 'jobs.yaml': [...head, ...plan.jobs.map((j) => jobYaml(plan, j, o))].join('\n') + '\n' };
}
