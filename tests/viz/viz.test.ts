import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import * as zlib from 'node:zlib';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WaveFile } from 'wavefile';
import {
  audioElement,
  bar,
  binEdges,
  colormapLut,
  crc32,
  encodePng,
  escapeHtml,
  figureHtml,
  heatmap,
  histogram,
  histogramCounts,
  htmlTable,
  imageGrid,
  jsonForScript,
  lineChart,
  LiveLineChart,
  plotlyInit,
  progressBar,
  spectrogram,
  spectrogramPng,
  wavBytes,
} from '../../lib/viz';
import type { Figure } from '../../lib/viz';
import { defaultQuick, notebookParams, projectRoot } from '../../lib/notebook/params';
import { Rng } from '../../lib/util/rng';
import { perClassLwlrapChart, TrainingDashboard } from '../../lib/notebook/training';
import type { FitContext } from '../../lib/train/callbacks';

/** Trace i of a figure, typed for the test (traces are loosely typed JSON). */
function tr<T>(fig: Figure, i: number): T {
  return fig.data[i] as unknown as T;
}

/** The JSON payload `fig = {...}` inside a figureHtml script, parsed back. */
function payloadOf(html: string): { data: unknown[]; layout: Record<string, unknown>; config: unknown } {
  const m = /fig = (\{.*?\}), tries = 0;/s.exec(html);
  assert.ok(m, 'figureHtml has a fig payload');
  return JSON.parse(m[1]);
}

/** Decodes an 8-bit RGB/grey non-interlaced PNG made of filter-0 rows (what encodePng writes). */
function decodePng(png: Buffer): { width: number; height: number; channels: number; pixels: Uint8Array } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  for (;;) {
    const len = png.readUInt32BE(off);
    const type = png.toString('ascii', off + 4, off + 8);
    const body = png.subarray(off + 8, off + 8 + len);
    // Every chunk's CRC, checked against node's own zlib crc32 (independent implementation).
    assert.equal(png.readUInt32BE(off + 8 + len), zlib.crc32(png.subarray(off + 4, off + 8 + len)), `CRC of ${type}`);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      assert.equal(body[8], 8);
      channels = body[9] === 2 ? 3 : body[9] === 0 ? 1 : -1;
    } else if (type === 'IDAT') idat.push(body);
    off += 12 + len;
    if (type === 'IEND') break;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  assert.equal(raw.length, (stride + 1) * height);
  const pixels = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    assert.equal(raw[y * (stride + 1)], 0, 'filter type 0');
    pixels.set(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)), y * stride);
  }
  return { width, height, channels, pixels };
}

test('escapeHtml and jsonForScript neutralise markup and round-trip', () => {
  assert.equal(escapeHtml(`<b a="x">'&'</b>`), '&lt;b a=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;');
  const value = { label: '</script><script>alert(1)</script>', sep: 'a\u2028b', n: [1, NaN, Infinity, -2.5] };
  const json = jsonForScript(value);
  assert.ok(!/<\/script/i.test(json));
  assert.ok(!json.includes('\u2028'));
  assert.deepEqual(JSON.parse(json), { ...value, n: [1, null, null, -2.5] });
});

test('figureHtml embeds the figure as parseable JSON under a unique, escaped id', () => {
  const fig = bar(['a</script>', 'b'], { name: 'n', values: [1, 2] });
  const h1 = figureHtml(fig);
  const h2 = figureHtml(fig);
  const id1 = /<div id="([^"]+)"/.exec(h1)![1];
  const id2 = /<div id="([^"]+)"/.exec(h2)![1];
  assert.notEqual(id1, id2);
  const parsed = payloadOf(h1);
  assert.deepEqual(parsed.data, JSON.parse(JSON.stringify(fig.data)));
  assert.deepEqual(parsed.layout, JSON.parse(JSON.stringify(fig.layout)));
  // Only the closing tag of the script itself.
  assert.equal(h1.match(/<\/script/gi)!.length, 1);
  const custom = figureHtml(fig, { id: 'a"b' });
  assert.ok(custom.includes('<div id="a&quot;b"'));
  assert.ok(custom.includes('var id = "a\\"b"'));
});

test('plotlyInit inlines the plotly.js bundle once, without an early </script>', () => {
  const html = plotlyInit();
  assert.ok(html.length > 3_000_000, `bundle inline (${html.length} chars)`);
  assert.equal(html.match(/<\/script/gi)!.length, 1);
  assert.ok(html.includes('window.Plotly'));
});

test('histogram counts follow the numpy.histogram convention (oracle: naive loop)', () => {
  const rng = new Rng(7);
  const values = Array.from({ length: 1000 }, () => rng.normal() * 3);
  values.push(NaN, 100); // NaN dropped; 100 outside the explicit range below
  const edges = binEdges(-5, 5, 10);
  const counts = histogramCounts(values, edges);
  const naive = new Array(10).fill(0);
  for (const v of values) {
    if (!(v >= -5 && v <= 5)) continue;
    let b = 0;
    while (b < 9 && !(v < edges[b + 1])) b++;
    naive[b]++;
  }
  assert.deepEqual([...counts], naive);
  // The maximum is always counted, whatever rounding lo + (hi - lo) does (oracle: 2 values in, 2 counted).
  for (let k = 0; k < 200; k++) {
    const lo = rng.normal();
    const hi = lo + Math.abs(rng.normal()) * 10 ** rng.int(4);
    const c = histogramCounts([lo, hi], binEdges(lo, hi, 1 + rng.int(50)));
    assert.equal(c.reduce((a, b) => a + b, 0), 2, `lo=${lo} hi=${hi}`);
  }
  // The right edge belongs to the last bin.
  assert.deepEqual([...histogramCounts([0, 1, 1], binEdges(0, 1, 2))], [1, 2]);
  assert.throws(() => binEdges(0, 1, 0), /bins must be > 0, got 0/);
  assert.throws(() => binEdges(2, 1, 3), /lo <= hi/);
});

test('histogram figure: shared bins over series, percent per series', () => {
  const fig = histogram(
    [
      { name: 'curated', values: [0.5, 1, 1.5, 2, 30] },
      { name: 'noisy', values: [15, 15, 14.9, 1] },
    ],
    { bins: 6, normalize: 'percent', xTitle: 'seconds' },
  );
  assert.equal(fig.data.length, 2);
  const [a, b] = fig.data as { x: number[]; y: number[]; type: string }[];
  assert.equal(a.type, 'bar');
  assert.deepEqual(a.x, b.x);
  assert.equal(a.x.length, 6);
  const sum = (ys: number[]) => ys.reduce((s, v) => s + v, 0);
  assert.ok(Math.abs(sum(a.y) - 100) < 1e-9);
  assert.ok(Math.abs(sum(b.y) - 100) < 1e-9);
  assert.equal((fig.layout.xaxis as { title: { text: string } }).title.text, 'seconds');
  const counts = histogram({ name: 'c', values: [3, 3, 3] });
  assert.equal(sum((tr<{ y: number[] }>(counts, 0)).y), 3, 'a constant series still lands in a bin');
});

test('bar: sorting, horizontal order top to bottom, shape errors', () => {
  const cats = ['a', 'b', 'c'];
  const v = bar(cats, { name: 'n', values: [2, 5, 1] }, { sort: 'desc' });
  assert.deepEqual((tr<{ x: string[] }>(v, 0)).x, ['b', 'a', 'c']);
  const h = bar(cats, [{ name: 'n', values: [2, 5, 1] }, { name: 'm', values: [0, 1, 2] }], { sort: 'desc', horizontal: true });
  const t0 = tr<{ y: string[]; x: number[]; orientation: string }>(h, 0);
  // Plotly draws the first horizontal category at the bottom: the largest must come last.
  assert.deepEqual(t0.y, ['c', 'a', 'b']);
  assert.deepEqual(t0.x, [1, 2, 5]);
  assert.equal(t0.orientation, 'h');
  assert.deepEqual((tr<{ x: number[] }>(h, 1)).x, [2, 0, 1], 'second series follows the same order');
  assert.ok((h.layout.height as number) >= 300);
  assert.throws(() => bar(cats, { name: 'bad', values: [1] }), /series "bad" has 1 values for 3 categories/);
});

test('heatmap: nested rows from a flat matrix, labels checked', () => {
  const fig = heatmap({ rows: 2, cols: 3, data: new Float32Array([1, 2, 3, 4, 5, 6]) }, ['x', 'y', 'z'], ['r0', 'r1']);
  const t = tr<{ z: number[][]; x: string[]; y: string[] }>(fig, 0);
  assert.deepEqual(t.z, [
    [1, 2, 3],
    [4, 5, 6],
  ]);
  assert.deepEqual(t.y, ['r0', 'r1']);
  assert.equal((fig.layout.yaxis as { autorange: unknown }).autorange, 'reversed');
  assert.throws(() => heatmap([[1, 2]], ['only-one']), /1 x labels for 2 columns/);
  assert.throws(() => heatmap({ rows: 2, cols: 2, data: [1, 2, 3] }), /data length 3 != rows\*cols/);
  assert.throws(() => heatmap([[1, 2], [3]]), /row 1 has 1 values, row 0 has 2/);
});

test('lineChart and LiveLineChart: second axis, growing series, stable id', () => {
  const fig = lineChart(
    [
      { name: 'loss', x: [1, 2], y: [0.7, 0.5] },
      { name: 'lwlrap', x: [1, 2], y: [0.2, 0.4], yAxis: 2 },
    ],
    { y2Title: 'lwlrap' },
  );
  assert.equal((tr<{ yaxis: string }>(fig, 1)).yaxis, 'y2');
  assert.ok(fig.layout.yaxis2);
  assert.throws(() => lineChart([{ name: 'x', x: [1], y: [] }]), /1 x and 0 y values/);

  const live = new LiveLineChart({ title: 'curves' }, { 'valid lwlrap': 2 });
  live.push('train loss', 1, 0.9);
  const first = live.html();
  live.push('train loss', 2, 0.8);
  live.push('valid lwlrap', 2, 0.3);
  const second = live.html();
  assert.equal(/<div id="([^"]+)"/.exec(first)![1], live.id);
  assert.equal(/<div id="([^"]+)"/.exec(second)![1], live.id);
  const parsed = payloadOf(second) as { data: { name: string; y: number[]; yaxis?: string }[] };
  assert.deepEqual(parsed.data.map((d) => [d.name, d.y, d.yaxis]), [
    ['train loss', [0.9, 0.8], undefined],
    ['valid lwlrap', [0.3], 'y2'],
  ]);
  assert.equal(live.length('train loss'), 2);
  assert.equal(live.length('absent'), 0);
});

test('PNG encoder: valid chunks and CRCs, pixels round-trip (decoded with zlib)', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  const rng = new Rng(3);
  const pixels = new Uint8Array(5 * 4 * 3).map(() => rng.int(256));
  const dec = decodePng(encodePng(pixels, 5, 4, 3));
  assert.deepEqual([dec.width, dec.height, dec.channels], [5, 4, 3]);
  assert.deepEqual(dec.pixels, pixels);
  assert.throws(() => encodePng(pixels, 5, 5, 3), /pixels must have width\*height\*channels = 75 bytes, got 60/);
});

test('spectrogram PNG puts mel row 0 at the bottom and uses the colour map', () => {
  // 3 mel rows × 2 frames; row 0 (lowest band) is bright, the rest dark.
  const image = { nMels: 3, frames: 2, data: new Uint8Array([255, 255, 0, 0, 0, 0]) };
  const dec = decodePng(spectrogramPng(image, 'gray'));
  assert.deepEqual([dec.width, dec.height], [2, 3]);
  const rowMean = (y: number) => dec.pixels.subarray(y * 6, y * 6 + 6).reduce((s, v) => s + v, 0) / 6;
  assert.equal(rowMean(2), 255, 'bottom picture row = mel row 0');
  assert.equal(rowMean(0), 0);
  const magma = colormapLut('magma');
  assert.deepEqual([...magma.subarray(0, 3)], [0x00, 0x00, 0x04]);
  assert.deepEqual([...magma.subarray(255 * 3)], [0xfc, 0xfd, 0xbf]);
  // A float dB matrix is min-max scaled.
  const db = { rows: 2, cols: 1, data: new Float32Array([-80, 0]) };
  const d2 = decodePng(spectrogramPng(db, 'gray'));
  assert.deepEqual([...d2.pixels], [255, 255, 255, 0, 0, 0]);
  // A fixed range keeps absolute levels (and clamps outside it).
  const crop = { rows: 3, cols: 1, data: new Float32Array([0.5, 1.5, -1]) };
  assert.deepEqual([...decodePng(spectrogramPng(crop, 'gray', [0, 1])).pixels], [0, 0, 0, 255, 255, 255, 128, 128, 128]);
  assert.throws(() => spectrogramPng(crop, 'gray', [1, 1]), /range must be finite with lo < hi, got \[1, 1\]/);
  const html = spectrogram(image, { title: 'a <clip>', framesPerSecond: 2 });
  assert.ok(html.includes('a &lt;clip&gt;'));
  assert.ok(html.includes('data:image/png;base64,'));
  assert.ok(html.includes('1.00 s'));
  assert.throws(() => spectrogram({ nMels: 2, frames: 2, data: new Uint8Array(3) }), /data length 3 != nMels\*frames = 2\*2/);
});

test('wavBytes/audioElement: a valid 16-bit WAV data URI (decoded with wavefile)', () => {
  const sr = 8000;
  const samples = new Float32Array([0, 0.5, -0.5, 1, -1, 2, -2, NaN]);
  const wav = new WaveFile(wavBytes(samples, sr));
  const fmt = wav.fmt as { sampleRate: number; numChannels: number; bitsPerSample: number; audioFormat: number };
  assert.deepEqual([fmt.sampleRate, fmt.numChannels, fmt.bitsPerSample, fmt.audioFormat], [sr, 1, 16, 1]);
  assert.deepEqual(Array.from(wav.getSamples(false, Int16Array) as unknown as Int16Array), [0, 16384, -16384, 32767, -32768, 32767, -32768, 0]);

  const html = audioElement(new Float32Array(sr * 3).fill(0.1), sr, { title: 'x & y', maxSeconds: 1 });
  assert.ok(html.includes('<audio controls'));
  assert.ok(html.includes('x &amp; y (first 1 s)'));
  const b64 = /src="data:audio\/wav;base64,([^"]+)"/.exec(html)![1];
  const decoded = new WaveFile(Buffer.from(b64, 'base64'));
  assert.equal((decoded.getSamples(false, Int16Array) as unknown as Int16Array).length, sr, 'truncated to maxSeconds');
  assert.throws(() => wavBytes([0], 0), /sampleRate must be a positive integer, got 0/);
});

test('imageGrid, htmlTable and progressBar escape text', () => {
  const grid = imageGrid([{ title: '<mixup>', html: '<i>x</i>' }], { columns: 2, title: 'a&b' });
  assert.ok(grid.includes('&lt;mixup&gt;'));
  assert.ok(grid.includes('<i>x</i>'), 'fragments are HTML');
  assert.ok(grid.includes('repeat(2,'));
  assert.throws(() => imageGrid([], { columns: 0 }), /columns must be a positive integer, got 0/);
  const table = htmlTable(['k', 'v'], [['<a>', 0.123456]], 3);
  assert.ok(table.includes('&lt;a&gt;') && table.includes('0.123'));
  assert.ok(progressBar(3, 4, 'fold <1>').includes('75.0%'));
  assert.throws(() => progressBar(1, 0), /total must be > 0, got 0/);
});

test('notebook params: project root, env overrides, quick flag', () => {
  const root = projectRoot();
  const tmp = mkdtempSync(join(tmpdir(), 'fat2019-viz-'));
  try {
    const p = notebookParams({ dataDir: 'data/demo', runDir: 'weights/x' }, {});
    assert.equal(p.root, root);
    assert.equal(p.dataDir, join(root, 'data/demo'));
    assert.equal(p.runDir, join(root, 'weights/x'));
    assert.equal(p.cacheDir, join(root, 'work/features'));
    const q = notebookParams({ dataDir: 'data/demo' }, { FAT2019_DATA_DIR: tmp, FAT2019_RUN_DIR: 'weights/y', FAT2019_NOTEBOOK_QUICK: '0' });
    assert.equal(q.dataDir, tmp);
    assert.equal(q.runDir, join(root, 'weights/y'));
    assert.equal(notebookParams({ dataDir: 'd' }, { FAT2019_CACHE_DIR: tmp }).cacheDir, tmp);
    assert.equal(notebookParams({ dataDir: 'd', run: 'r' }, { FAT2019_NOTEBOOK_QUICK: '1' }).runDir, join(root, 'weights/r-quick'));
    assert.equal(notebookParams({ dataDir: 'd', run: 'r' }, { FAT2019_NOTEBOOK_QUICK: '0' }).runDir, join(root, 'weights/r'));
    assert.equal(notebookParams({ dataDir: 'd', run: 'r' }, { FAT2019_NOTEBOOK_QUICK: '1', FAT2019_RUN_DIR: tmp }).runDir, tmp);
    assert.throws(() => notebookParams({ dataDir: 'd', run: '../x' }, {}), /run name must be/);
    assert.equal(q.quick, false);
    assert.equal(notebookParams({ dataDir: 'd', quick: false }, {}).quick, false, 'notebook default used without env');
    assert.equal(defaultQuick({ FAT2019_NOTEBOOK_QUICK: 'yes' }), true);
    assert.throws(() => defaultQuick({ FAT2019_NOTEBOOK_QUICK: 'maybe' }), /FAT2019_NOTEBOOK_QUICK must be 1 or 0, got "maybe"/);
    mkdirSync(join(tmp, 'a'));
    writeFileSync(join(tmp, 'package.json'), '{"name":"other"}');
    assert.throws(() => projectRoot(join(tmp, 'a')), /no fat2019-ts project/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('TrainingDashboard: a fit callback that plots one point per epoch across stages', async () => {
  const dash = new TrainingDashboard({ title: 't' });
  const logs: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => logs.push(a.join(' '));
  try {
    for (const stage of [1, 2]) {
      const cb = dash.callback(stage, 0, 1);
      const ctx = { stepsPerEpoch: 2, epochs: 2 } as unknown as FitContext;
      for (const epoch of [1, 2]) {
        await cb.onBatchEnd!(ctx, { epoch, batch: 0, step: 1, loss: 0.5, lr: 1e-3, beta1: 0.9, samples: 4 });
        await cb.onEpochEnd!(ctx, { epoch, step: 2, trainLoss: 1 / (stage * epoch), validLoss: 0.4, validLwlrap: 0.1 * stage * epoch, lr: 1e-3, seconds: 1, samplesPerSecond: 8 });
      }
      await cb.onTrainEnd!(ctx);
    }
  } finally {
    console.log = orig;
  }
  assert.equal(dash.points.length, 4);
  const fig = dash.chart.figure();
  const byName = Object.fromEntries(fig.data.map((d) => [d.name, d as unknown as { x: number[]; y: number[]; yaxis?: string }]));
  assert.deepEqual(byName['train loss'].x, [1, 2, 3, 4], 'epochs numbered across stages');
  assert.deepEqual(byName['train loss'].y, [1, 0.5, 0.5, 0.25]);
  assert.equal(byName['valid lwlrap'].yaxis, 'y2');
  assert.ok(logs.length <= 2, 'outside a kernel live displays print once each, not per update');
});

test('perClassLwlrapChart: drops never-positive classes, best on top, overall in the title', () => {
  const fig = perClassLwlrapChart(['a', 'b', 'c'], [0.5, 0, 0.9], 0.7, { weights: [0.5, 0, 0.5] });
  const t = tr<{ y: string[]; x: number[] }>(fig, 0);
  assert.deepEqual(t.y, ['a', 'c'], 'horizontal: last drawn on top');
  assert.deepEqual(t.x, [0.5, 0.9]);
  assert.match((fig.layout.title as { text: string }).text, /overall 0\.7000/);
  assert.throws(() => perClassLwlrapChart(['a'], [1, 2], 1), /perClass has 2 values for 1 classes/);
});
