import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUGMENT_DEFAULTS, withDefaults, type AugmentConfig } from '../../lib/config';
import type { TrainingClip } from '../../lib/data/types';
import type { ClipImage } from '../../lib/features/types';
import { randomCropBatch, type MakeBatch } from '../../lib/train/batch';
import { Rng } from '../../lib/util/rng';
import {
  adjustLighting,
  batchMaker,
  chooseCropStart,
  cropImage,
  makeTrainingBatch,
  mixup,
  previewAugmentations,
  randomErasing,
  specAugment,
  specMix,
  specMixApply,
  validateAugmentConfig,
  windowEnergies,
  zoomImage,
  type SpecMixDraw,
} from '../../lib/augment';

/** A config with every augmentation switched off. */
function allOff(): AugmentConfig {
  const cfg = withDefaults(AUGMENT_DEFAULTS);
  for (const key of ['mixup', 'specMix', 'specAugment', 'randomErasing', 'zoom', 'lighting', 'strengthCrop'] as const) cfg[key].enabled = false;
  cfg.waveform.enabled = false;
  return cfg;
}

/** The same, but every augmentation enabled with probability 0. */
function allZeroP(): AugmentConfig {
  const cfg = withDefaults(AUGMENT_DEFAULTS);
  for (const key of ['mixup', 'specMix', 'specAugment', 'randomErasing', 'zoom', 'lighting', 'strengthCrop'] as const) {
    cfg[key].enabled = true;
    cfg[key].p = 0;
  }
  cfg.waveform.enabled = true;
  for (const key of Object.keys(cfg.waveform) as (keyof AugmentConfig['waveform'])[]) {
    const section = cfg.waveform[key];
    if (typeof section === 'object') section.p = 0;
  }
  return cfg;
}

function randomImage(rng: Rng, nMels: number, frames: number): ClipImage {
  const data = new Uint8Array(nMels * frames);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { nMels, frames, data };
}

function makeClips(rng: Rng, count: number, nMels: number, numClasses: number, widths: number[]): TrainingClip[] {
  return Array.from({ length: count }, (_, i) => {
    const target = new Float32Array(numClasses);
    target[i % numClasses] = 1;
    if (i % 3 === 0) target[(i + 1) % numClasses] = 1;
    return { fname: `clip${i}.wav`, image: randomImage(rng, nMels, widths[i % widths.length]), target };
  });
}

function randomBatch(rng: Rng, batch: number, height: number, width: number, numClasses: number) {
  const x = Float32Array.from({ length: batch * height * width }, () => rng.uniform());
  const y = Float32Array.from({ length: batch * numClasses }, () => (rng.uniform() < 0.3 ? 1 : 0));
  return { x, y };
}

test('specMixApply copies exactly the chosen bands from the partner and mixes targets by a = h + w − h·w', () => {
  const rng = new Rng(11);
  const B = 3, H = 8, W = 10, C = 4;
  const { x, y } = randomBatch(rng, B, H, W, C);
  const h = 0.3, w = 0.25; // rows = int(2.4) = 2, cols = int(2.5) = 2
  const draws: SpecMixDraw[] = [
    { applied: true, partner: 2, h, w, rowStart: 5, rows: 2, colStart: 3, cols: 2 },
    { applied: false, partner: 0, h: 0, w: 0, rowStart: 0, rows: 0, colStart: 0, cols: 0 },
    { applied: true, partner: 0, h: 0.1, w: 0, rowStart: 0, rows: 0, colStart: 9, cols: 0 },
  ];
  const out = specMixApply(x, y, { batch: B, height: H, width: W }, draws);
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) {
      const fromPartner = (r === 5 || r === 6) || (c === 3 || c === 4);
      assert.equal(out.x[0 * H * W + r * W + c], fromPartner ? x[2 * H * W + r * W + c] : x[r * W + c], `sample 0 (${r}, ${c})`);
      assert.equal(out.x[1 * H * W + r * W + c], x[1 * H * W + r * W + c], 'sample 1 untouched');
      assert.equal(out.x[2 * H * W + r * W + c], x[2 * H * W + r * W + c], 'sample 2: empty bands');
    }
  }
  const a = 0.3 + 0.25 - 0.3 * 0.25; // 0.475 from the unrounded fractions
  for (let c = 0; c < C; c++) {
    assert.ok(Math.abs(out.y[c] - ((1 - a) * y[c] + a * y[2 * C + c])) < 1e-6);
    assert.equal(out.y[C + c], y[C + c]);
    assert.ok(Math.abs(out.y[2 * C + c] - (0.9 * y[2 * C + c] + 0.1 * y[c])) < 1e-6, 'a = h when w = 0 even with 0 rows');
  }
  // inputs untouched (pure)
  assert.notEqual(out.x, x);
  assert.throws(() => specMixApply(x, y, { batch: B, height: H, width: W }, [{ ...draws[0], rowStart: 7 }, draws[1], draws[2]]), /rowStart \+ rows must be <= height = 8/);
});

test('specMix draws h, w < maxFraction, int(h·H) rows, valid starts, one permutation, and applies them', () => {
  const rng = new Rng(5);
  const B = 16, H = 32, W = 40, C = 6;
  const { x, y } = randomBatch(rng, B, H, W, C);
  const cfg = withDefaults(AUGMENT_DEFAULTS).specMix;
  const r = specMix(x, y, { batch: B, height: H, width: W }, cfg, new Rng(9));
  assert.deepEqual([...r.draws.map((d) => d.partner)].sort((a, b) => a - b), Array.from({ length: B }, (_, i) => i));
  for (const d of r.draws) {
    assert.ok(d.applied && d.h >= 0 && d.h < 0.25 && d.w >= 0 && d.w < 0.25);
    assert.equal(d.rows, Math.floor(d.h * H));
    assert.equal(d.cols, Math.floor(d.w * W));
    assert.ok(d.rowStart >= 0 && d.rowStart + d.rows <= H && d.colStart >= 0 && d.colStart + d.cols <= W);
  }
  const again = specMixApply(x, y, { batch: B, height: H, width: W }, r.draws);
  assert.deepEqual(r.x, again.x);
  assert.deepEqual(r.y, again.y);
  // Pixels changed only inside the bands.
  const plane = H * W;
  r.draws.forEach((d, i) => {
    for (let row = 0; row < H; row++)
      for (let c = 0; c < W; c++) {
        const inBand = (row >= d.rowStart && row < d.rowStart + d.rows) || (c >= d.colStart && c < d.colStart + d.cols);
        assert.equal(r.x[i * plane + row * W + c], x[(inBand ? d.partner : i) * plane + row * W + c]);
      }
  });
});

test('mixup: λ ≥ 0.5, partners form a permutation, inputs and targets blend linearly', () => {
  const rng = new Rng(3);
  const B = 64, H = 4, W = 5, C = 7;
  const { x, y } = randomBatch(rng, B, H, W, C);
  const r = mixup(x, y, { batch: B, height: H, width: W }, withDefaults(AUGMENT_DEFAULTS).mixup, new Rng(4));
  assert.deepEqual([...r.draws.map((d) => d.partner)].sort((a, b) => a - b), Array.from({ length: B }, (_, i) => i));
  let belowOne = 0;
  r.draws.forEach((d, i) => {
    assert.ok(d.applied && d.lambda >= 0.5 && d.lambda <= 1, `lambda ${d.lambda}`);
    if (d.lambda < 0.99) belowOne++;
    for (let j = 0; j < H * W; j++) {
      const want = d.lambda * x[i * H * W + j] + (1 - d.lambda) * x[d.partner * H * W + j];
      assert.ok(Math.abs(r.x[i * H * W + j] - want) < 1e-6);
    }
    for (let c = 0; c < C; c++) {
      const want = d.lambda * y[i * C + c] + (1 - d.lambda) * y[d.partner * C + c];
      assert.ok(Math.abs(r.y[i * C + c] - want) < 1e-6);
    }
  });
  assert.ok(belowOne > B / 4, 'Beta(0.4, 0.4) gives many λ well below 1');
});

test('SpecAugment fills whole bands and random erasing a rectangle; targets unchanged', () => {
  const rng = new Rng(8);
  const B = 4, H = 20, W = 30, C = 3;
  const { x, y } = randomBatch(rng, B, H, W, C);
  const cfg = withDefaults(AUGMENT_DEFAULTS, { specAugment: { enabled: true, p: 1, fill: 0.5, freqMaxWidth: 5, timeMaxWidth: 6 } }).specAugment;
  const r = specAugment(x, y, { batch: B, height: H, width: W }, cfg, new Rng(1));
  assert.deepEqual(r.y, y);
  r.draws.forEach((d, i) => {
    assert.equal(d.masks.length, 4);
    for (let row = 0; row < H; row++)
      for (let c = 0; c < W; c++) {
        const masked = d.masks.some((m) => (m.axis === 'freq' ? row : c) >= m.start && (m.axis === 'freq' ? row : c) < m.start + m.width);
        assert.equal(r.x[i * H * W + row * W + c], masked ? 0.5 : x[i * H * W + row * W + c]);
      }
  });
  const e = randomErasing(x, y, { batch: B, height: H, width: W }, withDefaults(AUGMENT_DEFAULTS, { randomErasing: { enabled: true, p: 1, fill: 'zero' } }).randomErasing, new Rng(2));
  assert.deepEqual(e.y, y);
  e.draws.forEach((d, i) => {
    assert.ok(d.applied);
    const area = d.height * d.width;
    assert.ok(area >= 0.02 * H * W * 0.5 && area <= 0.4 * H * W * 1.5, `area ${area}`);
    for (let row = 0; row < H; row++)
      for (let c = 0; c < W; c++) {
        const inside = row >= d.top && row < d.top + d.height && c >= d.left && c < d.left + d.width;
        assert.equal(e.x[i * H * W + row * W + c], inside ? 0 : x[i * H * W + row * W + c]);
      }
  });
});

test('with everything disabled or every p = 0 the pipeline is the crop alone (= randomCropBatch)', () => {
  const rng = new Rng(21);
  const clips = makeClips(rng, 10, 16, 5, [40, 32, 57]);
  const indices = [3, 1, 4, 1, 5, 9, 2, 6];
  const expected = randomCropBatch(32)(clips, indices, new Rng(77));
  for (const cfg of [allOff(), allZeroP()]) {
    const got = makeTrainingBatch(clips, indices, 32, 5, cfg, new Rng(77));
    assert.deepEqual(got.x, expected.x);
    assert.deepEqual(got.y, expected.y);
    assert.equal(got.batch, 8);
    assert.equal(got.height, 16);
    assert.equal(got.width, 32);
  }
});

test('default pipeline: shapes, dtypes, value ranges, target mass; same seed → same batch', () => {
  const rng = new Rng(31);
  const clips = makeClips(rng, 12, 16, 6, [40, 64, 33]);
  const indices = [0, 2, 4, 6, 8, 10, 1, 3];
  const cfg = withDefaults(AUGMENT_DEFAULTS, { specAugment: { enabled: true }, randomErasing: { enabled: true }, strengthCrop: { enabled: true } });
  const make: MakeBatch = batchMaker(cfg, 32, 6); // plugs into fit({ makeBatch })
  const a = make(clips, indices, new Rng(123));
  const b = make(clips, indices, new Rng(123));
  const c = make(clips, indices, new Rng(124));
  assert.ok(a.x instanceof Float32Array && a.y instanceof Float32Array);
  assert.equal(a.x.length, 8 * 16 * 32);
  assert.equal(a.y.length, 8 * 6);
  assert.ok(a.x.every((v) => v >= 0 && v <= 1 && Number.isFinite(v)));
  assert.ok(a.y.every((v) => v >= 0 && v <= 1));
  assert.deepEqual(a.x, b.x);
  assert.deepEqual(a.y, b.y);
  assert.notDeepEqual(a.x, c.x);
  // Targets are convex combinations: each row's mass lies between the batch's min and max label counts.
  for (let i = 0; i < 8; i++) {
    const mass = a.y.slice(i * 6, (i + 1) * 6).reduce((s, v) => s + v, 0);
    assert.ok(mass >= 1 - 1e-5 && mass <= 2 + 1e-5, `row ${i} mass ${mass}`);
  }
  const full = makeTrainingBatch(clips, indices, 32, 6, cfg, new Rng(123));
  assert.deepEqual(full.x, a.x);
  assert.ok(full.draws.mixup && full.draws.specMix && full.draws.specAugment && full.draws.randomErasing);
  assert.ok(full.draws.samples.some((d) => d.zoom) && full.draws.samples.some((d) => d.lighting));
  assert.throws(() => make(clips, [99], new Rng(1)), /index 99 out of range/);
  assert.throws(() => batchMaker(cfg, 32, 7)(clips, [0], new Rng(1)), /target has 6 classes, expected numClasses = 7/);
});

test('config: withDefaults overrides, unknown fields throw, defaults are frozen, bad values are named', () => {
  const aug = withDefaults(AUGMENT_DEFAULTS, { specMix: { maxFraction: 0.3 }, waveform: { noise: { minSnrDb: 3 } } });
  assert.equal(aug.specMix.maxFraction, 0.3);
  assert.equal(aug.specMix.p, 1);
  assert.equal(aug.waveform.noise.minSnrDb, 3);
  assert.equal(aug.waveform.noise.maxSnrDb, AUGMENT_DEFAULTS.waveform.noise.maxSnrDb);
  assert.equal(AUGMENT_DEFAULTS.specMix.maxFraction, 0.25);
  aug.mixup.alpha = 1; // a mutable copy
  assert.equal(AUGMENT_DEFAULTS.mixup.alpha, 0.4);
  assert.throws(() => {
    (AUGMENT_DEFAULTS.specMix as { maxFraction: number }).maxFraction = 0.5;
  }, TypeError);
  assert.throws(() => withDefaults(AUGMENT_DEFAULTS, { specMixx: {} } as never), /unknown config field "specMixx"/);
  assert.throws(() => withDefaults(AUGMENT_DEFAULTS, { specMix: { maxFrac: 0.3 } } as never), /unknown config field "maxFrac"/);
  assert.doesNotThrow(() => validateAugmentConfig(withDefaults(AUGMENT_DEFAULTS)));
  assert.throws(() => validateAugmentConfig(withDefaults(AUGMENT_DEFAULTS, { specMix: { maxFraction: 1.5 } })), /specMix\.maxFraction must be in \[0, 1\], got 1\.5/);
  assert.throws(() => validateAugmentConfig(withDefaults(AUGMENT_DEFAULTS, { mixup: { p: -0.1 } })), /mixup\.p must be in \[0, 1\], got -0\.1/);
  assert.throws(() => validateAugmentConfig(withDefaults(AUGMENT_DEFAULTS, { waveform: { timeStretch: { minStretch: 1.3 } } })), /minStretch must be <= .*maxStretch/);
  assert.throws(() => validateAugmentConfig(withDefaults(AUGMENT_DEFAULTS, { specAugment: { fill: 'avg' as never } })), /specAugment\.fill must be/);
});

test('strength-adaptive crop: window energies are window means; a high power picks the loudest window', () => {
  const rng = new Rng(41);
  const image = randomImage(rng, 8, 100);
  for (let m = 0; m < 8; m++) for (let t = 60; t < 80; t++) image.data[m * 100 + t] = 255;
  for (let m = 0; m < 8; m++) for (let t = 0; t < 100; t++) if (t < 60 || t >= 80) image.data[m * 100 + t] = 0;
  const e = windowEnergies(image, 20);
  assert.equal(e.length, 81);
  for (const s of [0, 17, 60, 80]) {
    let sum = 0;
    for (let m = 0; m < 8; m++) for (let t = s; t < s + 20; t++) sum += image.data[m * 100 + t];
    assert.ok(Math.abs(e[s] - sum / (8 * 20 * 255)) < 1e-12);
  }
  // power 100: P(60) / P(61) = (1 / 0.95)^100 ≈ 170, so the loudest window wins nearly always.
  const cfg = { enabled: true, p: 1, power: 100 };
  const r = new Rng(1);
  const starts = Array.from({ length: 40 }, () => chooseCropStart(image, 20, cfg, r));
  assert.ok(starts.filter((s) => s === 60).length >= 36, `starts ${starts}`);
  assert.ok(starts.every((s) => s >= 55 && s <= 65), `starts ${starts}`);
  // power 1: quiet windows remain possible but loud ones dominate.
  const counts = [0, 0];
  for (let k = 0; k < 400; k++) counts[chooseCropStart(image, 20, { enabled: true, p: 1, power: 1 }, r) < 40 ? 0 : 1]++;
  assert.ok(counts[1] > counts[0] * 3, `counts ${counts}`);
  // Disabled: one uniform rng.int, like randomCropBatch.
  const a = new Rng(5), b = new Rng(5);
  assert.equal(chooseCropStart(image, 20, { enabled: false, p: 1, power: 1 }, a), b.int(81));
  assert.equal(chooseCropStart({ ...image, frames: 10, data: image.data.slice(0, 80) }, 20, cfg, a), 0);
});

test('cropImage pads short clips centred (zeros) or by wrapping', () => {
  const image: ClipImage = { nMels: 2, frames: 3, data: new Uint8Array([255, 0, 51, 102, 153, 204]) };
  assert.deepEqual(Array.from(cropImage(image, 0, 6, 'centre')).map((v) => Math.round(v * 255)), [0, 255, 0, 51, 0, 0, 0, 102, 153, 204, 0, 0]);
  assert.deepEqual(Array.from(cropImage(image, 0, 5, 'wrap')).map((v) => Math.round(v * 255)), [255, 0, 51, 255, 0, 102, 153, 204, 102, 153]);
  assert.deepEqual(Array.from(cropImage(image, 1, 2)).map((v) => Math.round(v * 255)), [0, 51, 153, 204]);
  assert.throws(() => cropImage(image, 2, 2), /start \+ cropFrames must be <= frames = 3, got 2 \+ 2/);
});

test('zoom: scale 1 is the identity; scale 2 at the corner maps a ramp to half-steps; lighting stays in (0, 1)', () => {
  const H = 6, W = 9;
  const ramp = Float32Array.from({ length: H * W }, (_, i) => (i % W) / 8);
  assert.deepEqual(zoomImage(ramp, H, W, { scale: 1, rowPct: 0.3, colPct: 0.9 }), ramp);
  const z = zoomImage(ramp, H, W, { scale: 2, rowPct: 0, colPct: 0 });
  for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) assert.ok(Math.abs(z[r * W + c] - c / 2 / 8) < 1e-6);
  const z2 = zoomImage(ramp, H, W, { scale: 1.05, rowPct: 0.5, colPct: 1 });
  assert.ok(z2.every((v) => v >= 0 && v <= 1));
  assert.ok(Math.abs(z2[W - 1] - 1) < 1e-6, 'colPct = 1 keeps the right edge');
  const img = Float32Array.from({ length: 100 }, (_, i) => i / 99);
  const brighter = adjustLighting(img, { brightness: 0.55, contrast: null });
  const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
  assert.ok(mean(brighter) > mean(img));
  assert.ok(brighter.every((v) => v > 0 && v < 1));
  const contrast = adjustLighting(img, { brightness: null, contrast: 1.1 });
  assert.ok(contrast[10] < img[10] && contrast[90] > img[90]);
  assert.deepEqual(adjustLighting(img, { brightness: null, contrast: null }), img);
});

test('previewAugmentations returns each augmentation of the same clip', () => {
  const rng = new Rng(51);
  const clip = makeClips(rng, 1, 16, 3, [70])[0];
  const items = previewAugmentations(clip, withDefaults(AUGMENT_DEFAULTS), new Rng(1), { cropFrames: 32 });
  const names = items.map((i) => i.name.split(' ')[0]);
  assert.deepEqual(names, ['original', 'crop', 'strength-adaptive', 'zoom', 'lighting', 'mixup', 'SpecMix', 'SpecAugment', 'random']);
  for (const it of items.slice(1)) {
    assert.ok('rows' in it.image && it.image.rows === 16 && it.image.cols === 32 && it.image.data.length === 16 * 32);
  }
  const only = previewAugmentations(clip, allOff(), new Rng(1), { cropFrames: 32, onlyEnabled: true });
  assert.deepEqual(only.map((i) => i.name.split(' ')[0]), ['original', 'crop']);
});
