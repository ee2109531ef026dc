import type { OptimizerConfig } from '../config';

/**
 * fastai v1 `annealing_cos`: cosine from `start` (pct 0) to `end` (pct 1).
 */
export function annealingCos(start: number, end: number, pct: number): number {
  return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
}

/**
 * Where step `step` (0-based optimizer step) lies in fastai v1's `OneCycleScheduler`:
 * phase 0 (warm-up) has `a1 = floor(totalSteps · pctStart)` steps, phase 1 the rest. Step 0
 * uses the start value (pct 0); fastai advances the scheduler after each batch, so step i ≤ a1
 * has pct i / a1 (step a1 = the peak) and step a1 + j has pct j / a2 of the annealing phase
 * (the final value is reached only one step after the last). a1 = 0 behaves as a1 = 1, as
 * fastai's `Scheduler` uses `max(1, n_iter)`. Steps past the end stay at the final value.
 */
export function oneCyclePhase(step: number, totalSteps: number, pctStart: number): { phase: 0 | 1; pct: number } {
  if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new Error(`totalSteps must be an integer >= 1, got ${totalSteps}`);
  if (!(step >= 0)) throw new Error(`step must be >= 0, got ${step}`);
  if (!(pctStart >= 0 && pctStart <= 1)) throw new Error(`pctStart must be in [0, 1], got ${pctStart}`);
  const a1 = Math.floor(totalSteps * pctStart);
  const a2 = totalSteps - a1;
  const warm = Math.max(1, a1);
  if (step <= warm) return { phase: 0, pct: step / warm };
  return { phase: 1, pct: Math.min(1, (step - warm) / Math.max(1, a2)) };
}

/**
 * One-cycle learning rate at optimizer step `step` of `totalSteps` (fastai v1 semantics):
 * cosine from maxLr / divFactor up to maxLr over the first pctStart of the steps, then cosine
 * down to maxLr / finalDivFactor.
 */
export function oneCycleLr(step: number, totalSteps: number, cfg: OptimizerConfig): number {
  const { phase, pct } = oneCyclePhase(step, totalSteps, cfg.pctStart);
  return phase === 0
    ? annealingCos(cfg.maxLr / cfg.divFactor, cfg.maxLr, pct)
    : annealingCos(cfg.maxLr, cfg.maxLr / cfg.finalDivFactor, pct);
}

/** One-cycle β1 (fastai "momentum"): cosine beta1Max → beta1Min during warm-up, then back. */
export function oneCycleBeta1(step: number, totalSteps: number, cfg: OptimizerConfig): number {
  const { phase, pct } = oneCyclePhase(step, totalSteps, cfg.pctStart);
  return phase === 0
    ? annealingCos(cfg.beta1Max, cfg.beta1Min, pct)
    : annealingCos(cfg.beta1Min, cfg.beta1Max, pct);
}
