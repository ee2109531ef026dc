/**
 * Feature-extraction throughput for 10 s clips (`npm run bench:features`).
 *
 * - 1 thread: `clipImageFromSamples` (trim → pad → log-mel → uint8 image) in this thread on
 *   synthetic 44.1 kHz audio, the same work the PERF-NOTES references measured (fft.js 7.3
 *   clips/s, torch.stft + mel matmul 55.8 clips/s on one thread).
 * - all cores: `preprocessDatasets` on 16-bit WAV files with one worker per core, end to end
 *   (decode + features + atomic cache write), after a warm-up run that starts the workers' tsx.
 *
 * Prints human lines, then one JSON object on the last line.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PREPROCESS_DEFAULTS, withDefaults } from '../lib/config';
import { encodeWavPcm16 } from '../lib/audio/wav';
import { clipImageFromSamples } from '../lib/features';
import { preprocessDatasets } from '../lib/data/preprocess';
import { Rng } from '../lib/util/rng';

const CLIP_SECONDS = 10;
const SR = 44100;
const REFERENCE = { fftjs_perfnotes: 7.3, torch_1thread: 55.8 };

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

async function main(): Promise<void> {
  const cfg = withDefaults(PREPROCESS_DEFAULTS);
  const rng = new Rng(2019);
  const clips = Array.from({ length: 4 }, () => syntheticClip(rng));
  clipImageFromSamples(clips[0], cfg); // warm-up: plans, JIT

  const minSec = Number(process.env.BENCH_SECONDS ?? 4);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minSec * 1000 || n < 10) {
    clipImageFromSamples(clips[n % clips.length], cfg);
    n++;
  }
  const oneThread = n / ((performance.now() - t0) / 1000);
  console.log(`1 thread, features from samples: ${n} clips of ${CLIP_SECONDS} s, ${oneThread.toFixed(1)} clips/s (${(1000 / oneThread).toFixed(1)} ms/clip)`);

  const cores = availableParallelism();
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-bench-features-'));
  try {
    const nFiles = Math.max(8 * cores, Math.round(oneThread * cores * minSec));
    mkdirSync(join(dir, 'data', 'test'), { recursive: true });
    mkdirSync(join(dir, 'data', 'warmup'), { recursive: true });
    for (let i = 0; i < nFiles; i++) writeFileSync(join(dir, 'data', 'test', `clip${i}.wav`), encodeWavPcm16(clips[i % clips.length], SR));
    for (let i = 0; i < cores; i++) writeFileSync(join(dir, 'data', 'warmup', `w${i}.wav`), encodeWavPcm16(clips[i % clips.length], SR));
    const cacheDir = join(dir, 'cache');
    await preprocessDatasets({ dataDir: join(dir, 'data'), datasets: ['warmup'], cacheDir, config: cfg, workers: cores });
    const inProc = await preprocessDatasets({ dataDir: join(dir, 'data'), datasets: ['test'], cacheDir: join(dir, 'cache0'), config: cfg, workers: 0 });
    const e2e1 = inProc.computed / inProc.elapsedSec;
    console.log(`1 thread, end to end (decode + features + cache write): ${e2e1.toFixed(1)} clips/s`);
    const r = await preprocessDatasets({ dataDir: join(dir, 'data'), datasets: ['test'], cacheDir, config: cfg, workers: cores });
    if (r.failed > 0 || r.computed !== nFiles) throw new Error(`bench run failed: ${JSON.stringify(r.failures.slice(0, 3))}`);
    const allCores = r.computed / r.elapsedSec;
    console.log(`${cores} worker threads, end to end (incl. worker start-up): ${nFiles} clips, ${allCores.toFixed(1)} clips/s`);
    console.log(`reference 1 thread: fft.js ${REFERENCE.fftjs_perfnotes}, torch ${REFERENCE.torch_1thread} clips/s -> ${(oneThread / REFERENCE.torch_1thread).toFixed(2)}x torch`);
    console.log(
      JSON.stringify({
        bench: 'features',
        clipSeconds: CLIP_SECONDS,
        clipsPerSecond1Thread: round(oneThread),
        clipsPerSecond1ThreadEndToEnd: round(e2e1),
        clipsPerSecondAllCores: round(allCores),
        cores,
        referenceClipsPerSecond: REFERENCE,
        ratioVsTorch1Thread: round(oneThread / REFERENCE.torch_1thread),
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (x: number) => Math.round(x * 100) / 100;

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
