/**
 * Feature-extraction throughput for 10 s clips (`npm run bench:features [-- --rounds 7]`).
 *
 * - 1 thread: `clipImageFromSamples` (trim → pad → log-mel → uint8 image), what `preprocess`
 *   runs on each decoded clip, on synthetic 44.1 kHz audio, in a worker thread started like
 *   `preprocess`'s (bench/featuresThread.ts says why not in this thread). Where Debian's
 *   python3-torch imports, the same work runs in PyTorch side by side (bench/torch_peer.py:
 *   trim, pad, torch.stft, power, mel product with this project's filterbank, dB, uint8 image;
 *   float32, one thread, inference mode, allocator told to keep freed memory; the mel product
 *   sparse and dense, each its own process), interleaved round by round with this project's
 *   repetitions, the order flipped every round (ours, peers; peers, ours; …). Against the faster
 *   of the two mel products it prints the median over rounds of (project clips/s) / (torch
 *   clips/s), the ratio of the two medians and the spread of the per-round ratios (min,
 *   quartiles, max), from the wall clock and again from CPU time: on a shared machine one
 *   round's wall time swings by half, its CPU time much less.
 *   What is timed: here, `clipImageFromSamples` on n clips in the worker (performance.now and
 *   process.cpuUsage around the loop, the main thread idle meanwhile; the clips are in memory,
 *   the images discarded); there, the same per clip (time.perf_counter and time.thread_time
 *   around one clip's work on a tensor already in memory, summed). Neither includes the messages
 *   that start a round, the start-up or the warm-up.
 * - all cores: `preprocessDatasets` on 16-bit WAV files with one worker per core, end to end
 *   (decode + features + atomic cache write), after a warm-up run that starts the workers' tsx.
 *
 * Options: --rounds N (default 7), --clips-per-round N (default 8), --no-peer, --no-e2e.
 * Prints human lines, then one JSON object on the last line.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { PREPROCESS_DEFAULTS, withDefaults, type PreprocessConfig } from '../lib/config';
import { encodeWavPcm16 } from '../lib/audio/wav';
import { melFilterbankFloat32 } from '../lib/features';
import { preprocessDatasets } from '../lib/data/preprocess';
import { Rng } from '../lib/util/rng';
import { cpuModel, machineLoad, median, RECORDED_PEER, startTorchPeer, torchUnavailable, TorchPeer } from './_common';

const CLIP_SECONDS = 10;
const SR = 44100;

function intArg(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got '${argv[i + 1]}'`);
  return n;
}

/** A 10 s test signal: a chirp, a few tones and noise bursts, quiet gaps (so trim has work). */
function syntheticClip(rng: Rng): Float32Array {
  const n = CLIP_SECONDS * SR;
  const x = new Float32Array(n);
  const f0 = rng.range(50, 500);
  for (let i = 0; i < n; i++) {
    const t = i / SR;
    const chirp = 0.3 * Math.sin(2 * Math.PI * f0 * t * (1 + t));
    const tone = 0.1 * Math.sin(2 * Math.PI * 1000 * t) * (Math.floor(t) % 2);
    x[i] = Math.max(-1, Math.min(1, chirp + tone + 0.05 * rng.normal()));
  }
  x.fill(0, 0, SR / 2); // leading silence
  return x;
}

/** One round's time (ms): wall clock, and CPU time where the side reports it. */
interface RoundTime {
  ms: number;
  cpuMs: number | null;
}

/** Clips per second of each round, from the wall clock and from CPU time, both sides. */
interface Rounds {
  wall: number[];
  cpu: number[];
}

/**
 * How two sides' rounds compare: the median of the per-round ratios (rounds that ran close
 * together see the same load), the ratio of the medians, and the spread of the per-round ratios.
 */
function compare(ours: number[], theirs: number[]): { medianOfRatios: number; ratioOfMedians: number; min: number; q1: number; q3: number; max: number } | null {
  if (ours.length === 0 || ours.length !== theirs.length) return null;
  const ratios = ours.map((x, r) => x / theirs[r]).sort((a, b) => a - b);
  const q = (f: number) => ratios[Math.min(ratios.length - 1, Math.max(0, Math.round(f * (ratios.length - 1))))];
  return { medianOfRatios: median(ratios), ratioOfMedians: median(ours) / median(theirs), min: ratios[0], q1: q(0.25), q3: q(0.75), max: ratios[ratios.length - 1] };
}

/** bench/featuresThread.ts in a worker thread: `run(n)` times the next n clips there. */
class FeaturesThread {
  private readonly worker: Worker;
  private readonly pending: Array<{ resolve: (t: RoundTime) => void; reject: (err: Error) => void }> = [];
  private failure: Error | null = null;

  constructor(clips: Float32Array[], config: PreprocessConfig) {
    this.worker = new Worker(join(__dirname, 'featuresThread.cjs'), { workerData: { clips, config } });
    this.worker.on('message', (m: RoundTime) => this.pending.shift()?.resolve(m));
    this.worker.on('error', (err) => {
      this.failure = err;
      for (const p of this.pending.splice(0)) p.reject(err);
    });
  }

  run(clips: number): Promise<RoundTime> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.worker.postMessage({ clips });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const rounds = intArg(argv, 'rounds', 7);
  const perRound = intArg(argv, 'clips-per-round', 8);
  const cfg = withDefaults(PREPROCESS_DEFAULTS);
  const rng = new Rng(2019);
  const clips = Array.from({ length: 4 }, () => syntheticClip(rng));
  console.log(`cpu: ${availableParallelism()} × ${cpuModel()}`);
  console.log(`load before: ${machineLoad()}`);

  const noPeer = torchUnavailable(argv);
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-bench-features-'));
  const peers: Array<{ dtype: string; peer: TorchPeer }> = [];
  let thread: FeaturesThread | null = null;
  try {
    if (noPeer === null) {
      const clipFile = join(dir, 'clips.f32');
      const all = new Float32Array(clips.length * clips[0].length);
      clips.forEach((c, i) => all.set(c, i * c.length));
      writeFileSync(clipFile, Buffer.from(all.buffer));
      const melFile = join(dir, 'mel.f32');
      const fb = melFilterbankFloat32({ sampleRate: cfg.sampleRate, nFft: cfg.nFft, nMels: cfg.nMels, fMin: cfg.fMin, fMax: cfg.fMax });
      writeFileSync(melFile, Buffer.from(fb.data.buffer));
      const common = ['features', '--threads', '1', '--clips', clipFile, '--clip-samples', String(clips[0].length), '--mel', melFile,
        '--n-mels', String(cfg.nMels), '--n-fft', String(cfg.nFft), '--hop', String(cfg.hopLength), '--min-samples', String(cfg.minSamples),
        '--trim-frame', String(cfg.trimFrameLength), '--trim-hop', String(cfg.trimHopLength), '--top-db-trim', String(cfg.trimTopDb),
        '--ref', String(cfg.dbRef), '--amin', String(cfg.dbAmin), '--top-db', String(cfg.dbTopDb ?? 80)];
      for (const dtype of ['sparse', 'dense']) peers.push({ dtype, peer: await startTorchPeer([...common, '--mel-product', dtype]) });
      for (const p of peers) await p.peer.run(2); // warm-up
    } else {
      console.log(`PyTorch peer not measured: ${noPeer}`);
    }

    thread = new FeaturesThread(clips, cfg);
    const ourThread = thread;
    await ourThread.run(2); // warm-up: tsx, plans, JIT
    const ours: Rounds = { wall: [], cpu: [] };
    const theirs: Record<string, Rounds> = Object.fromEntries(peers.map((p) => [p.dtype, { wall: [], cpu: [] }]));
    const runOurs = async () => {
      const t = await ourThread.run(perRound);
      ours.wall.push(perRound / (t.ms / 1000));
      if (t.cpuMs !== null) ours.cpu.push(perRound / (t.cpuMs / 1000));
    };
    const runPeers = async () => {
      for (const p of peers) {
        const t = await p.peer.runWithCpu(perRound);
        theirs[p.dtype].wall.push(perRound / t.seconds.reduce((a, b) => a + b, 0));
        if (t.cpuSeconds !== null) theirs[p.dtype].cpu.push(perRound / t.cpuSeconds.reduce((a, b) => a + b, 0));
      }
    };
    // Interleaved, and the order flips every round (ours first, then the peers first), so that
    // neither side always runs right after the other's allocations or in the same slot of a
    // periodic neighbour.
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) { await runOurs(); await runPeers(); } else { await runPeers(); await runOurs(); }
    }
    // The ratio's peer is the faster mel product here (by median): sparse where the system BLAS
    // is the reference one, possibly dense with a fast BLAS.
    const best = peers.length === 0 ? null : peers.map((p) => p.dtype).reduce((a, b) => (median(theirs[b].wall) > median(theirs[a].wall) ? b : a));
    const wallCmp = best === null ? null : compare(ours.wall, theirs[best].wall);
    const cpuCmp = best === null ? null : compare(ours.cpu, theirs[best].cpu);
    await thread.close();
    thread = null;
    const oneThread = median(ours.wall);
    const torchRates = Object.fromEntries(Object.entries(theirs).map(([d, xs]) => [d, round(median(xs.wall))]));
    const list = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
    const cpuNote = (xs: number[]) => (xs.length > 0 ? `; by CPU time median ${median(xs).toFixed(1)} (rounds ${list(xs)})` : '');
    console.log(`1 thread, features from samples: ${rounds} rounds × ${perRound} clips of ${CLIP_SECONDS} s, median ${oneThread.toFixed(1)} clips/s ` +
      `(${(1000 / oneThread).toFixed(1)} ms/clip; rounds ${list(ours.wall)})${cpuNote(ours.cpu)}`);
    if (peers.length > 0) {
      for (const [d, xs] of Object.entries(theirs)) {
        console.log(`1 thread, PyTorch ${peers[0].peer.info.torch} float32, ${d} mel product (torch.stft + mel, same steps), interleaved: median ${median(xs.wall).toFixed(1)} clips/s (rounds ${list(xs.wall)})${cpuNote(xs.cpu)}`);
      }
      const describe = (c: NonNullable<ReturnType<typeof compare>>) =>
        `median of per-round ratios ${c.medianOfRatios.toFixed(2)}×, ratio of medians ${c.ratioOfMedians.toFixed(2)}× (per-round ratios: min ${c.min.toFixed(2)}, quartiles ${c.q1.toFixed(2)}–${c.q3.toFixed(2)}, max ${c.max.toFixed(2)})`;
      if (wallCmp) console.log(`ratio vs torch (${best} mel, the faster), wall clock: ${describe(wallCmp)}`);
      if (cpuCmp) console.log(`ratio vs torch (${best} mel), CPU time of each side's thread: ${describe(cpuCmp)}`);
    } else {
      console.log(`recorded peer (not measured here; ${RECORDED_PEER.date}, ${RECORDED_PEER.machine}): ${JSON.stringify(RECORDED_PEER.featuresClipsPerSecond1Thread)} clips/s`);
    }

    let e2e1: number | null = null;
    let allCores: number | null = null;
    const cores = availableParallelism();
    if (!argv.includes('--no-e2e')) {
      const nFiles = Math.max(8 * cores, Math.round(oneThread * cores * 2));
      mkdirSync(join(dir, 'data', 'test'), { recursive: true });
      mkdirSync(join(dir, 'data', 'warmup'), { recursive: true });
      for (let i = 0; i < nFiles; i++) writeFileSync(join(dir, 'data', 'test', `clip${i}.wav`), encodeWavPcm16(clips[i % clips.length], SR));
      for (let i = 0; i < cores; i++) writeFileSync(join(dir, 'data', 'warmup', `w${i}.wav`), encodeWavPcm16(clips[i % clips.length], SR));
      const cacheDir = join(dir, 'cache');
      await preprocessDatasets({ dataDir: join(dir, 'data'), datasets: ['warmup'], cacheDir, config: cfg, workers: cores });
      const inProc = await preprocessDatasets({ dataDir: join(dir, 'data'), datasets: ['test'], cacheDir: join(dir, 'cache0'), config: cfg, workers: 0 });
      e2e1 = inProc.computed / inProc.elapsedSec;
      console.log(`1 thread, end to end (decode + features + cache write): ${e2e1.toFixed(1)} clips/s`);
      const r = await preprocessDatasets({ dataDir: join(dir, 'data'), datasets: ['test'], cacheDir, config: cfg, workers: cores });
      if (r.failed > 0 || r.computed !== nFiles) throw new Error(`bench run failed: ${JSON.stringify(r.failures.slice(0, 3))}`);
      allCores = r.computed / r.elapsedSec;
      console.log(`${cores} worker threads, end to end (incl. worker start-up): ${nFiles} clips, ${allCores.toFixed(1)} clips/s`);
    }
    console.log(`load after: ${machineLoad()}`);
    console.log(
      JSON.stringify({
        bench: 'features',
        date: new Date().toISOString(),
        machine: `${hostname()}: ${cores} × ${cpuModel()}`,
        clipSeconds: CLIP_SECONDS,
        rounds,
        clipsPerRound: perRound,
        clipsPerSecond1Thread: round(oneThread),
        peerMeasured: peers.length > 0,
        ...(peers.length > 0
          ? {
            pytorchVersion: peers[0].peer.info.torch,
            pytorchClipsPerSecond1Thread: best === null ? null : torchRates[best],
            pytorchMelProduct: best,
            pytorchClipsPerSecond1ThreadSparseMel: torchRates.sparse,
            pytorchClipsPerSecond1ThreadDenseMel: torchRates.dense,
            ratioVsPyTorch1Thread: wallCmp === null ? null : round(wallCmp.medianOfRatios),
            ratioOfMediansVsPyTorch1Thread: wallCmp === null ? null : round(wallCmp.ratioOfMedians),
            ratioSpreadVsPyTorch1Thread: wallCmp === null ? null : [round(wallCmp.min), round(wallCmp.q1), round(wallCmp.q3), round(wallCmp.max)],
            cpuTimeRatioVsPyTorch1Thread: cpuCmp === null ? null : round(cpuCmp.medianOfRatios),
            cpuTimeRatioOfMediansVsPyTorch1Thread: cpuCmp === null ? null : round(cpuCmp.ratioOfMedians),
            clipsPerSecond1ThreadCpuTime: ours.cpu.length > 0 ? round(median(ours.cpu)) : null,
            pytorchClipsPerSecond1ThreadCpuTime: best !== null && theirs[best].cpu.length > 0 ? round(median(theirs[best].cpu)) : null,
          }
          : { peerNotMeasured: noPeer, recordedPeer: RECORDED_PEER }),
        clipsPerSecond1ThreadEndToEnd: e2e1 === null ? null : round(e2e1),
        clipsPerSecondAllCores: allCores === null ? null : round(allCores),
        cores,
      }),
    );
  } finally {
    await thread?.close();
    for (const p of peers) await p.peer.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (x: number) => Math.round(x * 100) / 100;

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
