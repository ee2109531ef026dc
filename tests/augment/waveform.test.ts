import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUGMENT_DEFAULTS, PREPROCESS_DEFAULTS, withDefaults, type AugmentConfig } from '../../lib/config';
import type { TrainingClip } from '../../lib/data/types';
import { clipImageFromSamples } from '../../lib/features';
import { Rng } from '../../lib/util/rng';
import {
  addNoise,
  augmentWaveform,
  biquadMagnitude,
  bass,
  coloredNoise,
  fade,
  fftConvolve,
  gain,
  highShelfCoefficients,
  lowShelfCoefficients,
  makeTrainingBatch,
  peakingCoefficients,
  pitchShift,
  previewAugmentations,
  reverb,
  timeShift,
  timeStretch,
  WAVEFORM_AUG_ORDER,
} from '../../lib/augment';

const SR = 44100;

function tone(freq: number, n: number, sr = SR): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => 0.5 * Math.sin((2 * Math.PI * freq * i) / sr));
}

/** Peak frequency (Hz) of a Hann-windowed DFT of x[offset .. offset + n) by direct search around `near`. */
function peakFrequency(x: Float32Array, offset: number, n: number, sr: number, lo: number, hi: number): { freq: number; bin: number } {
  const binHz = sr / n;
  let best = -1;
  let bestK = 0;
  for (let k = Math.floor(lo / binHz); k <= Math.ceil(hi / binHz); k++) {
    let re = 0;
    let im = 0;
    for (let i = 0; i < n; i++) {
      const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
      const a = (-2 * Math.PI * k * i) / n;
      re += w * x[offset + i] * Math.cos(a);
      im += w * x[offset + i] * Math.sin(a);
    }
    const m = re * re + im * im;
    if (m > best) {
      best = m;
      bestK = k;
    }
  }
  return { freq: bestK * binHz, bin: binHz };
}

function power(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return s;
}

test('time stretch by r changes the length to round(n·r) (±1) and keeps the pitch', () => {
  const x = tone(1000, 20000);
  for (const r of [0.8, 0.9, 1.07, 1.2]) {
    const y = timeStretch(x, SR, { stretch: r });
    assert.ok(Math.abs(y.length - x.length * r) <= 1, `r=${r}: ${y.length} vs ${x.length * r}`);
    const { freq, bin } = peakFrequency(y, 4000, 8192, SR, 900, 1100);
    assert.ok(Math.abs(freq - 1000) <= bin, `r=${r}: peak ${freq}`);
    // steady-state amplitude is kept (phase-coherent vocoder on a pure tone)
    let mx = 0;
    for (let i = 4000; i < y.length - 4000; i++) mx = Math.max(mx, Math.abs(y[i]));
    assert.ok(mx > 0.4 && mx < 0.6, `r=${r}: amplitude ${mx}`);
  }
  assert.throws(() => timeStretch(x, SR, { stretch: 0 }), /stretch must be in \[0\.1, 10\], got 0/);
});

test('pitch shift moves a pure tone by the requested semitones (within one FFT bin), length kept', () => {
  const x = tone(1000, 32768);
  for (const s of [-3, 2, 4.5]) {
    const y = pitchShift(x, SR, { semitones: s });
    assert.equal(y.length, x.length);
    const want = 1000 * Math.pow(2, s / 12);
    const { freq, bin } = peakFrequency(y, 8192, 16384, SR, want - 60, want + 60);
    assert.ok(Math.abs(freq - want) <= bin, `semitones ${s}: peak ${freq} Hz, want ${want} ± ${bin}`);
  }
});

test('noise at SNR s dB gives that SNR within 0.1 dB (generated colours and looped clips)', () => {
  const rng = new Rng(3);
  const x = tone(440, 30000);
  for (const color of ['white', 'pink', 'brown'] as const) {
    for (const snr of [0, 7.5, 25]) {
      const y = addNoise(x, SR, { snrDb: snr, noise: coloredNoise(x.length, color, rng) });
      const added = y.map((v, i) => v - x[i]);
      const got = 10 * Math.log10(power(x) / power(added));
      assert.ok(Math.abs(got - snr) < 0.1, `${color} ${snr}: ${got}`);
    }
  }
  const clip = coloredNoise(7000, 'pink', rng); // shorter than the signal: looped from the offset
  const y = addNoise(x, SR, { snrDb: 12, noise: clip, offset: 6000 });
  assert.ok(Math.abs(10 * Math.log10(power(x) / power(y.map((v, i) => v - x[i]))) - 12) < 0.1);
  assert.ok(Math.abs(y[5] - x[5] - (y[7005] - x[7005])) < 1e-6, 'the clip loops');
  assert.deepEqual(addNoise(new Float32Array(10), SR, { snrDb: 10, noise: clip }), new Float32Array(10));
  assert.throws(() => addNoise(x, SR, { snrDb: 10, noise: new Float32Array(5) }), /noise is silent/);
});

test('gain, circular shift and fade', () => {
  const x = Float32Array.from([1, 2, 3, 4, 5]);
  assert.deepEqual(Array.from(timeShift(x, SR, { shiftSamples: 2 })), [4, 5, 1, 2, 3]);
  assert.deepEqual(Array.from(timeShift(x, SR, { shiftSamples: -6 })), [2, 3, 4, 5, 1]);
  const g = gain(x, SR, { gainDb: 20 });
  assert.ok(Math.abs(g[2] - 30) < 1e-5);
  const ones = new Float32Array(100).fill(1);
  const f = fade(ones, SR, { inSamples: 10, outSamples: 20, shape: 'linear' });
  assert.equal(f[0], 0);
  assert.ok(Math.abs(f[5] - 0.5) < 1e-7);
  assert.equal(f[50], 1);
  assert.equal(f[99], 0);
  assert.ok(Math.abs(f[89] - 0.5) < 1e-7);
  assert.throws(() => timeShift(x, SR, { shiftSamples: 1.5 }), /shiftSamples must be an integer, got 1.5/);
});

test('RBJ shelves and peaking EQ have the cookbook responses; filtering scales a tone accordingly', () => {
  const low = lowShelfCoefficients(SR, 100, 6);
  assert.ok(Math.abs(20 * Math.log10(biquadMagnitude(low, SR, 1)) - 6) < 0.01);
  assert.ok(Math.abs(20 * Math.log10(biquadMagnitude(low, SR, 20000))) < 0.01);
  assert.ok(Math.abs(20 * Math.log10(biquadMagnitude(low, SR, 100)) - 3) < 0.01, 'half the gain at the corner');
  const high = highShelfCoefficients(SR, 3000, -8);
  assert.ok(Math.abs(20 * Math.log10(biquadMagnitude(high, SR, 22049)) + 8) < 0.01);
  assert.ok(Math.abs(20 * Math.log10(biquadMagnitude(high, SR, 20))) < 0.01);
  const peak = peakingCoefficients(SR, 1000, 5, 1);
  assert.ok(Math.abs(20 * Math.log10(biquadMagnitude(peak, SR, 1000)) - 5) < 1e-9);
  const x = tone(30, SR);
  const y = bass(x, SR, { gainDb: 6, frequency: 100 });
  const ratio = Math.sqrt(power(y.subarray(SR / 2)) / power(x.subarray(SR / 2)));
  assert.ok(Math.abs(20 * Math.log10(ratio) - 20 * Math.log10(biquadMagnitude(low, SR, 30))) < 0.05);
  assert.throws(() => lowShelfCoefficients(SR, 30000, 3), /frequency must be < sampleRate \/ 2 = 22050, got 30000/);
});

test('FFT convolution equals direct convolution; reverb with wet 0 is the identity', () => {
  const rng = new Rng(9);
  const x = Float32Array.from({ length: 1500 }, () => rng.normal());
  const h = Float32Array.from({ length: 300 }, () => rng.normal());
  const y = fftConvolve(x, h);
  assert.equal(y.length, 1799);
  for (const i of [0, 1, 299, 777, 1500, 1798]) {
    let s = 0;
    for (let k = 0; k < h.length; k++) if (i - k >= 0 && i - k < x.length) s += h[k] * x[i - k];
    assert.ok(Math.abs(y[i] - s) < 1e-3, `y[${i}] ${y[i]} vs ${s}`);
  }
  const sig = tone(500, 4000);
  assert.deepEqual(reverb(sig, SR, { rt60: 0.2, wet: 0 }, new Rng(1)), sig);
  const wet = reverb(sig, SR, { rt60: 0.2, wet: 0.5 }, new Rng(1));
  assert.equal(wet.length, sig.length);
  assert.notDeepEqual(wet, sig);
});

function waveCfg(): AugmentConfig {
  const cfg = withDefaults(AUGMENT_DEFAULTS);
  cfg.waveform.enabled = true;
  for (const name of WAVEFORM_AUG_ORDER) cfg.waveform[name].p = 1;
  return cfg;
}

test('waveform chain: every augmentation applied in order, deterministic per seed', () => {
  const x = tone(700, 22050);
  const cfg = waveCfg();
  const a = augmentWaveform(x, SR, cfg.waveform, new Rng(5));
  const b = augmentWaveform(x, SR, cfg.waveform, new Rng(5));
  assert.deepEqual(a.draws.map((d) => d.name), [...WAVEFORM_AUG_ORDER]);
  assert.deepEqual(a.signal, b.signal);
  const stretch = a.draws[1].params.stretch as number;
  assert.ok(Math.abs(a.signal.length - Math.round(x.length * stretch)) <= 1);
  assert.ok(a.signal.every(Number.isFinite));
  const off = augmentWaveform(x, SR, { ...cfg.waveform, enabled: false }, new Rng(5));
  assert.equal(off.signal, x);
  assert.throws(() => augmentWaveform(x, SR, { ...cfg.waveform, noise: { ...cfg.waveform.noise, source: 'clips' } }, new Rng(1)), /no noiseClips/);
});

test('pipeline with waveform augmentations recomputes the image from the augmented waveform', () => {
  const pre = PREPROCESS_DEFAULTS;
  const base = tone(600, 30000);
  const wave = base.map((v, i) => v + 0.3 * Math.sin((2 * Math.PI * 3000 * i) / SR) * (i > 15000 ? 1 : 0));
  const image = clipImageFromSamples(wave, pre);
  const target = new Float32Array([1, 0, 0]);
  const clips: TrainingClip[] = [{ fname: 'a.wav', image, target, waveform: wave }, { fname: 'b.wav', image, target }];
  const cfg = withDefaults(AUGMENT_DEFAULTS, { mixup: { enabled: false }, specMix: { enabled: false }, zoom: { enabled: false }, lighting: { enabled: false } });
  cfg.waveform.enabled = true;
  for (const name of WAVEFORM_AUG_ORDER) cfg.waveform[name].enabled = false;
  cfg.waveform.pitchShift.enabled = true;
  cfg.waveform.pitchShift.p = 1;
  const got = makeTrainingBatch(clips, [0, 1], 128, 3, cfg, new Rng(2), pre);
  assert.equal(got.x.length, 2 * 128 * 128);
  assert.equal(got.draws.samples[0].waveform[0].name, 'pitchShift');
  assert.equal(got.draws.samples[1].waveform.length, 0, 'no waveform: image used as is');
  const plain = got.x.subarray(128 * 128);
  const shifted = got.x.subarray(0, 128 * 128);
  assert.deepEqual(Array.from(plain.slice(0, 200)), Array.from(image.data.slice(0, 200)).map((v) => Math.fround(v / 255)));
  assert.notDeepEqual(Array.from(shifted), Array.from(plain));
  assert.ok(got.x.every((v) => v >= 0 && v <= 1));

  const items = previewAugmentations({ image, waveform: wave }, waveCfg(), new Rng(3), { preprocess: pre });
  const waveItems = items.filter((it) => it.audio && it.name !== 'original');
  assert.deepEqual(waveItems.map((it) => it.name.split(' ')[0]), [...WAVEFORM_AUG_ORDER]);
  for (const it of waveItems) assert.ok('nMels' in it.image && it.image.nMels === 128 && it.sampleRate === SR);
});
