/**
 * Where the time of one clip's features goes (`npm run bench:profile-features [-- --reps 30]`):
 * the stages of `clipImageFromSamples` timed one by one on a 10 s 44.1 kHz synthetic clip, one
 * thread, median of the repetitions. The stages are the shipped functions. "mel power" is
 * `melSpectrogram` (reflect padding, window, float64 FFT, |X|², sparse mel product) on the engine
 * it ships with, the WebAssembly SIMD kernel; the JavaScript loop it replaces is timed too, split
 * into its STFT + power part and the rest (the mel product and the padding copy). "dB + image" is
 * `imageFromPower` as `clipImageFromSamples` runs it (power_to_db and the image in one WebAssembly
 * memory); `powerToDb` and `dbToImage` are timed alone too, on the kernel and on the JavaScript
 * loops they replace (same bits).
 * `clipImageFromSamples` itself runs every step in one WebAssembly memory (no copies between
 * them), so the stage rows, each through its own copies, add up to more than the total row.
 * Times are CPU time (median per repetition; process.cpuUsage has microsecond resolution).
 * Prints a table, then one JSON object on the last line.
 */
import { hostname, cpus, loadavg } from 'node:os';
import { PREPROCESS_DEFAULTS, withDefaults } from '../lib/config';
import { clipImageFromSamples, dbToImage, melSpectrogram, padCentered, powerToDb, StftPlan, trimClip } from '../lib/features';
import { melPowerEngine, useWasmMelPower } from '../lib/features/logmel';
import { imageFromPower, useWasmImage } from '../lib/features/image';
import { Rng } from '../lib/util/rng';
import { cpuModel } from './_common';

const SR = 44100;

function intArg(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got '${argv[i + 1]}'`);
  return n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/**
 * Median CPU milliseconds of `fn` over `reps` runs after 3 warm-up runs (process.cpuUsage: on a
 * shared machine one run's wall time swings by half, its CPU time much less).
 */
function timeMs(reps: number, fn: () => unknown): number {
  for (let i = 0; i < 3; i++) fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    ts.push((c.user + c.system) / 1000);
  }
  return median(ts);
}

function main(): void {
  const reps = intArg(process.argv.slice(2), 'reps', 30);
  const cfg = withDefaults(PREPROCESS_DEFAULTS);
  const rng = new Rng(2019);
  const n = 10 * SR;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / SR;
    x[i] = 0.3 * Math.sin(2 * Math.PI * 300 * t * (1 + t)) + 0.05 * rng.normal();
  }
  x.fill(0, 0, SR / 2); // leading silence, so trim has work

  const trimmed = trimClip(x, cfg);
  const padded = padCentered(trimmed, cfg.minSamples);
  const plan = new StftPlan({ nFft: cfg.nFft, hopLength: cfg.hopLength });
  const framed = plan.padSignal(padded);
  const frames = plan.frames(padded.length);
  const power = new Float64Array(plan.bins);
  const mel = melSpectrogram(padded, cfg);
  const dbOpts = { ref: cfg.dbRef, amin: cfg.dbAmin, topDb: cfg.dbTopDb };
  const db = { rows: mel.rows, cols: mel.cols, data: powerToDb(mel.data, dbOpts) };

  const trimMs = timeMs(reps, () => trimClip(x, cfg));
  const engine = melPowerEngine(cfg);
  const melMs = timeMs(reps, () => melSpectrogram(padded, cfg));
  const dbImageMs = timeMs(reps, () => imageFromPower(mel.data, mel.rows, mel.cols, dbOpts, cfg));
  const dbMs = timeMs(reps, () => powerToDb(mel.data, dbOpts));
  const imageMs = timeMs(reps, () => dbToImage(db, cfg));
  const totalMs = timeMs(reps, () => clipImageFromSamples(x, cfg));
  useWasmImage(false);
  const jsDbMs = timeMs(reps, () => powerToDb(mel.data, dbOpts));
  const jsImageMs = timeMs(reps, () => dbToImage(db, cfg));
  useWasmImage(true);
  useWasmMelPower(false);
  const jsStftMs = timeMs(reps, () => { for (let t = 0; t < frames; t++) plan.framePowerF64(framed, t, power); });
  const jsMelMs = timeMs(reps, () => melSpectrogram(padded, cfg));
  useWasmMelPower(true);
  const rows: Array<[string, number]> = [
    ['trim', trimMs],
    [`mel power (${frames} frames, n_fft ${cfg.nFft}, float64; ${engine})`, melMs],
    ['dB + uint8 image (imageFromPower, wasm-simd)', dbImageMs],
    ['total clipImageFromSamples', totalMs],
  ];
  const alone: Array<[string, number]> = [
    ['power_to_db (wasm-simd, copies in and out)', dbMs],
    ['power_to_db (JavaScript loop)', jsDbMs],
    ['uint8 image (numpy float32 statistics; wasm-simd, copy in)', imageMs],
    ['uint8 image (JavaScript loop)', jsImageMs],
  ];
  const jsRows: Array<[string, number]> = [
    ['mel power on the JavaScript loop', jsMelMs],
    ['  of which STFT + power', jsStftMs],
    ['  of which mel product + padding', jsMelMs - jsStftMs],
  ];
  console.log(`cpu: ${cpus().length} × ${cpuModel()}`);
  console.log(`load: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
  for (const [name, ms] of rows) console.log(`${name.padEnd(60)} ${ms.toFixed(2).padStart(7)} ms  ${((100 * ms) / totalMs).toFixed(0).padStart(3)} %`);
  console.log(`mel power: ${((1000 * melMs) / frames).toFixed(1)} µs per frame (${engine})`);
  console.log('dB and image alone:');
  for (const [name, ms] of alone) console.log(`${name.padEnd(60)} ${ms.toFixed(2).padStart(7)} ms`);
  console.log('for comparison, the JavaScript loop the kernel replaces (same bits):');
  for (const [name, ms] of jsRows) console.log(`${name.padEnd(60)} ${ms.toFixed(2).padStart(7)} ms`);
  const r2 = (v: number) => Math.round(v * 100) / 100;
  console.log(JSON.stringify({
    bench: 'profile-features',
    timing: 'cpu',
    date: new Date().toISOString(),
    machine: `${hostname()}: ${cpus().length} × ${cpuModel()}`,
    clipSeconds: 10,
    reps,
    frames,
    melPowerEngine: engine,
    ms: { trim: r2(trimMs), melPower: r2(melMs), dbAndImage: r2(dbImageMs), powerToDb: r2(dbMs), image: r2(imageMs), total: r2(totalMs) },
    jsMs: { powerToDb: r2(jsDbMs), image: r2(jsImageMs) },
    jsLoopMs: { melPower: r2(jsMelMs), stftPower: r2(jsStftMs), melProductAndPadding: r2(jsMelMs - jsStftMs) },
    loadAverage: r2(loadavg()[0]),
  }));
}

main();
