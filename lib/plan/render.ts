/** Picks a scheduler's renderer by name. */
import type { JobPlan } from './jobGraph';
import { renderSlurm } from './slurm';
import { renderKubernetes } from './kubernetes';
import { renderGithub } from './github';
import type { RenderOptions, Scheduler } from './renderOptions';

export { SCHEDULERS, type RenderOptions, type Scheduler } from './renderOptions';

/** The plan's files for `scheduler`, by name relative to the plan folder. */
export function renderPlan(plan: JobPlan, scheduler: Scheduler, o: RenderOptions): Record<string, string> {
  switch (scheduler) {
    case 'slurm': return renderSlurm(plan, o);
    case 'kubernetes': return renderKubernetes(plan, o);
    case 'github': return renderGithub(plan, o);
  }
}
