/** Picks a scheduler's renderer by name. */
import type { JobPlan } from './jobGraph';
import { renderSlurm } from './slurm';
import { renderKubernetes } from './kubernetes';
import { renderGithub } from './github';
import type { RenderOptions, Scheduler } from './renderOptions';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { OutputKind } from '../util/outputPath';

export { SCHEDULERS, type RenderOptions, type Scheduler } from './renderOptions';

/** The plan's files for `scheduler`, by name relative to the plan folder. */
export function renderPlan(plan: JobPlan, scheduler: Scheduler, o: RenderOptions): Record<string, string> {
  switch (scheduler) {
    case 'slurm': return renderSlurm(plan, o);
    case 'kubernetes': return renderKubernetes(plan, o);
    case 'github': return renderGithub(plan, o);
  }
}

/** The file `fat2019 plan` writes into every plan folder: the job graph as JSON (and the folder's mark). */
export const PLAN_JSON = 'plan.json';

/** A plan folder (plan.json): `fat2019 plan --out` may rewrite one it wrote before. */
export const PLAN_FOLDER: OutputKind = {
  name: 'a plan folder',
  isOwn: (dir) => existsSync(join(dir, PLAN_JSON)),
};
