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
 *   repetitions; the ratio is the median over rounds of (project clips/s) / (torch clips/s),
 *   against the faster of the two mel products.
 *   What is timed: here, `clipImageFromSamples` on n clips in the worker (performance.now
 *   around the loop; the clips are in memory, the images discarded); there, the same per clip
 *   (time.perf_counter around one clip's work on a tensor already in memory, summed). Neither
 *   includes the messages that start a round, the start-up or the warm-up.
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

/** bench/featuresThread.ts in a worker thread: `run(n)` times the next n clips there. */
class FeaturesThread {
  private readonly worker: Worker;
  private readonly pending: Array<{ resolve: (ms: number) => void; reject: (err: Error) => void }> = [];
  private failure: Error | null = null;

  constructor(clips: Float32Array[], config: PreprocessConfig) {
    this.worker = new Worker(join(__dirname, 'featuresThread.cjs'), { workerData: { clips, config } });
    this.worker.on('message', (m: { ms: number }) => this.pending.shift()?.resolve(m.ms));
    this.worker.on('error', (err) => {
      this.failure = err;
      for (const p of this.pending.splice(0)) p.reject(err);
    });
  }

  run(clips: number): Promise<number> {
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
    await thread.run(2); // warm-up: tsx, plans, JIT
    const ours: number[] = [];
    const theirs: Record<string, number[]> = Object.fromEntries(peers.map((p) => [p.dtype, []]));
    for (let r = 0; r < rounds; r++) {
      ours.push(perRound / ((await thread.run(perRound)) / 1000));
      for (const p of peers) {
        const secs = await p.peer.run(perRound);
        theirs[p.dtype].push(perRound / secs.reduce((a, b) => a + b, 0));
      }
    }
    // The ratio's peer is the faster mel product here (by median): sparse where the system BLAS
    // is the reference one, possibly dense with a fast BLAS.
    const best = peers.length === 0 ? null : peers.map((p) => p.dtype).reduce((a, b) => (median(theirs[b]) > median(theirs[a]) ? b : a));
    const ratios = best === null ? [] : ours.map((rate, r) => rate / theirs[best][r]);
    await thread.close();
    thread = null;
    const oneThread = median(ours);
    const torchRates = Object.fromEntries(Object.entries(theirs).map(([d, xs]) => [d, round(median(xs))]));
    console.log(`1 thread, features from samples: ${rounds} rounds × ${perRound} clips of ${CLIP_SECONDS} s, median ${oneThread.toFixed(1)} clips/s ` +
      `(${(1000 / oneThread).toFixed(1)} ms/clip; rounds ${ours.map((x) => x.toFixed(1)).join(', ')})`);
    if (peers.length > 0) {
      for (const [d, xs] of Object.entries(theirs)) {
        console.log(`1 thread, PyTorch ${peers[0].peer.info.torch} float32, ${d} mel product (torch.stft + mel, same steps), interleaved: median ${median(xs).toFixed(1)} clips/s (rounds ${xs.map((x) => x.toFixed(1)).join(', ')})`);
      }
      console.log(`ratio (median of per-round ratios) vs torch (${best} mel, the faster): ${median(ratios).toFixed(2)}×`);
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
            ratioVsPyTorch1Thread: round(median(ratios)),
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
