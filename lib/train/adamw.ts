import * as tf from '@tensorflow/tfjs';
import type { OptimizerConfig } from '../config';
import { adamwFused } from '../runtime/kernels/adamwKernel';

/** A trainable variable with a stable name (the layer weight's `originalName`, e.g. `head_fc1/kernel`). */
export interface NamedVariable {
  name: string;
  variable: tf.Variable;
}

/** Hyper-parameters of one {@link AdamW.step}; lr and β1 change every step under one-cycle. */
export interface AdamWStepParams {
  lr: number;
  beta1: number;
}

/**
 * Serialisable optimizer state: for each parameter (in the optimizer's order) its name, shape
 * and the moments `m` (exp_avg) and `v` (exp_avg_sq) as flat float32 arrays, plus the step count.
 */
export interface AdamWState {
  step: number;
  params: Array<{ name: string; shape: number[]; m: Float32Array; v: Float32Array }>;
}

/**
 * AdamW with decoupled weight decay, step for step as PyTorch `torch.optim.AdamW` (and fastai
 * v1's `true_wd` + `bn_wd`: the decay applies to every parameter, BatchNorm included):
 *
 *     p ← p · (1 − lr·wd)
 *     m ← β1·m + (1 − β1)·g;   v ← β2·v + (1 − β2)·g²
 *     p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
 *
 * with t the 1-based step and β1 the value of the current step (PyTorch reads the group's
 * current betas for the bias correction). All tensor work runs inside `tf.tidy`; the moments
 * are tf.Variables owned by this object (free them with {@link dispose}).
 *
 * Gradient accumulation: pass the micro-batch gradients summed with weights
 * `microBatchSize / batchSize`, i.e. the gradient of the mean loss over the whole batch.
 */
export class AdamW {
  readonly params: NamedVariable[];
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  private stepCount = 0;
  weightDecay: number;
  beta2: number;
  epsilon: number;

  constructor(params: NamedVariable[], cfg: Pick<OptimizerConfig, 'weightDecay' | 'beta2' | 'epsilon'>) {
    const names = new Set<string>();
    for (const p of params) {
      if (names.has(p.name)) throw new Error(`AdamW: duplicate parameter name '${p.name}'`);
      names.add(p.name);
    }
    if (!(cfg.weightDecay >= 0)) throw new Error(`weightDecay must be >= 0, got ${cfg.weightDecay}`);
    if (!(cfg.beta2 >= 0 && cfg.beta2 < 1)) throw new Error(`beta2 must be in [0, 1), got ${cfg.beta2}`);
    if (!(cfg.epsilon > 0)) throw new Error(`epsilon must be > 0, got ${cfg.epsilon}`);
    this.params = params;
    this.weightDecay = cfg.weightDecay;
    this.beta2 = cfg.beta2;
    this.epsilon = cfg.epsilon;
    // Inside tidy so the zero tensors the variables are made from are freed (variables survive).
    this.m = tf.tidy(() => params.map((p) => tf.variable(tf.zerosLike(p.variable), false)));
    this.v = tf.tidy(() => params.map((p) => tf.variable(tf.zerosLike(p.variable), false)));
  }

  /** Optimizer steps taken so far (t of the last step). */
  get iterations(): number {
    return this.stepCount;
  }

  /**
   * One update. `grads[i]` belongs to `params[i]` (same shape); the caller keeps ownership of
   * the gradient tensors. A missing gradient (null) leaves that parameter and its moments as
   * they are, apart from the weight decay, which PyTorch also skips for parameters without grad.
   */
  step(grads: Array<tf.Tensor | null>, { lr, beta1 }: AdamWStepParams): void {
    if (grads.length !== this.params.length) {
      throw new Error(`AdamW.step: expected ${this.params.length} gradients, got ${grads.length}`);
    }
    if (!(lr >= 0)) throw new Error(`lr must be >= 0, got ${lr}`);
    if (!(beta1 >= 0 && beta1 < 1)) throw new Error(`beta1 must be in [0, 1), got ${beta1}`);
    this.stepCount++;
    const t = this.stepCount;
    const bc1 = 1 - Math.pow(beta1, t);
    const bc2 = 1 - Math.pow(this.beta2, t);
    const stepSize = lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    const decay = 1 - lr * this.weightDecay;
    const beta2 = this.beta2;
    const eps = this.epsilon;
    tf.tidy(() => {
      for (let i = 0; i < this.params.length; i++) {
        const g = grads[i];
        if (g === null) continue;
        const p = this.params[i].variable;
        if (g.shape.join(',') !== p.shape.join(',')) {
          throw new Error(`AdamW.step: gradient of '${this.params[i].name}' has shape [${g.shape}], parameter [${p.shape}]`);
        }
        // wasm: one fused kernel with the same float32 arithmetic (lib/runtime/kernels/adamwKernel).
        const fused = adamwFused(p, g, this.m[i], this.v[i], { beta1, beta2, sqrtBc2, eps, decay, stepSize });
        if (fused) {
          this.m[i].assign(fused[1]);
          this.v[i].assign(fused[2]);
          p.assign(fused[0]);
          continue;
        }
        const m = this.m[i].mul(beta1).add(g.mul(1 - beta1));
        const v = this.v[i].mul(beta2).add(g.square().mul(1 - beta2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        const denom = v.sqrt().div(sqrtBc2).add(eps);
        p.assign(p.mul(decay).sub(m.div(denom).mul(stepSize)));
      }
    });
  }

  /** Copies the state out of the tensors (for checkpoints). */
  getState(): AdamWState {
    return {
      step: this.stepCount,
      params: this.params.map((p, i) => ({
        name: p.name,
        shape: p.variable.shape.slice(),
        m: this.m[i].dataSync() as Float32Array,
        v: this.v[i].dataSync() as Float32Array,
      })),
    };
  }

  /**
   * Restores a state from {@link getState}. Parameters are matched by name; a missing name or a
   * shape mismatch throws, naming the parameter (a checkpoint of another model).
   */
  setState(state: AdamWState): void {
    const byName = new Map(state.params.map((s) => [s.name, s]));
    if (state.params.length !== this.params.length) {
      throw new Error(`AdamW.setState: state has ${state.params.length} parameters, optimizer ${this.params.length}`);
    }
    this.params.forEach((p, i) => {
      const s = byName.get(p.name);
      if (!s) throw new Error(`AdamW.setState: no state for parameter '${p.name}'`);
      if (s.shape.join(',') !== p.variable.shape.join(',')) {
        throw new Error(`AdamW.setState: parameter '${p.name}' has shape [${p.variable.shape}], state [${s.shape}]`);
      }
      tf.tidy(() => {
        this.m[i].assign(tf.tensor(s.m, p.variable.shape, 'float32'));
        this.v[i].assign(tf.tensor(s.v, p.variable.shape, 'float32'));
      });
    });
    this.stepCount = state.step;
  }

  /** Frees the moment variables. */
  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}

/** The trainable weights of a tf.layers model, named by their stable `originalName`. */
export function trainableVariables(model: tf.LayersModel): NamedVariable[] {
  return model.trainableWeights.map((w) => ({ name: w.originalName, variable: w.read() as tf.Variable }));
}
