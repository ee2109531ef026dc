/**
 * The README's screenshots of the web page (docs/web-tags.png, docs/web-timeline.png), taken
 * with Debian's headless Chromium: `fat2019 web` builds the site of a trained run, a medley of
 * demo test clips with different labels (so the timeline shows which sound occurs when) is
 * tagged through `?audio=…&autorun=1`, and the page and its timeline are captured. For each
 * label the medley takes the single-label test clip the run's ensemble (tagged here in Node,
 * as `fat2019 tag`) ranks that label first with the highest probability: the small demo model
 * gets many clips wrong, and the picture is meant to show the page, not the model's errors.
 *
 *   node --import tsx scripts/web-screenshots.ts [--run weights/demo] [--data data/demo] [--out docs]
 *
 * Prints the medley's parts (file, label, start) and the page's #tags as one JSON line.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';
import { loadAudioFile } from '../lib/audio/load';
import { encodeWavPcm16 } from '../lib/audio/wav';
import { loadEnsemble, tagFiles } from '../lib/infer/index';
import { initBackend } from '../lib/runtime/backend';
import { buildSite } from '../lib/web/site';
import { serveFolder } from '../lib/web/serve';

const { values } = parseArgs({
  options: {
    run: { type: 'string', default: 'weights/demo' },
    data: { type: 'string', default: 'data/demo' },
    out: { type: 'string', default: 'docs' },
    chromium: { type: 'string', default: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' },
  },
});
const runDir = values.run!;
const dataDir = values.data!;
const outDir = values.out!;
const SR = 44100;
/** Most sounds in the medley. */
const MEDLEY_SOUNDS = 6;
const GAP_SECONDS = 0.6;

/** Per label, the single-label test clip the ensemble ranks first for it with the highest probability. */
async function pickClips(): Promise<{ fname: string; label: string }[]> {
  const rows = readFileSync(join(dataDir, 'test_post_competition.csv'), 'utf8').trim().split('\n').slice(1);
  const single = rows.map((r) => r.split(',')).filter((f) => f.length === 3).map(([fname, label]) => ({ fname, label }));
  const ensemble = await loadEnsemble(runDir);
  try {
    const tags = await tagFiles(single.map((c) => join(dataDir, 'test', c.fname)), ensemble, { topK: 1 });
    const best = new Map<string, { fname: string; label: string; p: number }>();
    tags.forEach((t, i) => {
      const { fname, label } = single[i];
      const top = t.labels[0];
      if (top.label !== label || t.seconds < 0.9) return;
      if ((best.get(label)?.p ?? 0) < top.probability) best.set(label, { fname, label, p: top.probability });
    });
    return [...best.values()].sort((a, b) => b.p - a.p).slice(0, MEDLEY_SOUNDS).sort((a, b) => a.fname.localeCompare(b.fname));
  } finally {
    ensemble.dispose();
  }
}

/** A WAV of the picked clips, in file-name order, with short gaps. */
async function writeMedley(file: string): Promise<{ file: string; label: string; start: number }[]> {
  const picked = await pickClips();
  if (picked.length < 2) throw new Error(`${runDir}: the ensemble tags fewer than 2 test clips right; train it longer`);
  const parts: { file: string; label: string; start: number }[] = [];
  const chunks: Float32Array[] = [];
  let at = 0;
  for (const { fname, label } of picked) {
    const samples = await loadAudioFile(join(dataDir, 'test', fname), { sampleRate: SR });
    parts.push({ file: fname, label, start: Math.round(at * 100) / 100 });
    chunks.push(samples, new Float32Array(Math.round(GAP_SECONDS * SR)));
    at += samples.length / SR + GAP_SECONDS;
  }
  const all = new Float32Array(chunks.reduce((s, c) => s + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    all.set(c, offset);
    offset += c.length;
  }
  writeFileSync(file, encodeWavPcm16(all, SR));
  return parts;
}

async function main(): Promise<void> {
  await initBackend();
  const siteDir = join('work', 'web-screenshots');
  await buildSite({ runDir, outDir: siteDir });
  const parts = await writeMedley(join(siteDir, 'demo-medley.wav'));
  const site = await serveFolder(siteDir, 0);
  const browser = await puppeteer.launch({
    executablePath: values.chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${join('work', 'web-screenshots-profile')}`],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1000, height: 760, deviceScaleFactor: 1 });
    await page.goto(`${site.url}?audio=demo-medley.wav&autorun=1&top=5`);
    await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), { timeout: 300_000 });
    const state = await page.evaluate(() => document.body.dataset.state);
    if (state !== 'done') throw new Error(`the page shows an error: ${await page.$eval('#error', (e) => e.textContent)}`);
    // Put the playback cursor on the third sound, as if playing.
    await page.evaluate((t: number) => {
      const player = document.getElementById('player') as HTMLAudioElement;
      player.currentTime = t;
      player.dispatchEvent(new Event('seeked'));
    }, parts[2].start + 0.5);
    await new Promise((r) => setTimeout(r, 300));
    mkdirSync(outDir, { recursive: true });
    await page.screenshot({ path: join(outDir, 'web-tags.png'), fullPage: true });
    const tracks = await page.$('#tracks');
    const box = (await tracks!.boundingBox())!;
    const axis = (await (await page.$('#axis'))!.boundingBox())!;
    await page.screenshot({ path: join(outDir, 'web-timeline.png'), clip: { x: box.x - 8, y: box.y - 8, width: box.width + 16, height: axis.y + axis.height - box.y + 16 } });
    const tags = JSON.parse(await page.$eval('#tags', (e) => e.textContent ?? '[]')) as unknown;
    const backend = await page.evaluate(() => document.body.dataset.backend);
    process.stdout.write(JSON.stringify({ backend, parts, tags }) + '\n');
  } finally {
    await browser.close();
    await site.close();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`web-screenshots: ${err.message}\n`);
  process.exitCode = 1;
});
