import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { PREPROCESS_DEFAULTS, withDefaults } from '../../lib/config';
import { loadAudioFile } from '../../lib/audio';
import { Rng } from '../../lib/util/rng';
import {
  clipImageFromSamples,
  dbToImage,
  hannWindow,
  logMelSpectrogram,
  melBandEdges,
  melSpectrogram,
  melFilterbank,
  melFilterbankFloat32,
  numpySumF32,
  padCentered,
  powerSpectrogram,
  powerToDb,
  RealFft,
  reflectIndex,
  sparseMelFilterbank,
  stft,
  trimSilence,
  type Matrix,
} from '../../lib/features';

const G = join(__dirname, '..', 'fixtures', 'golden');
const manifest = JSON.parse(readFileSync(join(G, 'manifest.json'), 'utf8'));
const INPUTS: string[] = Object.keys(manifest.inputs);
const CFG = withDefaults(PREPROCESS_DEFAULTS);

function bytesOf(rel: string): ArrayBuffer {
  const b = readFileSync(join(G, rel));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
}
const f32 = (rel: string) => new Float32Array(bytesOf(rel));
const f64 = (rel: string) => new Float64Array(bytesOf(rel));
const i32 = (rel: string) => new Int32Array(bytesOf(rel));
const u8 = (rel: string) => new Uint8Array(bytesOf(rel));

const loaded = new Map<string, Float32Array>();
async function load(name: string): Promise<Float32Array> {
  let y = loaded.get(name);
  if (!y) {
    y = await loadAudioFile(join(G, 'audio', `${name}.wav`));
    loaded.set(name, y);
  }
  return y;
}

function pixelDiff(a: Uint8Array, b: Uint8Array): { count: number; max: number } {
  assert.equal(a.length, b.length);
  let count = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > 0) count++;
    max = Math.max(max, d);
  }
  return { count, max };
}

test('trim: indices exact and frame dB within 1e-3 for all 8 golden inputs (librosa 0.6.3 reflect padding)', async () => {
  for (const name of INPUTS) {
    const y = await load(name);
    const r = trimSilence(y, { topDb: CFG.trimTopDb, frameLength: CFG.trimFrameLength, hopLength: CFG.trimHopLength });
    assert.deepEqual([r.start, r.end], Array.from(i32(`${name}/trim_idx.i32`)), name);
    const ref = f32(`${name}/trim_db.f32`);
    assert.equal(r.frameDb.length, ref.length, name);
    let err = 0;
    for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(ref[i] - r.frameDb[i]));
    assert.ok(err <= 1e-3, `${name}: trim_db max error ${err}`);
  }
  // The two clips where 0.9.2's zero padding would keep more: reflect padding must cut them.
  assert.notDeepEqual(manifest.inputs.real_hihat_hat_metal.trim_idx, manifest.inputs.real_hihat_hat_metal.trim_idx_librosa092_constant_pad);
});

test('pad: centred zeros to 2 s, long clips untouched; y2 and T exact for all inputs', async () => {
  for (const name of INPUTS) {
    const y = await load(name);
    const t = trimSilence(y).trimmed;
    const y2 = padCentered(t, CFG.minSamples);
    assert.deepEqual(y2, f32(`${name}/y2.f32`), name);
    const D = logMelSpectrogram(y2, CFG);
    assert.equal(D.cols, manifest.inputs[name].n_frames_T, name);
    assert.equal(D.rows, 128);
  }
  const x = new Float32Array([1, 2, 3]);
  assert.deepEqual(Array.from(padCentered(x, 8)), [0, 0, 1, 2, 3, 0, 0, 0]);
  assert.equal(padCentered(x, 3), x);
  assert.throws(() => padCentered(x, -1), /minSamples must be a non-negative integer, got -1/);
});

test('trim: the eight-chain block sums give the bits of one sequential sum per block (frame dB exact)', () => {
  const rng = new Rng(5);
  for (const n of [1, 700, 2047, 2048, 5000, 9999, 12288, 30001]) {
    const x = Float32Array.from({ length: n }, (_, i) => (i % 3000 < 1000 ? 0.3 : 0.002) * rng.normal());
    for (const [frameLength, hop] of [[2048, 512], [16, 4], [64, 64]]) {
      const r = trimSilence(x, { frameLength, hopLength: hop, topDb: 20 });
      const pad = Math.floor(frameLength / 2);
      const frames = 1 + Math.floor(n / hop);
      const per = frameLength / hop;
      // One sequential float64 chain per hop-sized block of the reflect-padded signal.
      const blocks = Array.from({ length: frames - 1 + per }, (_, b) => {
        let s = 0;
        for (let i = b * hop; i < Math.min(b * hop + hop, n + 2 * pad); i++) { const v = x[reflectIndex(i - pad, n)]; s += v * v; }
        return s;
      });
      const mse = Array.from({ length: frames }, (_, t) => { let s = 0; for (let j = 0; j < per; j++) s += blocks[t + j]; return s / frameLength; });
      const ref = 10 * Math.log10(Math.max(1e-10, Math.max(...mse)));
      assert.deepEqual(Array.from(r.frameDb), mse.map((m) => 10 * Math.log10(Math.max(1e-10, m)) - ref), `n=${n} frame ${frameLength} hop ${hop}`);
    }
  }
});

test('trim: block-sum fast path and the direct path agree with a naive frame loop (short clips too)', () => {
  const rng = new Rng(3);
  // numpy-style reflect padding built by mirroring step by step (independent of reflectIndex).
  const reflectPad = (x: number[], pad: number): number[] => {
    let y = x.slice();
    while (pad > 0) {
      const k = Math.min(pad, y.length - 1);
      const left = y.slice(1, k + 1).reverse();
      const right = y.slice(y.length - 1 - k, y.length - 1).reverse();
      y = [...left, ...y, ...right];
      pad -= k;
    }
    return y;
  };
  for (const [n, frameLength, hop] of [[5000, 2048, 512], [5000, 2000, 512], [700, 2048, 512], [3, 16, 4]]) {
    const x = Float32Array.from({ length: n }, (_, i) => (i > n / 2 ? 0.001 : 0.5) * rng.normal());
    const r = trimSilence(x, { frameLength, hopLength: hop, topDb: 30 });
    const p = reflectPad(Array.from(x), Math.floor(frameLength / 2));
    const frames = 1 + Math.floor(n / hop);
    const mse = Array.from({ length: frames }, (_, t) => p.slice(t * hop, t * hop + frameLength).reduce((a, v) => a + v * v, 0) / frameLength);
    const ref = 10 * Math.log10(Math.max(...mse));
    mse.forEach((m, t) => assert.ok(Math.abs(10 * Math.log10(Math.max(1e-10, m)) - ref - r.frameDb[t]) < 1e-9, `n=${n} frame ${t}`));
    const loud = mse.map((m, t) => (10 * Math.log10(m) - ref > -30 ? t : -1)).filter((t) => t >= 0);
    assert.deepEqual([r.start, r.end], [Math.min(n, loud[0] * hop), Math.min(n, (loud[loud.length - 1] + 1) * hop)], `n=${n}`);
  }
});

test('reflectIndex follows numpy pad(mode="reflect"), also for pads longer than the signal', () => {
  // numpy.pad(arange(4), 6, mode='reflect') and numpy.pad(arange(3), 7, mode='reflect')
  const expect4 = [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2, 3];
  assert.deepEqual(expect4.map((_, i) => reflectIndex(i - 6, 4)), expect4);
  const expect3 = [1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1];
  assert.deepEqual(expect3.map((_, i) => reflectIndex(i - 7, 3)), expect3);
  assert.equal(reflectIndex(-5, 1), 0);
});

test('window and mel filterbank match librosa (float64 to 1e-12 of each band peak; float32 to 1 ulp)', () => {
  const w = hannWindow(2560);
  const wref = f64('hann_2560_periodic.f64');
  let werr = 0;
  for (let i = 0; i < w.length; i++) werr = Math.max(werr, Math.abs(w[i] - wref[i]));
  assert.ok(werr <= 1e-15, `window error ${werr}`);

  const fb = melFilterbank(CFG);
  const ref = f64('mel_filterbank_f64.f64');
  const ref32 = f32('mel_filterbank_f32.f32');
  const fb32 = melFilterbankFloat32(CFG);
  assert.equal(fb.rows, 128);
  assert.equal(fb.cols, 1281);
  let maxNormErr = 0;
  let bigRelErr = 0;
  let f32Bad = 0;
  for (let m = 0; m < 128; m++) {
    let peak = 0;
    for (let k = 0; k < 1281; k++) peak = Math.max(peak, ref[m * 1281 + k]);
    for (let k = 0; k < 1281; k++) {
      const i = m * 1281 + k;
      const d = Math.abs(fb.data[i] - ref[i]);
      maxNormErr = Math.max(maxNormErr, d / peak);
      // Near a triangle's feet (f ≈ band edge) the weight is a difference of nearly equal
      // numbers: the edges' last-bit differences (libm exp/log) are amplified there.
      if (ref[i] > 0.05 * peak) bigRelErr = Math.max(bigRelErr, d / ref[i]);
      // 1 float32 ulp of the reference (entries far below the peak, where the triangle's edge
      // frequencies differ in their last bits, compare against the peak's scale instead).
      const ulp = Math.max(Math.abs(ref32[i]) * 2 ** -23, peak * 1e-12);
      if (Math.abs(fb32.data[i] - ref32[i]) > ulp) f32Bad++;
    }
  }
  assert.ok(maxNormErr <= 1e-12, `float64 filterbank error ${maxNormErr} of the band peak`);
  assert.ok(bigRelErr <= 1e-12, `float64 filterbank relative error ${bigRelErr} on weights > 5% of the peak`);
  assert.equal(f32Bad, 0, 'float32 filterbank entries off by more than 1 ulp');
  // Band edges against the manifest (they differ only in the last bits: libm exp/log).
  const edges = melBandEdges(CFG);
  const refEdges: number[] = manifest.globals.mel_center_freqs_hz;
  for (let i = 0; i < 130; i++) assert.ok(Math.abs(edges[i] - refEdges[i]) <= 1e-14 * refEdges[i], `edge ${i}`);
  const sparse = sparseMelFilterbank(CFG);
  assert.ok(Math.abs(sparse.weights.length - manifest.globals.mel_fb_nonzero_entries) <= 1, `non-zero weights ${sparse.weights.length}`);
});

test('FFT: mixed-radix real FFT equals a direct DFT for many sizes', () => {
  for (const n of [2, 4, 6, 10, 14, 22, 30, 64, 90, 256, 2560]) {
    const fft = new RealFft(n);
    const x = Float64Array.from({ length: n }, (_, i) => Math.sin(1.3 * i) + 0.1 * (i % 7));
    const re = new Float64Array(n / 2 + 1);
    const im = new Float64Array(n / 2 + 1);
    fft.forward(x, re, im);
    let err = 0;
    let norm = 0;
    for (let k = 0; k <= n / 2; k++) {
      let sr = 0;
      let si = 0;
      for (let j = 0; j < n; j++) {
        const a = (-2 * Math.PI * ((j * k) % n)) / n;
        sr += x[j] * Math.cos(a);
        si += x[j] * Math.sin(a);
      }
      err = Math.max(err, Math.abs(sr - re[k]), Math.abs(si - im[k]));
      norm = Math.max(norm, Math.hypot(sr, si));
    }
    assert.ok(err <= 1e-13 * norm, `n=${n}: error ${err / norm}`);
  }
  assert.throws(() => new RealFft(7), /n must be an even integer >= 2, got 7/);
});

test('FFT: the fused windowed power path equals |X|² of the plain transform (with and without a leading radix 5)', () => {
  for (const n of [8, 10, 16, 30, 40, 64, 90, 2560]) {
    const fft = new RealFft(n);
    const base = 3;
    const sig = Float32Array.from({ length: n + 2 * base }, (_, i) => Math.sin(0.7 * i) + 0.05 * (i % 5));
    const win = Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));
    const winPacked = new Float64Array(n);
    for (let p = 0; p < n / 2; p++) { winPacked[2 * p] = win[2 * fft.perm[p]]; winPacked[2 * p + 1] = win[2 * fft.perm[p] + 1]; }
    const power = new Float64Array(n / 2 + 1);
    fft.powerWindowed(sig, base, winPacked, power);
    const re = new Float64Array(n / 2 + 1);
    const im = new Float64Array(n / 2 + 1);
    fft.forward(Float64Array.from({ length: n }, (_, j) => sig[base + j] * win[j]), re, im);
    let err = 0;
    let peak = 0;
    for (let k = 0; k <= n / 2; k++) {
      const ref = re[k] * re[k] + im[k] * im[k];
      err = Math.max(err, Math.abs(power[k] - ref));
      peak = Math.max(peak, ref);
    }
    assert.ok(err <= 1e-12 * peak, `n=${n}: error ${err / peak} of the peak power`);
  }
});

test('STFT of chirp_3s: first 5 frames match the complex64 and power goldens', async () => {
  const y2 = f32('chirp_3s/y2.f32');
  const S = stft(y2, { nFft: 2560, hopLength: 694 });
  assert.equal(S.bins, 1281);
  assert.equal(S.frames, 191);
  const ref = f32('chirp_3s/stft_first5_complex.f32');
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) maxRef = Math.max(maxRef, Math.abs(ref[i]));
  let err = 0;
  let ulpMismatch = 0;
  for (let k = 0; k < 1281; k++) {
    for (let t = 0; t < 5; t++) {
      const re = S.re[k * 191 + t];
      const im = S.im[k * 191 + t];
      const rr = ref[(k * 5 + t) * 2];
      const ri = ref[(k * 5 + t) * 2 + 1];
      err = Math.max(err, Math.abs(re - rr), Math.abs(im - ri));
      // Round-off noise (|X| < 1e-12 of the maximum, e.g. imaginary parts of DC) differs between
      // FFT implementations; every other value must round to numpy's complex64 exactly.
      for (const [mine, r] of [[re, rr], [im, ri]]) if (Math.abs(r) > 1e-12 * maxRef && Math.fround(mine) !== r) ulpMismatch++;
    }
  }
  assert.ok(err <= 1e-6 * maxRef, `complex STFT error ${err} (max |X| ${maxRef})`);
  assert.ok(ulpMismatch <= 5, `${ulpMismatch} complex64 values differ from numpy's rounding`);
  const P = powerSpectrogram(y2, { nFft: 2560, hopLength: 694 });
  const pref = f32('chirp_3s/stft_power_first5.f32');
  let perr = 0;
  for (let k = 0; k < 1281; k++) {
    for (let t = 0; t < 5; t++) {
      const r = pref[k * 5 + t];
      if (r > 0) perr = Math.max(perr, Math.abs(P.data[k * 191 + t] - r) / r);
    }
  }
  assert.ok(perr <= 1e-5, `power relative error ${perr}`);
});

test('log-mel dB within 1e-4 dB and uint8 image |diff| ≤ 1 on ≤ 1% of pixels, all 8 inputs', async () => {
  for (const name of INPUTS) {
    const y2 = f32(`${name}/y2.f32`);
    const D = logMelSpectrogram(y2, CFG);
    const ref = f32(`${name}/D.f32`);
    let err = 0;
    for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(D.data[i] - ref[i]));
    assert.ok(err <= 1e-4, `${name}: D max error ${err} dB`);
    const img = dbToImage(D, CFG);
    const d = pixelDiff(img.data, u8(`${name}/img.u8`));
    assert.ok(d.max <= 1 && d.count <= 0.01 * img.data.length, `${name}: ${d.count} pixels differ (max ${d.max})`);
    // The image maths alone, on the reference D, reproduce numpy's float32 statistics.
    const refImg = dbToImage({ rows: 128, cols: ref.length / 128, data: ref }, CFG);
    const d2 = pixelDiff(refImg.data, u8(`${name}/img.u8`));
    assert.ok(d2.max <= 1 && d2.count <= 0.01 * img.data.length, `${name}: image from reference D: ${d2.count} pixels differ`);
  }
});

test('image statistics: numpy float32 pairwise mean/std of the 3-channel stack are bit-exact', () => {
  for (const name of INPUTS) {
    const D = f32(`${name}/D.f32`);
    const x = new Float32Array(3 * D.length);
    for (let i = 0; i < D.length; i++) x[3 * i] = x[3 * i + 1] = x[3 * i + 2] = D[i];
    const mean = Math.fround(numpySumF32(x) / x.length);
    const st = manifest.inputs[name].image_stats_float32;
    assert.equal(mean, st.mean, `${name} mean`);
    for (let i = 0; i < x.length; i++) { const d = Math.fround(x[i] - mean); x[i] = Math.fround(d * d); }
    assert.equal(Math.fround(Math.sqrt(Math.fround(numpySumF32(x) / x.length))), st.std, `${name} std`);
  }
});

test('image: the WebAssembly kernel gives the JavaScript loop\'s exact bytes (goldens, odd sizes, flat and NaN matrices, memory replaced)', async () => {
  const { useWasmImage } = await import('../../lib/features/image');
  const rng = new Rng(11);
  const cases: Array<[string, Matrix]> = INPUTS.map((name) => { const d = f32(`${name}/D.f32`); return [name, { rows: 128, cols: d.length / 128, data: d }]; });
  // Sizes around the 8-wide leaves, 128-value blocks and numpy's 8192-value chunks (of the 3n stack).
  for (const n of [1, 2, 7, 8, 9, 129, 2730, 2731, 2732, 8193, 70001, 200003]) {
    cases.push([`n=${n}`, { rows: 1, cols: n, data: Float32Array.from({ length: n }, () => -40 + 25 * rng.normal()) }]);
  }
  cases.push(['flat', { rows: 4, cols: 5, data: new Float32Array(20).fill(-3.5) }]);
  cases.push(['tiny range', { rows: 2, cols: 9, data: Float32Array.from({ length: 18 }, (_, i) => 1 + i * 1e-8) }]);
  cases.push(['NaN inside', { rows: 3, cols: 11, data: Float32Array.from({ length: 33 }, (_, i) => (i === 13 ? NaN : Math.sin(i))) }]);
  cases.push(['small after large', { rows: 2, cols: 3, data: Float32Array.from([5, -1, 0, 2, 7, -80]) }]);
  try {
    for (const [name, m] of cases) {
      useWasmImage(false);
      const js = dbToImage(m, CFG).data;
      useWasmImage(true);
      const wasm = dbToImage(m, CFG).data;
      assert.equal(wasm.length, js.length, name);
      let diff = 0;
      for (let i = 0; i < js.length; i++) if (js[i] !== wasm[i]) diff++;
      assert.equal(diff, 0, `${name}: ${diff} of ${js.length} pixels differ`);
    }
  } finally {
    useWasmImage(true);
  }
});

test('power_to_db: the WebAssembly kernel (fast log where safe, else fdlibm log on f64x2) gives the JavaScript loop\'s exact bits', async () => {
  const { useWasmImage, imageFromPower } = await import('../../lib/features/image');
  const rng = new Rng(13);
  const powers: Array<[string, Float64Array]> = [];
  for (const name of INPUTS) powers.push([name, melSpectrogram(f32(`${name}/y2.f32`), CFG).data]);
  // Decades from 1e-300 to 1e300, values within 2^-20 of powers of two (fdlibm's short path),
  // exactly 1 and powers of two, both sides of its 0x6147a / 0x6b851 split, and the specials.
  const wide = Float64Array.from({ length: 20001 }, () => 10 ** (600 * rng.uniform() - 300) * (1 + rng.uniform()));
  const near2 = Float64Array.from({ length: 4001 }, (_, i) => 2 ** ((i % 200) - 100) * (1 + (rng.uniform() - 0.5) * 2 ** -19));
  const exact = Float64Array.from({ length: 257 }, (_, i) => 2 ** (i - 128));
  const split = Float64Array.from({ length: 1000 }, (_, i) => 1 + (0x60000 + i * 16) / 2 ** 20);
  const special = Float64Array.from([1, 0, -0, -5, NaN, Infinity, 1e-10, 1e-11, 2.2250738585072014e-308, 5e-324, 3]);
  // The kernel's fast log is used only where its float32 result cannot differ: powers whose dB
  // value lies on (or 1e-13 .. 1e-8 dB off) a float32 rounding midpoint, or near the floor
  // (max 1, top_db 80: floor −80 dB), must still come out bit for bit; many plain ones too.
  const dbPerNeper = 10 / Math.LN10;
  const f = new Float32Array(2);
  const u = new Uint32Array(f.buffer);
  const midpoints = Float64Array.from({ length: 40000 }, (_, i) => {
    f[0] = 180 * rng.uniform() - 120;
    u[1] = u[0] + 1;
    const offset = i % 4 === 0 ? 0 : (rng.uniform() - 0.5) * 10 ** (-13 + 5 * rng.uniform());
    return Math.exp(((f[0] + f[1]) / 2 + offset) / dbPerNeper);
  });
  const nearFloor = Float64Array.from({ length: 4001 }, (_, i) => (i === 0 ? 1 : 1e-8 * (1 + (rng.uniform() - 0.5) * 10 ** (-14 + 6 * rng.uniform()))));
  const plain = Float64Array.from({ length: 200001 }, () => 10 ** (18 * rng.uniform() - 12));
  powers.push(['wide', wide], ['near powers of 2', near2], ['powers of 2', exact], ['split', split], ['special', special],
    ['float32 midpoints', midpoints], ['near the floor', nearFloor], ['plain', plain]);
  const options = [{}, { topDb: null }, { topDb: 0 }, { ref: 3.7, amin: 1e-5, topDb: 40 }, { amin: 1e-300 }];
  try {
    for (const [name, p] of powers) {
      for (const o of options) {
        useWasmImage(false);
        const js = powerToDb(p, o);
        useWasmImage(true);
        const wasm = powerToDb(p, o);
        let diff = 0;
        for (let i = 0; i < js.length; i++) if (!Object.is(js[i], wasm[i])) diff++;
        assert.equal(diff, 0, `${name} ${JSON.stringify(o)}: ${diff} of ${js.length} values differ`);
      }
    }
    // The fused power → image path equals powerToDb then dbToImage (JavaScript).
    for (const [name, p] of powers.slice(0, INPUTS.length)) {
      useWasmImage(false);
      const js = dbToImage({ rows: 128, cols: p.length / 128, data: powerToDb(p) }, CFG).data;
      useWasmImage(true);
      const fused = imageFromPower(p, 128, p.length / 128, {}, CFG).data;
      assert.deepEqual(fused, js, name);
    }
  } finally {
    useWasmImage(true);
  }
});

test('clipImageFromSamples: the whole pipeline from the decoded WAV reproduces img.u8', async () => {
  for (const name of INPUTS) {
    const img = clipImageFromSamples(await load(name), CFG);
    assert.equal(img.nMels, 128);
    assert.equal(img.frames, manifest.inputs[name].n_frames_T);
    assert.ok(img.data instanceof Uint8Array);
    const d = pixelDiff(img.data, u8(`${name}/img.u8`));
    assert.ok(d.max <= 1 && d.count <= 0.01 * img.data.length, `${name}: ${d.count} pixels differ (max ${d.max})`);
  }
});

test('powerToDb and dbToImage edge cases: silence → −100 dB and an all-zero image', () => {
  assert.deepEqual(Array.from(powerToDb(new Float64Array(4))), [-100, -100, -100, -100]);
  assert.deepEqual(Array.from(powerToDb([1, 1e-20, 100], { topDb: 30 })), [0, -10, 20]);
  assert.deepEqual(Array.from(powerToDb([1, 1e-20], { topDb: null })), [0, -100]);
  const img = dbToImage({ rows: 2, cols: 3, data: new Float32Array(6).fill(-100) }, CFG);
  assert.deepEqual(Array.from(img.data), [0, 0, 0, 0, 0, 0]);
  const ramp = dbToImage({ rows: 1, cols: 3, data: new Float32Array([-80, -40, 0]) }, CFG);
  assert.deepEqual(Array.from(ramp.data), [0, 127, 255]);
  assert.throws(() => powerToDb([1], { amin: 0 }), /amin must be > 0, got 0/);
  assert.throws(() => dbToImage({ rows: 2, cols: 2, data: new Float32Array(3) }, CFG), /rows × cols = 4, got 3/);
});

test('validation errors name the parameter and the value', () => {
  const y = new Float32Array(100);
  assert.throws(() => trimSilence(y, { hopLength: -3 }), /hopLength must be a positive integer, got -3/);
  assert.throws(() => trimSilence(new Float32Array(0)), /samples must not be empty/);
  assert.throws(() => stft(y, { nFft: 2560, hopLength: 0 }), /hopLength must be a positive integer, got 0/);
  assert.throws(() => melFilterbank({ ...CFG, fMax: 30000 }), /fMax must be <= sampleRate \/ 2 = 22050, got 30000/);
  assert.throws(() => melFilterbank({ ...CFG, nMels: 0 }), /nMels must be a positive integer, got 0/);
  assert.throws(() => clipImageFromSamples(new Float32Array(0), CFG), /samples must not be empty/);
});

test('mel power: the WebAssembly SIMD kernel gives the JavaScript loop\'s exact bits (goldens, odd frame counts, chunk edges, other FFT sizes)', async () => {
  const { melPowerEngine, useWasmMelPower } = await import('../../lib/features/logmel');
  type Cfg = typeof CFG;
  const both = (x: Float32Array, cfg: Cfg) => {
    useWasmMelPower(true);
    const engine = melPowerEngine(cfg);
    const a = melSpectrogram(x, cfg);
    useWasmMelPower(false);
    const b = melSpectrogram(x, cfg);
    useWasmMelPower(true);
    return { engine, a, b };
  };
  const rng = new Rng(17);
  const noise = (n: number) => Float32Array.from({ length: n }, () => rng.normal() * 0.1);
  const cases: Array<[string, Float32Array, Cfg]> = INPUTS.map((name) => [name, f32(`${name}/y2.f32`), CFG]);
  // 1 frame, 2 frames, odd counts, and 128/129/257 frames around the kernel's 128-frame chunks.
  for (const frames of [1, 2, 3, 127, 128, 129, 257]) cases.push([`${frames} frames`, noise(Math.max(1, (frames - 1) * CFG.hopLength)), CFG]);
  // Plans that start with a radix 4 (n_fft 2048: 4⁵), start with an 8 (n_fft 256: 8·4·4), hold an 8
  // after the 5 (n_fft 1280: 5·8·4·4) and contain a radix 3 (n_fft 1536, 16 kHz).
  cases.push(['n_fft 2048', noise(30000), { ...CFG, nFft: 2048, hopLength: 512 }]);
  cases.push(['n_fft 256', noise(5000), { ...CFG, nFft: 256, hopLength: 100, nMels: 40 }]);
  cases.push(['n_fft 1280', noise(20000), { ...CFG, nFft: 1280, hopLength: 320 }]);
  cases.push(['n_fft 1536 at 16 kHz', noise(16000), { ...CFG, sampleRate: 16000, nFft: 1536, hopLength: 160, nMels: 64, fMax: 8000 }]);
  for (const [name, x, cfg] of cases) {
    const { engine, a, b } = both(x, cfg);
    assert.equal(engine, 'wasm-simd', name);
    assert.equal(a.cols, b.cols, name);
    let mismatches = 0;
    for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) mismatches++;
    assert.equal(mismatches, 0, `${name}: ${mismatches} of ${a.data.length} values differ`);
  }
  // A radix the kernel lacks (n_fft 1400 = 2 × 7 × 100) stays on the JavaScript loop.
  useWasmMelPower(true);
  assert.equal(melPowerEngine({ ...CFG, nFft: 1400 }), 'js');
});

// The kernel's memory is sized once per plan and never grown: growing a WebAssembly memory
// detaches its ArrayBuffer, and V8 then adds a check to every later typed-array access in the
// thread (the rest of the feature code would slow down). Long clips go through in chunks.
test('mel power and image on WebAssembly leave V8\'s ArrayBuffer-detaching protector intact, even for a 10-minute clip', () => {
  const script = `require('tsx/cjs'); const { PREPROCESS_DEFAULTS, withDefaults } = require(${JSON.stringify(join(__dirname, '..', '..', 'lib', 'config.ts'))});` +
    `const f = require(${JSON.stringify(join(__dirname, '..', '..', 'lib', 'features', 'index.ts'))}); const cfg = withDefaults(PREPROCESS_DEFAULTS);` +
    `for (const s of [1, 10, 600]) { const x = new Float32Array(s * 44100).map((_, i) => Math.sin(i / 7)); console.log('frames', f.melSpectrogram(x, cfg).cols, f.clipImageFromSamples(x, cfg).frames); }`;
  const out = execFileSync(process.execPath, ['--trace-protector-invalidation', '-e', script], { cwd: join(__dirname, '..', '..'), encoding: 'utf8' });
  assert.match(out, /frames 38127 38127/);
  assert.doesNotMatch(out, /Invalidating protector cell ArrayBufferDetaching/);
});

test('clipImageFromSamples in one WebAssembly memory (trim block sums, padding and image there) gives the step-by-step bytes', async () => {
  const { useWasmMelPower } = await import('../../lib/features/logmel');
  const { useWasmImage } = await import('../../lib/features/image');
  const rng = new Rng(23);
  // Loud middle, quiet edges (trim cuts both ends), or silence, at lengths around minSamples,
  // odd lengths, and one past the kernel memory's first size (2^19 samples) so it is replaced.
  const clip = (n: number, quietHead: number, quietTail: number) => Float32Array.from({ length: n }, (_, i) =>
    (i < quietHead || i >= n - quietTail ? 1e-5 : 0.3) * rng.normal());
  const cases: Array<[string, Float32Array, typeof CFG]> = [
    ['short, trimmed both ends', clip(30001, 5000, 7000), CFG],
    ['exactly minSamples', clip(CFG.minSamples, 0, 0), CFG],
    ['long, trimmed', clip(200003, 40000, 1000), CFG],
    ['digital silence', new Float32Array(50000), CFG],
    ['one sample', Float32Array.of(0.5), CFG],
    ['shorter than the reflection', clip(700, 0, 0), { ...CFG, minSamples: 0 }],
    ['no trim', clip(100000, 20000, 20000), { ...CFG, trim: false }],
    ['trim hop not a multiple of 4', clip(90001, 10000, 10000), { ...CFG, trimHopLength: 510, trimFrameLength: 2040 }],
    ['trim frame not a multiple of the hop', clip(90001, 10000, 10000), { ...CFG, trimHopLength: 500, trimFrameLength: 2048 }],
    ['past the first memory size', clip(600001, 100000, 100), CFG],
    ['n_fft 2048 plan', clip(50000, 3000, 3000), { ...CFG, nFft: 2048, hopLength: 512 }],
  ];
  for (const [name, x, cfg] of cases) {
    const kernel = clipImageFromSamples(x, cfg);
    useWasmMelPower(false);
    useWasmImage(false);
    const steps = clipImageFromSamples(x, cfg);
    useWasmMelPower(true);
    useWasmImage(true);
    assert.equal(kernel.frames, steps.frames, name);
    assert.deepEqual(kernel.data, steps.data, name);
  }
  // The trim with the kernel's block sums gives trimSilence's own frame levels, bit for bit.
  const x = clip(123457, 20000, 30000);
  const plain = trimSilence(x);
  const withKernel = (await import('../../lib/features/melPowerWasm')).WasmMelPower.create(new (await import('../../lib/features/stft')).StftPlan({ nFft: 2560, hopLength: 694 }),
    sparseMelFilterbank({ sampleRate: 44100, nFft: 2560, nMels: 128, fMin: 20, fMax: 22050 }), x.length)!;
  withKernel.signal().set(x);
  let calls = 0;
  const r = trimSilence(x, {}, (first, hop, count) => { calls++; return withKernel.blockSums(first, hop, count); });
  assert.equal(calls, 1);
  assert.equal(r.start, plain.start);
  assert.equal(r.end, plain.end);
  assert.deepEqual(r.frameDb, plain.frameDb);
});
