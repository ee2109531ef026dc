/**
 * Training throughput (samples/s) of the project's `trainStep` (lib/train/fit.ts: AdamW, BCE with
 * logits, BatchNorm running-variance fix, dropout seeding, micro-batch gradient accumulation),
 * side by side with the same step in PyTorch.
 *
 *   npm run bench:train -- [--models cnnModel1[,name...] | all] [--widths 0.125,1] [--batch 32] [--micro N]
 *                          [--rounds 3] [--steps-per-round N] [--size 128] [--classes 80] [--no-peer] [--stock]
 *   FAT2019_BACKEND=wasm|cpu  FAT2019_THREADS=1|2  select the backend / wasm threads.
 *
 * One step = `trainStep` on a batch of `batch` single-channel 128×128 images (as lib/train's
 * batch makers give them) and multi-hot targets, run as `batch / micro` micro-batches (default
 * micro: 8 at full width, where the 4 GiB wasm heap cannot hold more, else the whole batch),
 * then one AdamW step. The batch maker's time (crop + copy) is measured separately.
 *
 * `--models` takes any names registered in lib/models (issue 15: samples/s per network next to
 * PyTorch's for the same network). Where Debian's python3-torch imports, bench/torch_peer.py
 * builds the same network (bench/torch_models.py) and runs the same step (same batch, micro-batches, loss, AdamW,
 * threads = this backend's threads). Rounds alternate: steps here, then as many there, so both
 * see the same machine load; a round is 3 steps on each side below width 0.5 (--steps-per-round),
 * 1 at full width, after warm-up steps (at least a round's and 1.5 s here, as many there). Each side's figure is the median of
 * its per-round mean step time, the ratio the median of the per-round ratios. The last line of output is one JSON object.
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend, describeBackend } from '../lib/runtime/backend';
import { restoreStockKernels, installedCustomKernels } from '../lib/runtime/kernels';
import { architectureNames, buildModel, isArchitecture } from '../lib/models';
import { MODEL_DEFAULTS, OPTIMIZER_DEFAULTS, type Architecture } from '../lib/config';
import { AdamW, trainableVariables } from '../lib/train/adamw';
import { trainStep } from '../lib/train/fit';
import { randomCropBatch } from '../lib/train/batch';
import { Rng } from '../lib/util/rng';
import type { TrainingClip } from '../lib/data/types';
import { benchData, cpuModel, machineLoad, median, RECORDED_PEER, startTorchPeer, torchUnavailable, type TorchPeer } from './_common';

interface TrainResult {
  model: string;
  width: number;
  batch: number;
  microBatch: number;
  size: number;
  stepSeconds: number[];
  samplesPerSecond: number;
  batchAssemblyMs: number;
  pytorchStepSeconds?: number[];
  pytorchSamplesPerSecond?: number;
  ratioVsPyTorch?: number;
  peerMeasured: boolean;
  peerNote?: string;
  heapMiB?: number;
}

function argValue(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < argv.length) return argv[i + 1];
  return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

function positive(argv: string[], name: string, fallback: number): number {
  const v = argValue(argv, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got '${v}'`);
  return n;
}

function wasmHeapMiB(): number | undefined {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8 ? Math.round(b.wasm.HEAPU8.buffer.byteLength / 2 ** 20) : undefined;
}

/** Clips of `frames` × size uint8 images with multi-hot targets, for the project's batch maker. */
function benchClips(n: number, size: number, frames: number, numClasses: number): TrainingClip[] {
  return Array.from({ length: n }, (_, i) => {
    const px = benchData(size * frames, 1 + i);
    const t = benchData(numClasses, 101 + i);
    return {
      fname: `bench${i}.wav`,
      image: { nMels: size, frames, data: Uint8Array.from(px, (v) => Math.floor(v * 256)) },
      target: Float32Array.from(t, (v) => (v > 0.95 ? 1 : 0)),
    } satisfies TrainingClip;
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const modelsArg = argValue(argv, 'models') ?? 'cnnModel1';
  // `--models all`: every registered network, in the registry's order.
  const models = modelsArg === 'all' ? architectureNames() : modelsArg.split(',').map((m) => m.trim()).filter(Boolean);
  for (const m of models) {
    if (!isArchitecture(m)) throw new Error(`--models: unknown network '${m}' (registered: ${architectureNames().join(', ')})`);
  }
  const widths = (argValue(argv, 'widths') ?? argValue(argv, 'width') ?? '0.125,1').split(',').map(Number);
  for (const w of widths) if (!(w > 0 && w <= 4)) throw new Error(`--widths: each width must be in (0, 4], got ${w}`);
  const batch = positive(argv, 'batch', 32);
  const size = positive(argv, 'size', 128);
  const numClasses = positive(argv, 'classes', 80);
  const rounds = positive(argv, 'rounds', 3);
  const microArg = argValue(argv, 'micro');
  const stepsArg = argValue(argv, 'steps-per-round') !== undefined ? positive(argv, 'steps-per-round', 1) : undefined;

  const info = await initBackend({ verbose: false });
  if (argv.includes('--stock')) restoreStockKernels();
  console.log(describeBackend({ ...info, customKernels: installedCustomKernels() }));
  console.log(`cpu: ${os.cpus().length} × ${cpuModel()}`);
  console.log(`load before: ${machineLoad()}`);
  const noPeer = torchUnavailable(argv);
  if (noPeer !== null) console.log(`PyTorch peer not measured: ${noPeer}`);
  const results: TrainResult[] = [];

  for (const arch of models) {
    for (const width of widths) {
      const micro = microArg !== undefined ? positive(argv, 'micro', batch) : width >= 0.5 ? Math.min(8, batch) : batch;
      if (batch % micro !== 0) throw new Error(`--batch (${batch}) must be a multiple of --micro (${micro})`);
      const model = buildModel({ ...MODEL_DEFAULTS, arch: arch as Architecture, numClasses, inputMels: size, inputFrames: size, widthMultiplier: width });
      const optimizer = new AdamW(trainableVariables(model), OPTIMIZER_DEFAULTS);
      const clips = benchClips(batch, size, size + 64, numClasses);
      const makeBatch = randomCropBatch(size);
      const indices = Array.from({ length: batch }, (_, i) => i);
      const rng = new Rng(2019);
      const data = makeBatch(clips, indices, rng);
      const step = () => trainStep(model, optimizer, data, batch, micro, { lr: 1e-3, beta1: 0.9 }, rng);

      let peer: TorchPeer | null = null;
      let peerNote: string | undefined = noPeer ?? undefined;
      if (noPeer === null) {
        try {
          peer = await startTorchPeer(['train', '--model', arch, '--width', String(width), '--size', String(size), '--batch', String(batch),
            '--micro', String(micro), '--classes', String(numClasses), '--threads', String(info.threads)]);
        } catch (err) {
          peerNote = (err as Error).message;
          console.log(`PyTorch peer for ${arch}: ${peerNote}`);
        }
      }
      // Steps per round: short steps (width < 0.5) are timed 3 at a time on each side, so that a
      // round is not one step's noise. Warm-up: at least that many steps and 1.5 s here (kernel
      // set-up, wasm heap growth, V8 moving the hot wasm and JS functions to its optimising tier,
      // which on 2 cores took ~10 width-1/8 steps), then as many steps there (PyTorch's
      // allocator caches, oneDNN's primitive cache): both sides measured in their steady state,
      // as a training run of thousands of steps sees them.
      const perRound = stepsArg ?? (width < 0.5 ? 3 : 1);
      let warm = 0;
      for (const t0 = performance.now(); warm < perRound || performance.now() - t0 < 1500; warm++) step();
      if (peer) await peer.run(warm);
      const ours: number[] = [];
      const theirs: number[] = [];
      const ratios: number[] = [];
      let loss = 0;
      for (let r = 0; r < rounds; r++) {
        const t0 = performance.now();
        for (let i = 0; i < perRound; i++) loss = step();
        const s = (performance.now() - t0) / 1000 / perRound;
        ours.push(s);
        if (peer) {
          const ps = await peer.run(perRound);
          const p = ps.reduce((a, v) => a + v, 0) / ps.length;
          theirs.push(p);
          ratios.push(p / s);
        }
      }
      const tb = performance.now();
      const reps = 5;
      for (let i = 0; i < reps; i++) makeBatch(clips, indices, rng);
      const batchMs = (performance.now() - tb) / reps;
      if (peer) await peer.close();

      const sps = batch / median(ours);
      const r: TrainResult = {
        model: arch, width, batch, microBatch: micro, size,
        stepSeconds: ours.map((t) => Number(t.toFixed(3))), samplesPerSecond: Number(sps.toFixed(2)),
        batchAssemblyMs: Number(batchMs.toFixed(2)), peerMeasured: peer !== null, heapMiB: wasmHeapMiB(),
      };
      if (peer) {
        r.pytorchStepSeconds = theirs.map((t) => Number(t.toFixed(3)));
        r.pytorchSamplesPerSecond = Number((batch / median(theirs)).toFixed(2));
        r.ratioVsPyTorch = Number(median(ratios).toFixed(3));
      } else {
        r.peerNote = peerNote;
      }
      results.push(r);
      console.log(`${arch} width ${width} train: batch ${batch} as ${batch / micro}×${micro}, ${size}×${size}: ${r.samplesPerSecond} samples/s ` +
        `(steps ${r.stepSeconds.join(', ')} s, loss ${loss.toFixed(4)}, batch assembly ${r.batchAssemblyMs} ms)` +
        (peer ? `; PyTorch ${r.pytorchSamplesPerSecond} samples/s (steps ${r.pytorchStepSeconds!.join(', ')} s); ratio ${r.ratioVsPyTorch}×` : ''));
      optimizer.dispose();
      model.dispose();
    }
  }
  console.log(`load after: ${machineLoad()}`);
  const measured = results.some((r) => r.peerMeasured);
  if (!measured) console.log(`recorded peer (not measured here; ${RECORDED_PEER.date}, ${RECORDED_PEER.machine}): ${JSON.stringify(RECORDED_PEER.trainSamplesPerSecond)} samples/s`);
  console.log(JSON.stringify({
    bench: 'train', date: new Date().toISOString(), machine: `${os.hostname()}: ${os.cpus().length} × ${cpuModel()}`,
    backend: info.flavour, threads: info.threads, customKernels: installedCustomKernels(), rounds,
    peerMeasured: measured, ...(measured ? {} : { recordedPeer: RECORDED_PEER }), results,
  }));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
