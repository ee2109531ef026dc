import puppeteer from 'puppeteer-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const { serveFolder } = await import('/work/wt/web/lib/web/serve.ts');
const site = await serveFolder(process.argv[3] ?? '/tmp/webt/site', 0);
const browser = await puppeteer.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox','--disable-gpu','--disable-quic','--no-first-run','--disable-background-networking','--disable-component-update','--disable-sync', `--user-data-dir=${mkdtempSync(join(tmpdir(),'chr-'))}`] });
const page = await browser.newPage();
await page.setViewport({width: 1200, height: 900});
const backend = process.argv[2] ?? 'wasm';
await page.goto(site.url + `?audio=long.wav&autorun=1&backend=${backend}`);
// Main-thread responsiveness: the longest gap between 50 ms timer ticks while the job runs.
await page.evaluate(() => { (window as any).gaps = []; let last = performance.now(); setInterval(() => { const t = performance.now(); (window as any).gaps.push(t - last); last = t; }, 50); });
const t0 = Date.now();
const seen = new Set<string>();
while (true) {
  const s = await page.evaluate(() => [document.body.dataset.state, document.getElementById('status-text')!.textContent]);
  if (s[1]) seen.add(String(s[1]).replace(/[\d.]+ s\)|\d+ \/ \d+/g, '#'));
  if (s[0] === 'done' || s[0] === 'error') { console.log(s); break; }
  await new Promise(r => setTimeout(r, 500));
}
const wall = (Date.now() - t0) / 1000;
const gaps: number[] = await page.evaluate(() => (window as any).gaps);
const status = await page.evaluate(() => document.getElementById('status-text')!.textContent);
console.log(JSON.stringify({ backend, wall, maxGapMs: Math.max(...gaps), p99GapMs: gaps.sort((a,b)=>a-b)[Math.floor(gaps.length*0.99)], status, phasesSeen: [...seen] }));
await page.screenshot({ path: '/tmp/webt/long.png', fullPage: true });
await browser.close(); await site.close();
