import * as tf from '@tensorflow/tfjs';
import type { OptimizerConfig } from '../config';
import { adamwFused, adamwInPlace, type AdamWUpdate } from '../runtime/kernels/adamwKernel';

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
 * current betas for the bias correction). The moments are tf.Variables owned by this object
 * (free them with {@link dispose}).
 *
 * Three implementations of the same float32 arithmetic, operation for operation (the same
 * bits, test-checked): on wasm C kernels (lib/runtime/kernels/adamwKernel: all parameters in
 * place in one call, or one kernel per parameter whose data is shared);
 * where that is off, on wasm and cpu, parameters of up to {@link JS_PASS_MAX_SIZE} values take
 * one JavaScript pass that rounds to float32 after every operation (a dozen tfjs kernels cost
 * more in dispatch than in arithmetic for them); everything else, native TensorFlow included,
 * runs the tensor code.
 *
 * Gradient accumulation: pass the micro-batch gradients summed with weights
 * `microBatchSize / batchSize`, i.e. the gradient of the mean loss over the whole batch.
 */
/** Backends on which {@link AdamW.step} updates small parameters in one JavaScript pass. */
const FUSED_BACKENDS = new Set(['wasm', 'cpu']);
/**
 * Largest parameter (values) updated in JavaScript. Measured on wasm, 2 threads: the pass costs
 * ≈16 ns per value, the tensor code ≈6 ns per value plus ≈150 µs of dispatch per parameter, so
 * they break even near 15,000 values.
 */
export const JS_PASS_MAX_SIZE = 16384;

export class AdamW {
  readonly params: NamedVariable[];
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  private stepCount = 0;
  weightDecay: number;
  beta2: number;
  epsilon: number;
  /**
   * Forces the JavaScript pass for every parameter (true) or the tensor code for all (false);
   * unset: the wasm kernel, else by backend and size (see the class comment).
   */
  fused: boolean | undefined;
  /**
   * Learning-rate multiplier of each parameter (`params[i]` gets lr · lrScale[i], its decay
   * too): discriminative learning rates (lib/train/finetune). null = 1 for all.
   */
  lrScale: Float64Array | null = null;

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
    for (let i = 0; i < this.params.length; i++) {
      const g = grads[i];
      const p = this.params[i].variable;
      if (g !== null && g.shape.join(',') !== p.shape.join(',')) {
        throw new Error(`AdamW.step: gradient of '${this.params[i].name}' has shape [${g.shape}], parameter [${p.shape}]`);
      }
    }
    const consts = { beta1, beta2, eps, sqrtBc2, decay, stepSize };
    const jsPass = this.fused ?? FUSED_BACKENDS.has(tf.getBackend());
    const constsOf = (i: number) => {
      const scale = this.lrScale ? this.lrScale[i] : 1;
      return scale === 1 ? consts : { ...consts, stepSize: consts.stepSize * scale, decay: 1 - lr * scale * this.weightDecay };
    };
    // wasm: every parameter in one C call, in place (lib/runtime/kernels/adamwKernel); what it
    // leaves (shared data) goes through the per-parameter kernel below.
    let todo = this.params.map((_, i) => i).filter((i) => grads[i] !== null);
    if (this.fused === undefined && todo.length > 0) {
      const updates = todo.map((i): AdamWUpdate & { i: number } => {
        const c = constsOf(i);
        return { i, p: this.params[i].variable, g: grads[i]!, m: this.m[i], v: this.v[i], decay: c.decay, stepSize: c.stepSize };
      });
      const left = adamwInPlace(updates, consts);
      if (left) todo = left.map((u) => u.i);
    }
    tf.tidy(() => {
      for (const i of todo) {
        const g = grads[i]!;
        const p = this.params[i].variable;
        const c = constsOf(i);
        // wasm: one C kernel with the same float32 arithmetic (lib/runtime/kernels/adamwKernel).
        const fused = this.fused === undefined ? adamwFused(p, g, this.m[i], this.v[i], c) : null;
        if (fused) {
          this.m[i].assign(fused[1]);
          this.v[i].assign(fused[2]);
          p.assign(fused[0]);
          continue;
        }
        if (jsPass && (this.fused === true || p.size <= JS_PASS_MAX_SIZE)) {
          this.updateInJs(i, g, c);
          continue;
        }
        const m = this.m[i].mul(beta1).add(g.mul(1 - beta1));
        const v = this.v[i].mul(beta2).add(g.square().mul(1 - beta2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        const denom = v.sqrt().div(sqrtBc2).add(eps);
        p.assign(p.mul(c.decay).sub(m.div(denom).mul(c.stepSize)));
      }
    });
  }

  /**
   * The update of {@link step} for parameter i in JavaScript: each operation of the tensor code
   * in the same order, rounded to float32 (`fround`), with the scalars as the float32 tensors
   * they become there. Call inside a tidy (the new values' tensors are freed by it).
   */
  private updateInJs(i: number, grad: tf.Tensor, c: { beta1: number; beta2: number; eps: number; sqrtBc2: number; decay: number; stepSize: number }): void {
    const f = Math.fround;
    const b1 = f(c.beta1), ob1 = f(1 - c.beta1), b2 = f(c.beta2), ob2 = f(1 - c.beta2);
    const sb = f(c.sqrtBc2), e = f(c.eps), dc = f(c.decay), ss = f(c.stepSize);
    const variable = this.params[i].variable;
    const g = grad.dataSync() as Float32Array;
    const p = variable.dataSync() as Float32Array;
    const m = this.m[i].dataSync() as Float32Array;
    const v = this.v[i].dataSync() as Float32Array;
    const n = g.length;
    const P = new Float32Array(n), M = new Float32Array(n), V = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      const gj = g[j];
      const mj = f(f(m[j] * b1) + f(gj * ob1));
      const vj = f(f(v[j] * b2) + f(f(gj * gj) * ob2));
      const denom = f(f(f(Math.sqrt(vj)) / sb) + e);
      M[j] = mj;
      V[j] = vj;
      P[j] = f(f(p[j] * dc) - f(f(mj / denom) * ss));
    }
    this.m[i].assign(tf.tensor(M, variable.shape, 'float32'));
    this.v[i].assign(tf.tensor(V, variable.shape, 'float32'));
    variable.assign(tf.tensor(P, variable.shape, 'float32'));
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
