/**
 * Where the time of one training step goes (`npm run bench:profile-train -- [--models cnnModel1,...] [--widths 0.125,0.25,1]`).
 *
 * Runs the project's `trainStep` (as bench/train.ts) under `tf.profile` and sums the time of
 * every kernel by name; the rest of the step's wall time is JavaScript around the kernels (layer
 * bookkeeping, tape, tensor creation and disposal). The parts of trainStep that are not kernels
 * are also timed on their own: batch assembly (crop + copy), the input tensor (upload + tile),
 * the BatchNorm running-variance fix, the per-micro-batch `dataSync` of the loss, and the AdamW
 * update. Prints a table per width and one JSON object on the last line.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, describeBackend } from '../lib/runtime/backend';
import { buildModel, isArchitecture, architectureNames } from '../lib/models';
import { MODEL_DEFAULTS, OPTIMIZER_DEFAULTS } from '../lib/config';
import { AdamW, trainableVariables } from '../lib/train/adamw';
import { trainStep } from '../lib/train/fit';
import { randomCropBatch } from '../lib/train/batch';
import { snapshotRunningVariances } from '../lib/train/bnStats';
import { toModelInput } from '../lib/runtime/modelInput';
import { Rng } from '../lib/util/rng';
import type { TrainingClip } from '../lib/data/types';
import { benchData, cpuModel, machineLoad } from './_common';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const ms = (t0: number) => performance.now() - t0;

async function main(): Promise<void> {
  const widths = arg('widths', '0.125,0.25,1').split(',').map(Number);
  const models = arg('models', 'cnnModel1').split(',').map((m) => m.trim()).filter(Boolean);
  for (const m of models) {
    if (!isArchitecture(m)) throw new Error(`--models: unknown network '${m}' (registered: ${architectureNames().join(', ')})`);
  }
  const batch = Number(arg('batch', '32'));
  const size = 128;
  const info = await initBackend();
  console.log(describeBackend(info));
  console.log(`cpu: ${cpuModel()}`);
  console.log(`load: ${machineLoad()}`);
  const out: unknown[] = [];
  for (const arch of models) for (const width of widths) {
    const micro = Number(arg('micro', width >= 0.5 ? '8' : String(batch)));
    const model = buildModel({ ...MODEL_DEFAULTS, arch, widthMultiplier: width });
    const optimizer = new AdamW(trainableVariables(model), OPTIMIZER_DEFAULTS);
    const clips: TrainingClip[] = Array.from({ length: batch }, (_, i) => ({
      fname: `c${i}`, image: { nMels: size, frames: size + 64, data: Uint8Array.from(benchData(size * (size + 64), 1 + i), (v) => v * 255) },
      target: Float32Array.from(benchData(80, 100 + i), (v) => (v > 0.95 ? 1 : 0)),
    }));
    const rng = new Rng(1);
    const makeBatch = randomCropBatch(size);
    const idx = clips.map((_, i) => i);
    const data = makeBatch(clips, idx, rng);
    const step = () => trainStep(model, optimizer, data, batch, micro, { lr: 1e-3, beta1: 0.9 }, rng);
    step();
    // Wall time without the profiler first (the profiler adds its own bookkeeping).
    let t0 = performance.now();
    step();
    const wall = ms(t0);
    t0 = performance.now();
    const prof = await tf.profile(() => { step(); });
    const profWall = ms(t0);
    const byKernel = new Map<string, { ms: number; calls: number }>();
    let kernelTotal = 0;
    for (const k of prof.kernels) {
      // `<op>__op` entries wrap the kernel of the same op (counted once, as the kernel);
      // `unnamed scope` is a tf.customGrad op (the fused batch norm) whose inner kernels are
      // recorded too.
      if (k.name.endsWith('__op') || k.name === 'unnamed scope') continue;
      const t = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += t;
      e.calls++;
      byKernel.set(k.name, e);
      kernelTotal += t;
    }
    // Non-kernel parts, each timed alone.
    t0 = performance.now();
    for (let i = 0; i < 3; i++) makeBatch(clips, idx, rng);
    const batchMs = ms(t0) / 3;
    t0 = performance.now();
    for (let m = 0; m < batch / micro; m++) toModelInput(data.x.subarray(0, micro * size * size), micro, size, size).dispose();
    const inputMs = ms(t0);
    t0 = performance.now();
    for (let m = 0; m < batch / micro; m++) snapshotRunningVariances(model).apply(micro);
    const bnFixMs = ms(t0);
    const s = tf.scalar(1);
    t0 = performance.now();
    for (let m = 0; m < batch / micro; m++) tf.tidy(() => s.add(1)).dataSync();
    const syncMs = ms(t0);
    s.dispose();
    const grads = tf.tidy(() => optimizer.params.map((p) => tf.onesLike(p.variable).mul(1e-4)));
    t0 = performance.now();
    optimizer.step(grads, { lr: 1e-6, beta1: 0.9 });
    const adamMs = ms(t0);
    tf.dispose(grads);

    if (process.argv.includes('--calls')) {
      for (const k of prof.kernels) {
        if (new RegExp(process.env.CALLS_RE ?? 'Conv2D|BatchNorm').test(k.name) && typeof k.kernelTimeMs === 'number') console.log(`  ${k.name} ${JSON.stringify(k.inputShapes)} ${k.kernelTimeMs.toFixed(1)} ms`);
      }
    }
    const rows = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms);
    console.log(`\n${arch}, width ${width}, batch ${batch} as ${batch / micro}×${micro}: step ${wall.toFixed(0)} ms (under tf.profile ${profWall.toFixed(0)} ms; kernels ${kernelTotal.toFixed(0)} ms, ${prof.kernels.length} kernel calls; ${prof.newTensors} new tensors)`);
    console.log('| part | ms | % of profiled step | calls |\n|---|---|---|---|');
    for (const [name, e] of rows.slice(0, 14)) console.log(`| kernel ${name} | ${e.ms.toFixed(1)} | ${(100 * e.ms / profWall).toFixed(1)} | ${e.calls} |`);
    const rest = rows.slice(14).reduce((a, [, e]) => a + e.ms, 0);
    console.log(`| other kernels (${rows.length - 14 > 0 ? rows.length - 14 : 0} kinds) | ${rest.toFixed(1)} | ${(100 * rest / profWall).toFixed(1)} | |`);
    console.log(`| JS around kernels (profiled wall − kernels) | ${(profWall - kernelTotal).toFixed(1)} | ${(100 * (profWall - kernelTotal) / profWall).toFixed(1)} | |`);
    console.log(`| of which, timed alone: input tensor (upload + tile) | ${inputMs.toFixed(1)} | | ${batch / micro} |`);
    console.log(`| of which, timed alone: BN running-variance fix | ${bnFixMs.toFixed(1)} | | ${batch / micro} |`);
    console.log(`| of which, timed alone: loss dataSync | ${syncMs.toFixed(2)} | | ${batch / micro} |`);
    console.log(`| of which, timed alone: AdamW update | ${adamMs.toFixed(1)} | | 1 |`);
    console.log(`| outside trainStep: batch assembly (crop + copy) | ${batchMs.toFixed(1)} | | 1 |`);
    out.push({
      arch, width, batch, micro, stepMs: Math.round(wall), profiledMs: Math.round(profWall), kernelMs: Math.round(kernelTotal),
      kernels: Object.fromEntries(rows.map(([n, e]) => [n, { ms: Number(e.ms.toFixed(1)), calls: e.calls }])),
      inputMs, bnFixMs, syncMs, adamMs, batchMs,
    });
    optimizer.dispose();
    model.dispose();
  }
  console.log(`load: ${machineLoad()}`);
  console.log(JSON.stringify({ bench: 'profile-train', cpu: cpuModel(), threads: info.threads, results: out }));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
