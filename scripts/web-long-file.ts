/**
 * Measures the web page on a long file: `fat2019 web` builds the site of a run, a 10-minute
 * WAV (a chirp with noise bursts) is tagged through `?audio=…&autorun=1` in headless Chromium,
 * and the main thread's longest stall is measured with a 50 ms timer while the worker runs.
 *
 *   node --import tsx scripts/web-long-file.ts [--run weights/demo] [--minutes 10] [--backend wasm]
 *
 * Prints one JSON line: backend, wall seconds, the page's own phase times, the longest and the
 * 99th-percentile gap between timer ticks (ms), and the progress texts seen.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';
import { buildSite } from '../lib/web/site';
import { serveFolder } from '../lib/web/serve';
import { writeTestClip } from '../tests/browser/tinyRun';

const { values } = parseArgs({
  options: {
    run: { type: 'string', default: 'weights/demo' },
    minutes: { type: 'string', default: '10' },
    backend: { type: 'string', default: 'wasm' },
    chromium: { type: 'string', default: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' },
  },
});

interface PageWindow {
  gaps: number[];
}

async function main(): Promise<void> {
  const siteDir = join('work', 'web-long-file');
  await buildSite({ runDir: values.run!, outDir: siteDir });
  writeTestClip(join(siteDir, 'long.wav'), Number(values.minutes) * 60);
  const site = await serveFolder(siteDir, 0);
  const browser = await puppeteer.launch({
    executablePath: values.chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${join('work', 'web-long-file-profile')}`],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    await page.goto(`${site.url}?audio=long.wav&autorun=1&backend=${values.backend}`);
    await page.evaluate(() => {
      const w = window as unknown as PageWindow;
      w.gaps = [];
      let last = performance.now();
      setInterval(() => {
        const t = performance.now();
        w.gaps.push(t - last);
        last = t;
      }, 50);
    });
    const t0 = Date.now();
    const seen = new Set<string>();
    for (;;) {
      const [state, status] = await page.evaluate(() => [document.body.dataset.state ?? '', document.getElementById('status-text')?.textContent ?? '']);
      if (status) seen.add(status.replace(/[\d.]+ s|\d+ \/ \d+/g, '#'));
      if (state === 'error') throw new Error(`the page shows an error: ${await page.$eval('#error', (e) => e.textContent)}`);
      if (state === 'done') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const wall = (Date.now() - t0) / 1000;
    const gaps = (await page.evaluate(() => (window as unknown as PageWindow).gaps)).sort((a, b) => a - b);
    const backend = await page.evaluate(() => document.body.dataset.backend);
    const status = await page.$eval('#status-text', (e) => e.textContent);
    process.stdout.write(JSON.stringify({ backend, wall, status, maxGapMs: gaps[gaps.length - 1], p99GapMs: gaps[Math.floor(gaps.length * 0.99)], progressSeen: [...seen] }) + '\n');
  } finally {
    await browser.close();
    await site.close();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`web-long-file: ${err.message}\n`);
  process.exitCode = 1;
});
