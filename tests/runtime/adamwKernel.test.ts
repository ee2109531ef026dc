/**
 * The fused wasm AdamW kernels (lib/runtime/kernels/adamwKernel.ts: all parameters in place in
 * one call, one kernel per parameter whose data is shared) give the same bits as the op-by-op
 * update of lib/train/adamw.ts on wasm, over several steps and odd sizes.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initWasmBackend } from '../fixtures/wasmBackend';
import { AdamW } from '../../lib/train';
import { setTrainKernelsEnabled } from '../../lib/runtime/kernels/trainWasm';
import { Rng } from '../../lib/util/rng';

before(async () => {
  await initWasmBackend();
});

test('fused AdamW on wasm equals the op-by-op update bit for bit (3 steps, sizes 1..1001, zero and huge gradients)', () => {
  tf.setBackend('wasm');
  const shapes = [[1], [5], [3, 7], [1001], [2, 3, 3, 4]];
  const run = (fused: boolean, opts: { lrScale?: number[]; share?: number; shareMoment?: number } = {}) => {
    const was = setTrainKernelsEnabled(fused);
    try {
      const rng = new Rng(11);
      const vars = shapes.map((s, i) => tf.tidy(() => tf.variable(tf.tensor(Float32Array.from({ length: s.reduce((a, b) => a * b) }, () => rng.normal()), s), true, `p${i}_${fused}`)));
      const opt = new AdamW(vars.map((v, i) => ({ name: `p${i}`, variable: v })), { weightDecay: 0.01, beta2: 0.99, epsilon: 1e-8 });
      // The reference is the op-by-op tensor code (not the JavaScript pass small parameters get).
      if (!fused) opt.fused = false;
      if (opts.lrScale) opt.lrScale = Float64Array.from(opts.lrScale);
      // A clone shares the parameter's data: that parameter must not be written in place.
      // A clone of a moment makes that parameter take the per-parameter kernel (adamwFused).
      const moments = (opt as unknown as { m: tf.Variable[] }).m;
      const held = opts.share !== undefined ? tf.clone(vars[opts.share]) : opts.shareMoment !== undefined ? tf.clone(moments[opts.shareMoment]) : null;
      const heldBefore = held ? Array.from(held.dataSync()) : null;
      for (let step = 0; step < 3; step++) {
        const grads = shapes.map((s) => tf.tensor(Float32Array.from({ length: s.reduce((a, b) => a * b) }, (_, j) => (j % 7 === 0 ? 0 : j % 11 === 0 ? 1e20 : rng.normal())), s));
        opt.step(grads, { lr: 1e-2 * (step + 1), beta1: 0.9 - 0.05 * step });
        tf.dispose(grads);
      }
      if (held) {
        assert.deepEqual(Array.from(held.dataSync()), heldBefore, 'a clone of a parameter or moment changed');
        held.dispose();
      }
      const out = vars.map((v) => Array.from(v.dataSync()));
      const state = opt.getState();
      opt.dispose();
      tf.dispose(vars);
      return { out, state };
    } finally {
      setTrainKernelsEnabled(was);
    }
  };
  for (const opts of [{}, { lrScale: [1, 0.5, 2, 0.1, 1], share: 3 }, { share: 0 }, { shareMoment: 2, lrScale: [2, 1, 0.5, 1, 1] }]) {
    const before = tf.memory().numTensors;
    const ref = run(false, opts);
    const got = run(true, opts);
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.deepEqual(got.out, ref.out, JSON.stringify(opts));
    got.state.params.forEach((p, i) => {
      assert.deepEqual(Array.from(p.m), Array.from(ref.state.params[i].m));
      assert.deepEqual(Array.from(p.v), Array.from(ref.state.params[i].v));
    });
  }
});
