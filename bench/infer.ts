/**
 * Inference throughput, measured on the code `fat2019 infer` runs, for each engine side by side
 * in the same run:
 * - network: windows/s of one forward pass of `--batch` windows (default 64, one pass, no
 *   split) through the WindowNetwork infer uses (lib/infer/network: the single-channel window
 *   batch in, logits read back to JS): `tfjs-<backend>` (tfjsNetwork on the backend infer picks,
 *   wasm here, BatchNorm folded into the convs: lib/infer/foldedModel), `tfjs-<backend>-unfolded`
 *   (the same weights through model.predict, as FAT2019_INFER_FOLD=0; passes interleaved with
 *   the folded ones) and `onnxruntime` (ortNetwork on the model exported by lib/export, the
 *   same weights); `pytorch`: the same architecture (bench/torch_models.py) at the same batch and
 *   threads, from bench/infer_torch.py, when /usr/bin/python3 imports torch
 *   (`peerMeasured: true`), else marked not measured;
 * - infer: the whole `fat2019 infer` command (a child process: decode, features on worker
 *   threads, windows, network, submission) on the demo test set (data/demo, generated when
 *   missing) with a run folder of `--members` untrained members of the benchmarked network,
 *   per engine, cache cold;
 * - estimate: hours for the 4,481 FSDKaggle2019 test clips (12.9 h of audio) with one model and
 *   with the 30-model ensemble, from the measured windows/s and features clips/s.
 *
 *   npm run bench:infer -- [--quick] [--models cnnModel1] [--batch 64] [--steps 3] [--warmup 1]
 *                          [--width 1] [--size 128] [--threads <cores>] [--members 1] [--no-infer]
 *
 * The last line of output is one JSON object.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CONFIG_DEFAULTS, withDefaults } from '../lib/config';
import { readVocabulary } from '../lib/data/labels';
import { exportModelBytes } from '../lib/export/onnxFile';
import { ortNetwork, tfjsNetwork, type WindowNetwork } from '../lib/infer/network';
import { architectureNames, buildModel, isArchitecture } from '../lib/models';
import { writeFoldDone, writeRunInfo } from '../lib/run/runFolder';
import { describeBackend, initBackend } from '../lib/runtime/backend';
import { saveModel } from '../lib/runtime/modelFile';
import { loadOnnxRuntime } from '../lib/runtime/onnxRuntime';
import { benchData, machineLoad, median } from './_common';

const ROOT = join(__dirname, '..');
const PYTHON = '/usr/bin/python3';
/** FSDKaggle2019 test set (its README): 4,481 clips, 12.9 hours. */
const FSD_TEST = { clips: 4481, hours: 12.9 };
const REFERENCE_ENSEMBLE = 30;

interface Options {
  quick: boolean;
  models: string[];
  batch: number;
  steps: number;
  warmup: number;
  width: number;
  size: number;
  classes: number;
  threads: number;
  members: number;
  infer: boolean;
}

function parseOptions(argv: string[]): Options {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, fallback: number): number => {
    const v = value(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got '${v}'`);
    return n;
  };
  const quick = argv.includes('--quick');
  const models = (value('models') ?? 'cnnModel1').split(',').map((s) => s.trim()).filter(Boolean);
  for (const m of models) if (!isArchitecture(m)) throw new Error(`--models: unknown model '${m}' (${architectureNames().join(', ')})`);
  return {
    quick,
    models,
    batch: num('batch', quick ? 8 : 64),
    steps: num('steps', quick ? 2 : 3),
    warmup: num('warmup', 1),
    width: num('width', quick ? 0.25 : 1),
    size: num('size', quick ? 64 : 128),
    classes: num('classes', 80),
    threads: num('threads', os.availableParallelism()),
    members: num('members', 1),
    infer: !argv.includes('--no-infer'),
  };
}

interface NetworkResult {
  engine: string;
  model: string;
  batch: number;
  threads: number;
  width: number;
  size: number;
  measured: boolean;
  stepSeconds: number[];
  windowsPerSecond: number | null;
  /** windowsPerSecond / PyTorch's (null when PyTorch was not measured). */
  ratioVsPyTorch: number | null;
  note?: string;
}

/** Median windows/s of `net.logits` on one `batch`-window pass (what infer does per pass). */
async function timeNetwork(net: WindowNetwork, o: Options): Promise<{ stepSeconds: number[]; windowsPerSecond: number }> {
  const x = benchData(o.batch * o.size * o.size, 7);
  for (let i = 0; i < o.warmup; i++) await net.logits(x, o.batch, o.size, o.size);
  const times: number[] = [];
  for (let i = 0; i < o.steps; i++) {
    const t0 = performance.now();
    await net.logits(x, o.batch, o.size, o.size);
    times.push((performance.now() - t0) / 1000);
  }
  return { stepSeconds: times.map((t) => Number(t.toFixed(3))), windowsPerSecond: Number((o.batch / median(times)).toFixed(3)) };
}

/** {@link timeNetwork} for several networks, their passes interleaved (A, B, A, B, …). */
async function timeNetworks(nets: WindowNetwork[], o: Options): Promise<Array<{ stepSeconds: number[]; windowsPerSecond: number }>> {
  const x = benchData(o.batch * o.size * o.size, 7);
  for (let i = 0; i < o.warmup; i++) for (const net of nets) await net.logits(x, o.batch, o.size, o.size);
  const times = nets.map(() => [] as number[]);
  for (let i = 0; i < o.steps; i++) {
    for (const [k, net] of nets.entries()) {
      const t0 = performance.now();
      await net.logits(x, o.batch, o.size, o.size);
      times[k].push((performance.now() - t0) / 1000);
    }
  }
  return times.map((t) => ({ stepSeconds: t.map((v) => Number(v.toFixed(3))), windowsPerSecond: Number((o.batch / median(t)).toFixed(3)) }));
}

function torchAvailable(): { ok: boolean; reason: string } {
  const r = spawnSync(PYTHON, ['-c', 'import torch, torchvision; print(torch.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? { ok: true, reason: `torch ${r.stdout.trim()}` } : { ok: false, reason: `${PYTHON} cannot import torch and torchvision (Debian python3-torch, python3-torchvision)` };
}

function runTorch(model: string, o: Options): { stepSeconds: number[]; windowsPerSecond: number; torch: string } {
  const args = [join(__dirname, 'infer_torch.py'), '--model', model, '--batch', String(o.batch), '--steps', String(o.steps), '--warmup', String(o.warmup),
    '--threads', String(o.threads), '--width', String(o.width), '--size', String(o.size), '--classes', String(o.classes)];
  const r = spawnSync(PYTHON, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench/infer_torch.py failed: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

interface InferRunResult {
  engine: string;
  model: string;
  members: number;
  clips: number;
  seconds: number;
  clipsPerSecond: number;
  command: string;
}

/** The demo data (generated when missing) and a run folder of `members` untrained members at the bench's size. */
async function prepareInferRun(model: string, o: Options): Promise<{ runDir: string; dataDir: string; tmp: string }> {
  const dataDir = join(ROOT, 'data', 'demo');
  if (!existsSync(join(dataDir, 'sample_submission.csv'))) {
    const g = spawnSync(process.execPath, [join(ROOT, 'bin', 'fat2019.cjs'), 'generate', '--out', dataDir], { encoding: 'utf8' });
    if (g.status !== 0) throw new Error(`fat2019 generate failed: ${g.stderr}`);
  }
  const vocabulary = readVocabulary(join(dataDir, 'sample_submission.csv'));
  mkdirSync(join(ROOT, 'work'), { recursive: true });
  const tmp = mkdtempSync(join(ROOT, 'work', 'bench-infer-'));
  const runDir = join(tmp, 'run');
  const config = withDefaults(CONFIG_DEFAULTS, {
    model: { arch: model, numClasses: vocabulary.length, widthMultiplier: o.width, inputMels: CONFIG_DEFAULTS.model.inputMels },
    pipeline: { ensembleStages: [2] },
    infer: { batchSize: o.batch },
  });
  writeRunInfo(runDir, { version: 1, config, vocabulary, dataDir, createdAt: new Date().toISOString() });
  for (let fold = 0; fold < o.members; fold++) {
    const net = buildModel(config.model, { seed: fold });
    await saveModel(net, join(runDir, model, 'stage2', `fold${fold}`, 'best'));
    net.dispose();
    writeFoldDone(runDir, { arch: model, stage: 2, fold, epochs: 0, bestValidLwlrap: null, trainClips: 0, validClips: 0, seconds: 0, finishedAt: new Date().toISOString() });
  }
  return { runDir, dataDir, tmp };
}

/** Times `fat2019 infer` (cold feature cache) with `engine`. */
function timeInferCommand(engine: 'ort' | 'tfjs', model: string, run: { runDir: string; dataDir: string; tmp: string }, o: Options): InferRunResult {
  const cache = join(run.tmp, `cache-${engine}`);
  const out = join(run.tmp, `submission-${engine}.csv`);
  const args = ['infer', '--run', run.runDir, '--data', run.dataDir, '--engine', engine, '--cache', cache, '--out', out, '--threads', String(o.threads), '--quiet'];
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'fat2019.cjs'), ...args], { encoding: 'utf8', cwd: ROOT });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`fat2019 infer --engine ${engine} failed: ${r.stderr.trim()}`);
  const clips = readFileSync(out, 'utf8').trim().split('\n').length - 1;
  return {
    engine: engine === 'ort' ? 'onnxruntime' : 'tfjs', model, members: o.members, clips,
    seconds: Number(seconds.toFixed(2)), clipsPerSecond: Number((clips / seconds).toFixed(3)), command: `fat2019 ${args.join(' ')}`,
  };
}

/**
 * Windows of the FSDKaggle2019 test set: Σ (ceil((T − 128)/48) + 1) ≈ (total frames − 128·N)/48 + 1.5·N
 * with T = seconds · 44100 / 694 (hop), clips assumed at least 128 frames (2 s padding).
 */
function fsdTestWindows(): number {
  const cfg = CONFIG_DEFAULTS;
  const frames = (FSD_TEST.hours * 3600 * cfg.preprocess.sampleRate) / cfg.preprocess.hopLength;
  return Math.round((frames - cfg.infer.windowFrames * FSD_TEST.clips) / cfg.infer.windowShift + 1.5 * FSD_TEST.clips);
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const backend = await initBackend({ threads: o.threads });
  const { ort, reason: ortReason } = loadOnnxRuntime();
  const torch = torchAvailable();
  console.log(`${describeBackend(backend)}; ONNX Runtime: ${ortReason}; PyTorch: ${torch.reason}`);
  console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; load before: ${machineLoad()}`);
  const network: NetworkResult[] = [];
  const inferRuns: InferRunResult[] = [];
  for (const model of o.models) {
    const cfg = { ...CONFIG_DEFAULTS.model, arch: model, numClasses: o.classes, widthMultiplier: o.width, inputMels: o.size, inputFrames: o.size };
    const tfModel = buildModel(cfg, { seed: 1 });
    const base = { model, batch: o.batch, threads: o.threads, width: o.width, size: o.size };
    const rows: NetworkResult[] = [];
    // PyTorch first: it needs the cores alone, before tfjs' wasm threads exist.
    if (torch.ok) {
      const t = runTorch(model, o);
      rows.push({ ...base, engine: 'pytorch', measured: true, stepSeconds: t.stepSeconds, windowsPerSecond: t.windowsPerSecond, ratioVsPyTorch: 1, note: `torch ${t.torch}, eval, inference_mode` });
    } else {
      rows.push({ ...base, engine: 'pytorch', measured: false, stepSeconds: [], windowsPerSecond: null, ratioVsPyTorch: null, note: `not measured: ${torch.reason}` });
    }
    if (ort) {
      const net = await ortNetwork(exportModelBytes(tfModel), `${model}.onnx`, { channels: 3, height: o.size, width: o.size, numClasses: o.classes }, { threads: o.threads });
      rows.push({ ...base, engine: 'onnxruntime', measured: true, ...(await timeNetwork(net, o)), ratioVsPyTorch: null });
      net.dispose();
    } else {
      rows.push({ ...base, engine: 'onnxruntime', measured: false, stepSeconds: [], windowsPerSecond: null, ratioVsPyTorch: null, note: ortReason });
    }
    // The folded network infer runs (lib/infer/foldedModel), and the same weights through
    // model.predict (FAT2019_INFER_FOLD=0), alternating pass by pass so both see the same load.
    const tfNet = tfjsNetwork(tfModel, model, null, { ownsModel: false });
    const unfolded = tfjsNetwork(tfModel, model, null, { ownsModel: false, fold: false });
    const [foldedTime, unfoldedTime] = await timeNetworks([tfNet, unfolded], o);
    rows.push({ ...base, engine: `tfjs-${backend.flavour}`, measured: true, ...foldedTime, ratioVsPyTorch: null, note: 'BatchNorm folded into the convs (lib/infer/foldedModel)' });
    rows.push({ ...base, engine: `tfjs-${backend.flavour}-unfolded`, measured: true, ...unfoldedTime, ratioVsPyTorch: null, note: 'model.predict, FAT2019_INFER_FOLD=0' });
    tfNet.dispose();
    unfolded.dispose();
    tfModel.dispose();
    const torchRate = rows[0].windowsPerSecond;
    for (const r of rows) {
      if (torchRate && r.windowsPerSecond) r.ratioVsPyTorch = Number((r.windowsPerSecond / torchRate).toFixed(3));
      console.log(`${model} ${r.engine}: ${r.windowsPerSecond ?? 'not measured'} windows/s at batch ${o.batch}, ${o.threads} threads` +
        (r.measured ? ` (steps ${r.stepSeconds.join(', ')} s${r.ratioVsPyTorch !== null ? `, ${r.ratioVsPyTorch}× PyTorch` : ''})` : ` (${r.note})`));
    }
    network.push(...rows);

    if (o.infer) {
      const run = await prepareInferRun(model, o);
      try {
        for (const engine of ort ? (['ort', 'tfjs'] as const) : (['tfjs'] as const)) {
          const r = timeInferCommand(engine, model, run, o);
          inferRuns.push(r);
          console.log(`fat2019 infer on the demo test set, ${r.engine}, ${r.members} × ${model}: ${r.clips} clips in ${r.seconds} s (${r.clipsPerSecond} clips/s, cold feature cache)`);
        }
      } finally {
        rmSync(run.tmp, { recursive: true, force: true });
      }
    }
  }

  // Time estimates for the FSDKaggle2019 test set from the network rates (full-size runs only).
  const windows = fsdTestWindows();
  const estimates = network.filter((r) => r.windowsPerSecond && o.width === 1 && o.size === 128).map((r) => {
    const oneModelHours = windows / r.windowsPerSecond! / 3600;
    return {
      engine: r.engine, model: r.model, windows, windowsPerSecond: r.windowsPerSecond,
      oneModelHours: Number(oneModelHours.toFixed(2)), ensembleModels: REFERENCE_ENSEMBLE,
      ensembleHours: Number((oneModelHours * REFERENCE_ENSEMBLE).toFixed(1)),
    };
  });
  for (const e of estimates) {
    console.log(`estimate, FSDKaggle2019 test (${FSD_TEST.clips} clips, ~${windows} windows), ${e.model} on ${e.engine}: ${e.oneModelHours} h with one model, ${e.ensembleHours} h with ${REFERENCE_ENSEMBLE} (network only)`);
  }
  console.log(`load after: ${machineLoad()}`);
  tf.disposeVariables();
  console.log(JSON.stringify({
    bench: 'infer',
    date: new Date().toISOString(),
    machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', memGiB: Math.round(os.totalmem() / 2 ** 30), load: os.loadavg().map((v) => Number(v.toFixed(2))) },
    backend: backend.flavour,
    threads: o.threads,
    peerMeasured: torch.ok,
    results: network,
    infer: inferRuns,
    estimates,
  }));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
