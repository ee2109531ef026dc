/**
 * Loss, optimizer and schedule (lib/train/loss, adamw, oneCycle) against plain-JS float64
 * formulas written out here, independently of the implementation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { OPTIMIZER_DEFAULTS, OptimizerConfig } from '../../lib/config';
import { AdamW, bceWithLogits, oneCycleBeta1, oneCycleLr } from '../../lib/train';
import { JS_PASS_MAX_SIZE } from '../../lib/train/adamw';
import { Rng } from '../../lib/util/rng';

const close = (a: number, b: number, rel: number, msg = '') =>
  assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(b), 1e-12), `${msg} ${a} vs ${b}`);

test('bceWithLogits equals the float64 formula, finite for |logits| up to 1e4, with soft targets', async () => {
  await tf.setBackend('cpu');
  const x = [-1e4, -100, -20, -1.5, 0, 0.5, 3, 30, 100, 1e4, -7, 12];
  const y = [0, 1, 0.3, 1, 0, 1, 0, 1, 0.5, 1, 0.25, 0];
  // −[y·log σ(x) + (1−y)·log(1−σ(x))] with log σ(x) = −log(1+e^{−x}), evaluated per sign in float64.
  const logSig = (v: number) => (v >= 0 ? -Math.log1p(Math.exp(-v)) : v - Math.log1p(Math.exp(v)));
  const expected = x.reduce((s, v, i) => s - (y[i] * logSig(v) + (1 - y[i]) * logSig(-v)), 0) / x.length;
  const before = tf.memory().numTensors;
  const lx = tf.tensor2d(x, [3, 4]);
  const ly = tf.tensor2d(y, [3, 4]);
  const loss = bceWithLogits(lx, ly);
  const got = loss.dataSync()[0];
  assert.ok(Number.isFinite(got));
  close(got, expected, 1e-6, 'bce');
  tf.dispose([lx, ly, loss]);
  assert.equal(tf.memory().numTensors, before);
  // Small case by hand: x = 0, y = 1 → log 2.
  const l2 = tf.tidy(() => bceWithLogits(tf.tensor2d([[0]]), tf.tensor2d([[1]])).dataSync()[0]);
  close(l2, Math.LN2, 1e-6);
  assert.throws(() => bceWithLogits(tf.zeros([2, 3]), tf.zeros([3, 2])), /same shape/);
});

test('AdamW matches PyTorch AdamW step by step (3 steps, changing lr and beta1, decay on all params)', async () => {
  await tf.setBackend('cpu');
  // Four vector elements, then the scalar parameter (its gradient is always 0.5).
  const p0 = [0.5, -1.2, 2.0, 0.0, 3];
  const gradsSeq = [[0.1, -0.3, 0.02, 1.5, 0.5], [-0.2, 0.25, 0.0, -0.5, 0.5], [0.05, 0.05, -0.4, 2.0, 0.5]];
  const hyper = [{ lr: 1e-2, beta1: 0.95 }, { lr: 2e-2, beta1: 0.9 }, { lr: 5e-3, beta1: 0.85 }];
  const wd = 0.01, beta2 = 0.99, eps = 1e-8;
  // Expected, float64: PyTorch AdamW (decay, moments, bias corrections with the step's beta1).
  const p = [...p0], m = [0, 0, 0, 0, 0], v = [0, 0, 0, 0, 0];
  const expectedAfter: number[][] = [];
  for (let t = 1; t <= 3; t++) {
    const { lr, beta1 } = hyper[t - 1];
    const g = gradsSeq[t - 1];
    for (let i = 0; i < 5; i++) {
      p[i] *= 1 - lr * wd;
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
      const bc1 = 1 - beta1 ** t;
      const bc2 = 1 - beta2 ** t;
      p[i] -= (lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + eps);
    }
    expectedAfter.push([...p]);
  }
  const beforeAll = tf.memory().numTensors;
  const variable = tf.tidy(() => tf.variable(tf.tensor1d(p0.slice(0, 4)), true, 'adamw_test_p'));
  const scalar = tf.tidy(() => tf.variable(tf.scalar(3), true, 'adamw_test_s'));
  const opt = new AdamW([{ name: 'p', variable }, { name: 's', variable: scalar }], { weightDecay: wd, beta2, epsilon: eps });
  const before = tf.memory().numTensors;
  for (let t = 0; t < 3; t++) {
    const g = tf.tensor1d(gradsSeq[t].slice(0, 4));
    const gs = tf.scalar(0.5);
    opt.step([g, gs], hyper[t]);
    tf.dispose([g, gs]);
    assert.equal(tf.memory().numTensors, before, 'no tensors leak per step');
    const got = [...Array.from(variable.dataSync()), scalar.dataSync()[0]];
    got.forEach((x, i) => assert.ok(Math.abs(x - expectedAfter[t][i]) < 2e-6, `step ${t + 1} p[${i}] ${x} vs ${expectedAfter[t][i]}`));
  }
  assert.equal(opt.iterations, 3);
  // State round trip: a fresh optimizer with the saved state takes the same 4th step.
  const state = opt.getState();
  assert.equal(state.step, 3);
  const p2 = tf.tidy(() => tf.variable(variable.clone(), true, 'adamw_test_p2'));
  const s2 = tf.tidy(() => tf.variable(scalar.clone(), true, 'adamw_test_s2'));
  const opt2 = new AdamW([{ name: 'p', variable: p2 }, { name: 's', variable: s2 }], { weightDecay: wd, beta2, epsilon: eps });
  opt2.setState(state);
  const g4 = tf.tensor1d([0.3, -0.1, 0.2, 0.0]);
  const gs4 = tf.scalar(-1);
  opt.step([g4, gs4], { lr: 1e-2, beta1: 0.9 });
  opt2.step([g4, gs4], { lr: 1e-2, beta1: 0.9 });
  assert.deepEqual(Array.from(p2.dataSync()), Array.from(variable.dataSync()));
  assert.deepEqual(Array.from(s2.dataSync()), Array.from(scalar.dataSync()));
  assert.throws(() => opt2.setState({ ...state, params: [{ ...state.params[0], name: 'q' }, state.params[1]] }), /no state for parameter 'p'/);
  assert.throws(() => opt.step([g4], { lr: 1e-2, beta1: 0.9 }), /expected 2 gradients, got 1/);
  assert.throws(() => opt.step([gs4, gs4], { lr: 1e-2, beta1: 0.9 }), /gradient of 'p' has shape \[\], parameter \[4\]/);
  tf.dispose([g4, gs4, variable, scalar, p2, s2]);
  opt.dispose();
  opt2.dispose();
  assert.equal(tf.memory().numTensors, beforeAll, 'optimizer frees its moments');
});

test('AdamW: the JavaScript pass for small parameters gives the tensor code\'s exact bits (params, moments; null gradients)', async () => {
  await tf.setBackend('cpu');
  const rng = new Rng(5);
  const shapes = [[3, 3, 2, 4], [7], [], [JS_PASS_MAX_SIZE + 5]];
  const run = (fused: boolean) => {
    const r = new Rng(9);
    const params = shapes.map((shape, i) => ({ name: `w${i}`, variable: tf.variable(tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal()), shape)) }));
    const opt = new AdamW(params, { weightDecay: 0.01, beta2: 0.99, epsilon: 1e-8 });
    opt.fused = fused;
    return { params, opt };
  };
  const js = run(true), tensors = run(false);
  for (let t = 0; t < 4; t++) {
    const grads = shapes.map((shape, i) => (t === 1 && i === 1 ? null
      : tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * 10 ** (t - 2)), shape)));
    const hyper = { lr: 3e-3 * (t + 1), beta1: 0.95 - 0.03 * t };
    js.opt.step(grads, hyper);
    tensors.opt.step(grads, hyper);
    tf.dispose(grads.filter((g): g is tf.Tensor => g !== null));
  }
  js.params.forEach((p, i) => assert.deepEqual(p.variable.dataSync(), tensors.params[i].variable.dataSync(), p.name));
  const a = js.opt.getState(), b = tensors.opt.getState();
  a.params.forEach((p, i) => { assert.deepEqual(p.m, b.params[i].m); assert.deepEqual(p.v, b.params[i].v); });
  for (const side of [js, tensors]) { side.opt.dispose(); side.params.forEach((p) => p.variable.dispose()); }
});

test('one-cycle lr and beta1 (fastai v1): start, mid warm-up, peak, mid anneal, last step', () => {
  const cfg: OptimizerConfig = { ...OPTIMIZER_DEFAULTS, maxLr: 1e-2 };
  const total = 100; // warm-up a1 = floor(100 · 0.3) = 30 steps, annealing 70
  const low = 1e-2 / 25, final = 1e-2 / 25e4;
  close(oneCycleLr(0, total, cfg), low, 1e-12, 'step 0');
  close(oneCycleBeta1(0, total, cfg), 0.95, 1e-12);
  // Half-way through the warm-up the cosine is at the midpoint.
  close(oneCycleLr(15, total, cfg), (low + 1e-2) / 2, 1e-12, 'step 15');
  close(oneCycleBeta1(15, total, cfg), 0.9, 1e-12);
  // End of warm-up: the peak.
  close(oneCycleLr(30, total, cfg), 1e-2, 1e-12, 'step 30');
  close(oneCycleBeta1(30, total, cfg), 0.85, 1e-12);
  // Half-way through the annealing (30 + 35).
  close(oneCycleLr(65, total, cfg), (1e-2 + final) / 2, 1e-12, 'step 65');
  close(oneCycleBeta1(65, total, cfg), 0.9, 1e-12);
  // Last step: pct 69/70 of the annealing; cos(π·69/70) = −cos(π/70).
  const lastPct = 1 - Math.cos(Math.PI / 70);
  close(oneCycleLr(99, total, cfg), final + ((1e-2 - final) / 2) * lastPct, 1e-9, 'step 99');
  close(oneCycleBeta1(99, total, cfg), 0.95 - (0.1 / 2) * lastPct, 1e-12);
  // Quarter of the warm-up: (1 + cos(π/4)) / 2 of the way from the peak back to the start.
  close(oneCycleLr(7.5, total, cfg), 1e-2 + ((low - 1e-2) / 2) * (1 + Math.SQRT1_2), 1e-12);
  // Beyond the end stays at the final value; bad arguments are named.
  close(oneCycleLr(500, total, cfg), final, 1e-12);
  assert.throws(() => oneCycleLr(0, 0, cfg), /totalSteps must be an integer >= 1, got 0/);
  assert.throws(() => oneCycleLr(-1, 10, cfg), /step must be >= 0, got -1/);
});
