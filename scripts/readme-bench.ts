/**
 * The README's speed table comes from recorded benchmark output, never typed by hand:
 *
 *   bash scripts/bench-all.sh                    # runs the benches, records bench/results/<date>/, renders
 *   npx tsx scripts/readme-bench.ts --render     # rewrites the README block from the newest record
 *   npx tsx scripts/readme-bench.ts --check      # README block == render(newest record)?
 *
 * A record is a folder bench/results/<YYYY-MM-DD>[THHMMZ]/ holding the last line (one JSON object) of
 * each bench: train-2threads.json and train-1thread.json (`bench:train`), infer.json
 * (`bench:infer`) and features.json (`bench:features`). The block sits between
 * `<!-- readme-bench:speed -->` and `<!-- /readme-bench:speed -->`; tests/project/readmeBench.test.ts
 * runs the same check as `--check`.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
const RESULTS_DIR = join(ROOT, 'bench', 'results');
const README = join(ROOT, 'README.md');
const BLOCK = 'readme-bench:speed';

interface TrainRow {
  model: string;
  width: number;
  batch: number;
  microBatch: number;
  samplesPerSecond: number;
  pytorchSamplesPerSecond?: number;
  ratioVsPyTorch?: number;
}
interface TrainRecord {
  date: string;
  machine: string;
  threads: number;
  peerMeasured: boolean;
  results: TrainRow[];
}
interface InferRow {
  engine: string;
  model: string;
  batch: number;
  width: number;
  windowsPerSecond: number | null;
  ratioVsPyTorch: number | null;
}
interface InferRecord {
  date: string;
  threads: number;
  peerMeasured: boolean;
  results: InferRow[];
}
interface FeaturesRecord {
  date: string;
  clipSeconds: number;
  peerMeasured: boolean;
  clipsPerSecond1Thread: number;
  pytorchClipsPerSecond1Thread?: number;
  ratioVsPyTorch1Thread?: number;
  /** Per-round wall-clock ratios: min, quartiles, max (records from 2026-12-06 22:00 on). */
  ratioSpreadVsPyTorch1Thread?: number[] | null;
  /** The same comparisons on each side's thread CPU time (records from 2026-12-06 22:00 on). */
  cpuTimeRatioVsPyTorch1Thread?: number | null;
  cpuTimeRatioOfMediansVsPyTorch1Thread?: number | null;
}

/** One recorded benchmark session (a bench/results/<date>/ folder). */
export interface BenchRecord {
  folder: string;
  train2: TrainRecord;
  train1: TrainRecord | null;
  /** The same bench with FAT2019_RELAXED_SIMD=0 (the plain SIMD builds), for the A/B line. */
  trainPlainSimd: TrainRecord | null;
  infer: InferRecord | null;
  features: FeaturesRecord | null;
}

function readJson<T>(file: string): T | null {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : null;
}

/** The newest record (folders sort by UTC date, then time); throws when there is none. */
export function readNewestRecord(dir = RESULTS_DIR): BenchRecord {
  const folders = existsSync(dir) ? readdirSync(dir).filter((f) => /^\d{4}-\d{2}-\d{2}/.test(f)).sort() : [];
  if (folders.length === 0) throw new Error(`no benchmark record in ${dir} (run bash scripts/bench-all.sh)`);
  const folder = folders[folders.length - 1];
  const at = (name: string) => join(dir, folder, name);
  const train2 = readJson<TrainRecord>(at('train-2threads.json'));
  if (!train2) throw new Error(`${at('train-2threads.json')} is missing`);
  return {
    folder, train2, train1: readJson<TrainRecord>(at('train-1thread.json')), trainPlainSimd: readJson<TrainRecord>(at('train-plain-simd.json')),
    infer: readJson<InferRecord>(at('infer.json')), features: readJson<FeaturesRecord>(at('features.json')),
  };
}

const x = (r: number | null | undefined) => (r == null ? '—' : `${r.toFixed(2)}×`);
const rate = (v: number | null | undefined) => (v == null ? '—' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const widthLabel = (w: number) => (w === 1 ? '1' : w === 0.125 ? '1/8' : String(w));

/** The README block: the training table per network and width, inference and features. */
export function renderSpeedBlock(rec: BenchRecord): string {
  const t2 = rec.train2;
  const lines: string[] = [];
  lines.push(`Recorded ${t2.date.slice(0, 16).replace('T', ' ')} UTC on ${t2.machine.replace(/^[^:]*: /, '')}; tfjs-wasm 4.22 SIMD, PyTorch 1.13 (Debian) measured side by side in the same runs (\`bench/results/${rec.folder}/\`, rendered by \`scripts/readme-bench.ts\`).`);
  lines.push('');
  lines.push('| network | width | batch | this project, 2 threads (samples/s) | PyTorch, 2 threads | ratio | ratio, 1 thread |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const r of t2.results) {
    const one = rec.train1?.results.find((o) => o.model === r.model && o.width === r.width);
    const batch = r.microBatch === r.batch ? String(r.batch) : `${r.batch} (${r.batch / r.microBatch} × ${r.microBatch})`;
    lines.push(`| ${r.model} | ${widthLabel(r.width)} | ${batch} | ${rate(r.samplesPerSecond)} | ${rate(r.pytorchSamplesPerSecond)} | ${x(r.ratioVsPyTorch)} | ${x(one?.ratioVsPyTorch)} |`);
  }
  if (rec.trainPlainSimd) {
    const pairs = rec.trainPlainSimd.results.map((p) => {
      const fused = t2.results.find((r) => r.model === p.model && r.width === p.width);
      return `${p.model} width ${widthLabel(p.width)} ${x(p.ratioVsPyTorch)} (${x(fused?.ratioVsPyTorch)} with it)`;
    });
    lines.push('');
    lines.push(`Without relaxed SIMD's fused multiply-add (\`FAT2019_RELAXED_SIMD=0\`, 2 threads, a separate run; ratios to PyTorch, since both sides' rates drift between runs): ${pairs.join('; ')}.`);
  }
  if (rec.infer) {
    lines.push('');
    lines.push(`Inference (\`bench:infer\`, ${rec.infer.threads} threads, windows/s):`);
    lines.push('');
    lines.push('| network | width | batch | engine | windows/s | ratio to PyTorch |');
    lines.push('|---|---|---|---|---|---|');
    for (const r of rec.infer.results) lines.push(`| ${r.model} | ${widthLabel(r.width)} | ${r.batch} | ${r.engine} | ${rate(r.windowsPerSecond)} | ${x(r.ratioVsPyTorch)} |`);
  }
  if (rec.features) {
    const f = rec.features;
    lines.push('');
    const ofMedians = f.pytorchClipsPerSecond1Thread ? f.clipsPerSecond1Thread / f.pytorchClipsPerSecond1Thread : null;
    const spread = f.ratioSpreadVsPyTorch1Thread ? ` (per-round ratios ${f.ratioSpreadVsPyTorch1Thread.map((v) => v.toFixed(2)).join(' / ')}: min, quartiles, max)` : '';
    const cpu = f.cpuTimeRatioVsPyTorch1Thread != null
      ? ` By each side's CPU time: the median of the per-round ratios ${x(f.cpuTimeRatioVsPyTorch1Thread)}, the ratio of the medians ${x(f.cpuTimeRatioOfMediansVsPyTorch1Thread ?? null)}.`
      : '';
    lines.push(`Features (\`bench:features\`, log-mel image of a ${f.clipSeconds} s clip, 1 thread): this project ${rate(f.clipsPerSecond1Thread)} clips/s, PyTorch ${rate(f.pytorchClipsPerSecond1Thread)} (medians of the rounds); the median of the per-round ratios ${x(f.ratioVsPyTorch1Thread)}, the ratio of the medians ${x(ofMedians)}${spread}.${cpu}`);
  }
  return lines.join('\n');
}

/** `text` with the block replaced by `body`; throws when the markers are missing. */
export function applySpeedBlock(text: string, body: string): string {
  const open = `<!-- ${BLOCK} -->`;
  const close = `<!-- /${BLOCK} -->`;
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  if (a < 0 || b < a) throw new Error(`README.md has no ${open} … ${close} block`);
  return `${text.slice(0, a + open.length)}\n${body}\n${text.slice(b)}`;
}

function main(): void {
  const args = process.argv.slice(2);
  const readme = readFileSync(README, 'utf8');
  const want = applySpeedBlock(readme, renderSpeedBlock(readNewestRecord()));
  if (args.includes('--render')) {
    writeFileSync(README, want);
    console.log(`README.md: ${BLOCK} rendered`);
  } else if (args.includes('--check')) {
    if (want !== readme) {
      console.error(`README.md's ${BLOCK} block differs from the newest record: run npx tsx scripts/readme-bench.ts --render`);
      process.exitCode = 1;
    }
  } else {
    console.error('usage: npx tsx scripts/readme-bench.ts --render | --check');
    process.exitCode = 2;
  }
}

if (require.main === module) main();
