/**
 * The `fat2019 web` page in headless Chromium (`npm run test:browser`; not part of `npm test`:
 * it needs Debian's chromium, which .ci/run installs). A one-model run is made here, the site
 * is built and served by `fat2019 web --serve`, and the page is driven over the DevTools
 * protocol with puppeteer-core (no browser download):
 * - a dropped WAV gets the same top-k labels as `fat2019 tag`, probabilities within 1e-3;
 * - `?audio=…&autorun=1` fills #tags and #timeline (wasm backend forced); WebGL forced and
 *   FLAC files (resampled, mixed down) give the CLI's tags as well;
 * - the fake microphone, playing a WAV, yields tags;
 * - a corrupt file and a missing URL show a clear message, and the page keeps working.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { PREPROCESS_DEFAULTS, INFER_DEFAULTS } from '../../lib/config';
import { slidingWindowStarts } from '../../lib/runtime/windows';
import { decodeForTagging } from '../../lib/infer/tag';
import type { TagResult } from '../../lib/infer/tag';
import type { Timeline } from '../../lib/web/timeline';
import { TINY_VOCABULARY, writeTestClip, writeTinyRun } from './tinyRun';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'fat2019.cjs');
const TOP_K = 3;
/** Longest wait for one page state: generous for software WebGL on a busy 2-core machine. */
const STATE_TIMEOUT_MS = 180_000;

const CHROMIUM_CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

let root = '';
let runDir = '';
let siteDir = '';
let clip = '';
let server: ChildProcess | null = null;
let baseUrl = '';
let browser: Browser | null = null;
let cliTags: TagResult[] = [];
/** FLAC files of a dependency (Sonic Pi samples, CC0): 96 kHz mono and 44.1 kHz stereo. */
const FLACS = ['hat_raw.flac', 'elec_twip.flac'];
let cliFlacTags: TagResult[] = [];

function runCliTag(files: string[]): TagResult[] {
  const cli = spawnSync(process.execPath, [CLI, 'tag', '--run', runDir, '--top', String(TOP_K), '--json', '--quiet', ...files], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(cli.status, 0, cli.stderr);
  return JSON.parse(cli.stdout.slice(cli.stdout.indexOf('['))) as TagResult[];
}

function chromiumPath(): string {
  const found = CHROMIUM_CANDIDATES.find((p): p is string => typeof p === 'string' && existsSync(p));
  if (!found) throw new Error(`no Chromium found (tried ${CHROMIUM_CANDIDATES.filter(Boolean).join(', ')}); install it (apt-get install chromium) or set CHROMIUM_PATH`);
  return found;
}

/** Starts `fat2019 web --serve --port 0`; resolves with the URL it prints. */
function startServer(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'web', '--run', runDir, '--out', siteDir, '--top', String(TOP_K), '--serve', '--port', '0'], { cwd: ROOT });
    server = child;
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /serving .* on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`fat2019 web exited with ${code} before serving:\n${out}\n${err}`)));
  });
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'fat2019-web-'));
  runDir = join(root, 'run');
  siteDir = join(root, 'site');
  clip = join(root, 'clip.wav');
  await writeTinyRun(runDir);
  writeTestClip(clip, 6.5);
  cliTags = runCliTag([clip]);
  const flacDir = join(dirname(require.resolve('supersonic-scsynth-samples/package.json')), 'samples');
  cliFlacTags = runCliTag(FLACS.map((f) => join(flacDir, f)));
  baseUrl = await startServer();
  copyFileSync(clip, join(siteDir, 'clip.wav'));
  for (const f of FLACS) copyFileSync(join(flacDir, f), join(siteDir, f));
  browser = await puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${join(root, 'profile')}`,
      '--autoplay-policy=no-user-gesture-required',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${clip}`,
    ],
  });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  rmSync(root, { recursive: true, force: true });
});

/** A fresh page at `query`, waiting until the models are loaded. */
async function openPage(query = ''): Promise<Page> {
  const page = await browser!.newPage();
  await page.setViewport({ width: 1100, height: 900 });
  await page.goto(baseUrl + query);
  return page;
}

/** Waits for body[data-state] to be one of `states`; returns it. */
async function waitForState(page: Page, states: string[]): Promise<string> {
  await page.waitForFunction((s: string[]) => s.includes(document.body.dataset.state ?? ''), { timeout: STATE_TIMEOUT_MS }, states);
  return page.evaluate(() => document.body.dataset.state ?? '');
}

const text = (page: Page, selector: string): Promise<string> => page.$eval(selector, (el) => el.textContent ?? '');

/** Drops `file` on the drop zone as a user would (a DataTransfer holding one File). */
async function dropFile(page: Page, file: string, name: string): Promise<void> {
  const base64 = readFileSync(file).toString('base64');
  await page.evaluate(
    (data: string, fileName: string) => {
      const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], fileName, { type: 'audio/wav' }));
      document.getElementById('drop-zone')!.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    },
    base64,
    name,
  );
}

function assertSameTags(page: TagResult[], cli: TagResult[]): void {
  assert.equal(page.length, 1);
  assert.equal(page[0].labels.length, TOP_K);
  assert.ok(Math.abs(page[0].seconds - cli[0].seconds) < 1e-9, `seconds ${page[0].seconds} vs ${cli[0].seconds}`);
  assert.deepEqual(page[0].labels.map((l) => l.label), cli[0].labels.map((l) => l.label));
  page[0].labels.forEach((l, i) => {
    const diff = Math.abs(l.probability - cli[0].labels[i].probability);
    assert.ok(diff < 1e-3, `${l.label}: page ${l.probability} vs CLI ${cli[0].labels[i].probability}`);
  });
}

test('a dropped WAV gets the same top-k labels as fat2019 tag, probabilities within 1e-3; the page names its backend', async () => {
  const page = await openPage();
  assert.equal(await waitForState(page, ['ready', 'error']), 'ready', await text(page, '#error'));
  const backend = await page.evaluate(() => document.body.dataset.backend ?? '');
  assert.ok(['webgpu', 'webgl', 'wasm', 'cpu'].includes(backend), `backend "${backend}"`);
  assert.match(await text(page, '#run-info'), new RegExp(`backend ${backend}`));
  // Chromium runs WebAssembly SIMD: the page computes the log-mel with the same kernel as Node.
  assert.equal(await page.evaluate(() => document.body.dataset.features ?? ''), 'wasm-simd');
  assert.match(await text(page, '#run-info'), /log-mel on WebAssembly SIMD/);
  await dropFile(page, clip, 'dropped clip.wav');
  assert.equal(await waitForState(page, ['done', 'error']), 'done', await text(page, '#error'));
  const tags = JSON.parse(await text(page, '#tags')) as TagResult[];
  assert.equal(tags[0].file, 'dropped clip.wav');
  assertSameTags(tags, cliTags);
  // The ranked list shows the same labels; the log-mel canvas is drawn (not all black).
  const listed = await page.$$eval('#tag-list li', (items) => items.map((li) => li.lastElementChild?.textContent));
  assert.deepEqual(listed, cliTags[0].labels.map((l) => l.label));
  const lit = await page.$eval('#logmel', (c) => {
    const canvas = c as HTMLCanvasElement;
    const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 60) n++;
    return n / (d.length / 4);
  });
  assert.ok(lit > 0.05, `log-mel canvas mostly black (${lit})`);
  await page.close();
});

test('?audio=…&autorun=1 fills #tags (the tag --json format) and #timeline (wasm backend)', async () => {
  const page = await openPage('?audio=clip.wav&autorun=1&backend=wasm');
  assert.equal(await waitForState(page, ['done', 'error']), 'done', await text(page, '#error'));
  assert.equal(await page.evaluate(() => document.body.dataset.backend), 'wasm');
  const tags = JSON.parse(await text(page, '#tags')) as TagResult[];
  assert.deepEqual(Object.keys(tags[0]), ['file', 'seconds', 'labels'], 'the CLI JSON fields, in order');
  assert.equal(tags[0].file, 'clip.wav');
  assertSameTags(tags, cliTags);

  const timeline = JSON.parse(await text(page, '#timeline')) as Timeline;
  assert.deepEqual(timeline.labels, TINY_VOCABULARY);
  const image = (await decodeForTagging(clip, PREPROCESS_DEFAULTS)).image;
  const starts = slidingWindowStarts(image.frames, INFER_DEFAULTS.windowFrames, INFER_DEFAULTS.windowShift);
  assert.equal(timeline.windows.length, starts.length, 'one timeline entry per sliding window');
  for (const w of timeline.windows) {
    assert.equal(w.scores.length, TINY_VOCABULARY.length);
    assert.ok(w.start >= 0 && w.start < w.end && w.end <= timeline.seconds + 1e-9, `window ${w.start}..${w.end}`);
    for (const s of w.scores) assert.ok(s >= 0 && s <= 1);
  }
  assert.ok(timeline.windows.every((w, i) => i === 0 || w.start > timeline.windows[i - 1].start), 'windows in time order');
  // The clip's probabilities are the windows' mean (arithmetic ensemble mean).
  for (const l of tags[0].labels) {
    const c = TINY_VOCABULARY.indexOf(l.label);
    const mean = timeline.windows.reduce((s, w) => s + w.scores[c], 0) / timeline.windows.length;
    assert.ok(Math.abs(mean - l.probability) < 1e-5, `${l.label}: window mean ${mean} vs ${l.probability}`);
  }
  await page.close();
});

test('?backend=webgl (software WebGL here) gives the same tags as fat2019 tag', async (t) => {
  const page = await openPage('?audio=clip.wav&autorun=1&backend=webgl');
  const state = await waitForState(page, ['done', 'error']);
  const error = await text(page, '#error');
  if (state === 'error' && /Cannot start: no tfjs backend works/.test(error)) {
    t.skip(`this Chromium has no WebGL: ${error}`);
    await page.close();
    return;
  }
  assert.equal(state, 'done', error);
  assert.equal(await page.evaluate(() => document.body.dataset.backend), 'webgl');
  assertSameTags(JSON.parse(await text(page, '#tags')) as TagResult[], cliTags);
  await page.close();
});

test('FLAC files (96 kHz mono, 44.1 kHz stereo) get the same tags as fat2019 tag', async () => {
  for (const [i, name] of FLACS.entries()) {
    const page = await openPage(`?audio=${name}&autorun=1&backend=wasm`);
    assert.equal(await waitForState(page, ['done', 'error']), 'done', await text(page, '#error'));
    assertSameTags(JSON.parse(await text(page, '#tags')) as TagResult[], [cliFlacTags[i]]);
    await page.close();
  }
});

test('the fake microphone yields tags', async () => {
  const page = await openPage();
  assert.equal(await waitForState(page, ['ready', 'error']), 'ready', await text(page, '#error'));
  await page.click('#record');
  await page.waitForFunction(() => document.getElementById('record')!.classList.contains('recording'), { timeout: 30_000 });
  await new Promise((r) => setTimeout(r, 2500));
  await page.click('#record');
  assert.equal(await waitForState(page, ['done', 'error']), 'done', await text(page, '#error'));
  const tags = JSON.parse(await text(page, '#tags')) as TagResult[];
  assert.match(tags[0].file, /^microphone/);
  assert.ok(tags[0].seconds > 1, `recorded ${tags[0].seconds} s`);
  assert.equal(tags[0].labels.length, TOP_K);
  for (const l of tags[0].labels) assert.ok(TINY_VOCABULARY.includes(l.label) && l.probability >= 0 && l.probability <= 1);
  await page.close();
});

test('a corrupt file or a missing URL shows a clear message; the page keeps working', async () => {
  const broken = join(root, 'broken.wav');
  writeFileSync(broken, 'RIFF\x10\x00\x00\x00WAVEjunk that is not audio');
  const page = await openPage();
  assert.equal(await waitForState(page, ['ready', 'error']), 'ready');
  const input = await page.$('input#file-input');
  await input!.uploadFile(broken);
  assert.equal(await waitForState(page, ['done', 'error']), 'error');
  const message = await text(page, '#error');
  assert.match(message, /broken\.wav/, message);
  assert.ok(await page.$eval('#error', (el) => !(el as HTMLElement).hidden));
  // Not stuck: the next file is tagged.
  await dropFile(page, clip, 'clip.wav');
  assert.equal(await waitForState(page, ['done', 'error']), 'done', await text(page, '#error'));
  assert.ok(await page.$eval('#error', (el) => (el as HTMLElement).hidden), 'the old error is cleared');
  // A bad file after a good one: the good one's result is not left on show as if it were this one's.
  await input!.uploadFile(broken);
  assert.equal(await waitForState(page, ['done', 'error']), 'error');
  assert.ok(await page.$eval('#result', (el) => (el as HTMLElement).hidden), 'the previous result is hidden');
  await page.close();

  const missing = await openPage('?audio=nowhere.wav&autorun=1');
  assert.equal(await waitForState(missing, ['done', 'error']), 'error');
  assert.match(await text(missing, '#error'), /nowhere\.wav: HTTP 404/);
  await missing.close();
});
