/**
 * `npm run bench:quality -- --data <folder or CSV> [--seeds 3]`: how good a model this toolkit
 * trains with its defaults, beside a PyTorch peer with the same network and the same recipe.
 *
 * For each seed: `fat2019 train` (recipe single, one model on every labelled clip, the data
 * rules choosing what the user leaves unset; --width, --epochs, --arch and any `--train-args`
 * passed through) and `fat2019 infer` on the labelled test set; then bench/quality_peer.py
 * trains the same network on the same clip images (the toolkit's feature cache) with the recipe
 * read from the toolkit run's resolved config (run.json) and predicts the same test clips with
 * the same windows. The two sides run one after the other, never at once; both are scored by
 * this script with one implementation (lib/metrics): top-1 accuracy, lwlrap, macro mAP. Prints
 * mean ± sd over seeds and each side's training time (its training loop, measured by itself);
 * the last line is one JSON object (`peerMeasured`: whether the PyTorch side ran).
 *
 *   npm run bench:quality -- --data work/fsdd/data --seeds 3 [--epochs 10] [--width 0.125]
 *     [--arch cnnModel1] [--out work/bench-quality] [--train-args "--batch-size 32"] [--no-peer]
 *     [--first-seed 2019] (seeds first..first+n-1: parallel instances split the seeds) [--cache <dir>]
 *   npm run bench:quality -- --data D --collect dir1,dir2   # score and summarise their --out folders
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Fat2019Config } from '../lib/config';
import { cacheEntryPath, readCachedImage } from '../lib/data/featureCache';
import { readLabelCsv, type LabeledClip } from '../lib/data/labels';
import { detectLayout } from '../lib/data/layout';
import { readSubmission } from '../lib/data/submission';
import { averagePrecision, lwlrap } from '../lib/metrics/index';
import { readFoldDone, readRunInfo } from '../lib/run/runFolder';
import { machineLoad, peerPython, torchUnavailable } from './_common';

const HERE = resolve(__dirname, '..');
const CLI = join(HERE, 'bin', 'fat2019.cjs');

interface SideResult {
  seed: number;
  top1: number;
  lwlrap: number;
  mAP: number;
  trainSeconds: number;
}

/** Top-1 accuracy, lwlrap and macro mAP of `scores` `[clips][C]` against `truth` (0/1). */
function qualityMetrics(truth: Uint8Array, scores: Float32Array | Float64Array, numClasses: number): { top1: number; lwlrap: number; mAP: number } {
  const clips = truth.length / numClasses;
  let hits = 0;
  for (let i = 0; i < clips; i++) {
    let best = 0;
    for (let c = 1; c < numClasses; c++) if (scores[i * numClasses + c] > scores[i * numClasses + best]) best = c;
    if (truth[i * numClasses + best] === 1) hits++;
  }
  return { top1: hits / clips, lwlrap: lwlrap(truth, scores, numClasses).overall, mAP: averagePrecision(truth, scores, numClasses).macro };
}

function meanSd(xs: number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd };
}

function run(cmd: string, args: string[], what: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}):\n${(r.stderr || '').slice(-3000)}`);
  return r.stdout;
}

/** Writes the clip images of `clips` (from the feature cache) as index.json + pixels.u8 for the peer. */
function exportImages(dir: string, cacheDir: string, config: Fat2019Config, vocabulary: string[],
  sets: { train: { dataset: string; clips: LabeledClip[] }; test: { dataset: string; clips: LabeledClip[] } }): void {
  mkdirSync(dir, { recursive: true });
  const parts: Uint8Array[] = [];
  let offset = 0;
  const index: Record<string, unknown> = { numClasses: vocabulary.length };
  for (const name of ['train', 'test'] as const) {
    const rows = sets[name].clips.map((clip) => {
      const path = cacheEntryPath(cacheDir, config.preprocess, sets[name].dataset, clip.fname);
      const img = readCachedImage(path, config.preprocess.nMels);
      if (!img) throw new Error(`${path}: no cached image of ${sets[name].dataset}/${clip.fname} (the toolkit's train/infer should have made it)`);
      // The peer reads uint8 log-mel images; a float front end (PANNs' dB features) is not benchmarked here.
      if (!(img.data instanceof Uint8Array)) throw new Error(`${path}: float features (a PANNs-style front end); bench:quality compares uint8-image recipes only`);
      parts.push(img.data);
      const row = { nMels: img.nMels, frames: img.frames, offset, labels: clip.labels.map((l) => vocabulary.indexOf(l)) };
      offset += img.data.length;
      return row;
    });
    index[name] = rows;
  }
  writeFileSync(join(dir, 'pixels.u8'), Buffer.concat(parts));
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
}

function truthMatrix(clips: LabeledClip[], vocabulary: string[]): Uint8Array {
  const t = new Uint8Array(clips.length * vocabulary.length);
  clips.forEach((c, i) => c.labels.forEach((l) => {
    const k = vocabulary.indexOf(l);
    if (k >= 0) t[i * vocabulary.length + k] = 1;
  }));
  return t;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string' }, seeds: { type: 'string' }, epochs: { type: 'string' }, width: { type: 'string' }, arch: { type: 'string' },
      out: { type: 'string' }, cache: { type: 'string' }, 'first-seed': { type: 'string' }, 'train-args': { type: 'string' }, 'no-peer': { type: 'boolean' }, threads: { type: 'string' }, collect: { type: 'string' }, help: { type: 'boolean' },
    },
  });
  if (values.help || typeof values.data !== 'string') {
    process.stdout.write(readFileSync(__filename, 'utf8').split('*/')[0].replace(/^\/\*\*\n/, '').replace(/^ \* ?/gm, '') + '\n');
    return values.help ? 0 : 2;
  }
  const seeds = Number(values.seeds ?? 3);
  if (!Number.isInteger(seeds) || seeds < 1) throw new Error(`--seeds must be an integer >= 1, got ${values.seeds}`);
  const epochs = values.epochs ?? '10';
  const width = values.width ?? '0.125';
  const arch = values.arch ?? 'cnnModel1';
  const out = resolve(values.out ?? 'work/bench-quality');
  const cacheDir = resolve(values.cache ?? join(out, 'features'));
  const firstSeed = Number(values['first-seed'] ?? 2019);
  if (!Number.isInteger(firstSeed) || firstSeed < 0) throw new Error(`--first-seed must be an integer >= 0, got ${values['first-seed']}`);
  const extra = (values['train-args'] ?? '').split(/\s+/).filter((s) => s !== '');
  const noPeer = torchUnavailable(values['no-peer'] ? ['--no-peer'] : []);
  const layout = detectLayout(values.data);
  const vocabulary = layout.vocabulary;
  const test = layout.test;
  if (!test) throw new Error(`${values.data}: no test set (test/<class>/ or test/ with test_post_competition.csv) to score on`);
  const testClips = test.truth ?? (test.truthFile ? readLabelCsv(test.truthFile, vocabulary) : undefined);
  if (!testClips) throw new Error(`${values.data}: the test set has no labels to score against`);
  const truth = truthMatrix(testClips, vocabulary);
  const C = vocabulary.length;
  const started = new Date().toISOString();
  const loadBefore = machineLoad();
  const toolkit: SideResult[] = [];
  const peer: SideResult[] = [];
  let config: Fat2019Config | undefined;
  let choices = '';
  /** A toolkit run's test scores (test-scores.csv) scored, with its training time (done.json). */
  const scoreToolkit = (runDir: string, seed: number): SideResult => {
    const info = readRunInfo(runDir);
    config = info.config;
    const sub = readSubmission(join(runDir, 'test-scores.csv'), info.vocabulary);
    const rowOf = new Map(sub.fnames.map((f, i) => [f, i]));
    const scores = new Float64Array(testClips.length * C);
    testClips.forEach((clip, i) => {
      const row = rowOf.get(clip.fname);
      if (row === undefined) throw new Error(`${runDir}/test-scores.csv: no row for ${clip.fname}`);
      for (let c = 0; c < C; c++) scores[i * C + c] = sub.scores[row * C + info.vocabulary.indexOf(vocabulary[c])];
    });
    const done = readFoldDone(runDir, config.model.arch, 1, 0);
    return { seed, ...qualityMetrics(truth, scores, C), trainSeconds: done?.seconds ?? NaN };
  };
  /** The peer's scores file (float32 [clips][C], test clips in label order) scored. */
  const scorePeer = (scoresFile: string, seed: number, trainSeconds: number): SideResult => {
    const buf = readFileSync(scoresFile);
    return { seed, ...qualityMetrics(truth, new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4), C), trainSeconds };
  };
  // --collect: score what parallel instances (--first-seed) left in their --out folders.
  const collectDirs = values.collect ? values.collect.split(',').map((d) => resolve(d)) : [];
  for (const dir of collectDirs) {
    for (const name of readdirSync(dir).filter((n) => /^toolkit-seed\d+$/.test(n)).sort()) {
      const seed = Number(name.slice('toolkit-seed'.length));
      if (!existsSync(join(dir, name, 'test-scores.csv'))) continue;
      toolkit.push(scoreToolkit(join(dir, name), seed));
      const scoresFile = join(dir, `peer-seed${seed}.f32`);
      const infoFile = join(dir, `peer-seed${seed}.json`);
      if (existsSync(scoresFile) && existsSync(infoFile)) peer.push(scorePeer(scoresFile, seed, (JSON.parse(readFileSync(infoFile, 'utf8')) as { trainSeconds: number }).trainSeconds));
    }
  }
  for (let s = 0; s < (collectDirs.length > 0 ? 0 : seeds); s++) {
    const seed = firstSeed + s;
    const runDir = join(out, `toolkit-seed${seed}`);
    rmSync(runDir, { recursive: true, force: true });
    const trainArgs = ['train', '--run', runDir, '--data', values.data, '--cache', cacheDir, '--recipe', 'single', '--folds', '1',
      '--width', width, '--epochs', epochs, '--arch', arch, '--seed', String(seed), ...extra];
    process.stderr.write(`[seed ${seed}] toolkit: fat2019 ${trainArgs.join(' ')}\n`);
    const r = spawnSync(process.execPath, [CLI, ...trainArgs], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`fat2019 train failed (exit ${r.status}):\n${(r.stderr || '').slice(-3000)}`);
    if (s === 0) choices = (r.stderr || '').split('\n').filter((l) => /^(batch|max lr|mixup|SpecMix|head dropout)/.test(l)).join('\n');
    run(process.execPath, [CLI, 'infer', '--run', runDir, '--cache', cacheDir, '--out', join(runDir, 'test-scores.csv'), '--quiet'], 'fat2019 infer');
    toolkit.push(scoreToolkit(runDir, seed));
    process.stderr.write(`[seed ${seed}] toolkit: top-1 ${toolkit[s].top1.toFixed(3)}, lwlrap ${toolkit[s].lwlrap.toFixed(3)}, ${Math.round(toolkit[s].trainSeconds)} s\n`);
    if (noPeer !== null) continue;
    const images = join(out, 'peer-images');
    if (s === 0) exportImages(images, cacheDir, config!, vocabulary, { train: { dataset: layout.curated.dataset, clips: layout.curated.clips }, test: { dataset: test.dataset, clips: testClips } });
    const scoresFile = join(out, `peer-seed${seed}.f32`);
    const line = run(peerPython(), [join(HERE, 'bench', 'quality_peer.py'), '--images', images, '--config', join(runDir, 'run.json'), '--seed', String(seed),
      '--out', scoresFile, '--threads', values.threads ?? '2'], 'bench/quality_peer.py').trim().split('\n').pop()!;
    const peerInfo = JSON.parse(line) as { trainSeconds: number };
    writeFileSync(join(out, `peer-seed${seed}.json`), line + '\n');
    peer.push(scorePeer(scoresFile, seed, peerInfo.trainSeconds));
    process.stderr.write(`[seed ${seed}] PyTorch: top-1 ${peer[s].top1.toFixed(3)}, lwlrap ${peer[s].lwlrap.toFixed(3)}, ${Math.round(peer[s].trainSeconds)} s\n`);
  }
  const summary = (rs: SideResult[]) => ({
    top1: meanSd(rs.map((r) => r.top1)), lwlrap: meanSd(rs.map((r) => r.lwlrap)), mAP: meanSd(rs.map((r) => r.mAP)), trainSeconds: meanSd(rs.map((r) => r.trainSeconds)),
  });
  const fmt = (m: { mean: number; sd: number }, d = 3) => `${m.mean.toFixed(d)} ± ${m.sd.toFixed(d)}`;
  const tk = summary(toolkit);
  const lines = [
    `data ${values.data}: ${layout.curated.clips.length} training clips, ${testClips.length} test clips, ${C} classes; ${config?.model.arch ?? arch} width ${config?.model.widthMultiplier ?? width}, ${config?.pipeline.stageEpochs[0] ?? epochs} epochs, ${toolkit.length} seed(s): ${toolkit.map((r) => r.seed).join(', ')}`,
    config ? `recipe (the toolkit's run.json, used by both sides): batch ${config.train.batchSize}, max lr ${config.pipeline.stageMaxLr[0]}, ` +
      `mixup ${config.augment.mixup.enabled ? 'on' : 'off'}, SpecMix ${config.augment.specMix.enabled ? 'on' : 'off'}, head dropout ${config.model.headDropout1}/${config.model.headDropout2}, ` +
      `zoom ${config.augment.zoom.enabled ? 'on' : 'off'}, lighting ${config.augment.lighting.enabled ? 'on' : 'off'}` : 'no toolkit run',
    ...(choices ? [`toolkit's choices (data rules):\n${choices.replace(/^/gm, '  ')}`] : []),
    `| side | top-1 | lwlrap | mAP | training s |`,
    `|---|---|---|---|---|`,
    `| fat2019-ts (tfjs wasm) | ${fmt(tk.top1)} | ${fmt(tk.lwlrap)} | ${fmt(tk.mAP)} | ${fmt(tk.trainSeconds, 0)} |`,
  ];
  const pt = peer.length > 0 ? summary(peer) : null;
  if (pt) lines.push(`| PyTorch ${spawnSync(peerPython(), ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).stdout.trim()} (same recipe) | ${fmt(pt.top1)} | ${fmt(pt.lwlrap)} | ${fmt(pt.mAP)} | ${fmt(pt.trainSeconds, 0)} |`);
  else lines.push(`PyTorch peer: no results (${noPeer ?? 'none finished in the collected folders'})`);
  process.stdout.write(lines.join('\n') + '\n');
  process.stdout.write(JSON.stringify({
    bench: 'quality', data: values.data, seeds: toolkit.map((r) => r.seed), collected: collectDirs.length > 0 ? collectDirs : undefined, epochs: config?.pipeline.stageEpochs[0] ?? Number(epochs), width: config?.model.widthMultiplier ?? Number(width), arch: config?.model.arch ?? arch, trainArgs: extra,
    recipe: config ? { batchSize: config.train.batchSize, maxLr: config.pipeline.stageMaxLr[0], mixup: config.augment.mixup.enabled, specMix: config.augment.specMix.enabled, headDropout: [config.model.headDropout1, config.model.headDropout2], zoom: config.augment.zoom.enabled, lighting: config.augment.lighting.enabled } : null,
    toolkit: { runs: toolkit, ...tk }, peer: pt ? { runs: peer, ...pt } : null, peerMeasured: pt !== null,
    machine: `${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores`, loadBefore, loadAfter: machineLoad(), started,
  }) + '\n');
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
    process.stderr.write(`bench:quality: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
