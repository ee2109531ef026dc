/**
 * Argument checks shared by the augmentation functions, torchaudio style: the message names the
 * parameter and shows the offending value ("maxFraction must be in [0, 1], got 1.5").
 */
import type { AugmentConfig, AugmentToggle, MaskFill } from '../config';

/** Throws unless `value` is a finite number. */
export function checkFinite(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${name} must be a finite number, got ${value}`);
}

/** Throws unless lo ≤ value ≤ hi. */
export function checkInRange(name: string, value: number, lo: number, hi: number): void {
  checkFinite(name, value);
  if (value < lo || value > hi) throw new Error(`${name} must be in [${lo}, ${hi}], got ${value}`);
}

/** Throws unless value > 0. */
export function checkPositive(name: string, value: number): void {
  checkFinite(name, value);
  if (!(value > 0)) throw new Error(`${name} must be > 0, got ${value}`);
}

/** Throws unless value is an integer ≥ min. */
export function checkInteger(name: string, value: number, min = 0): void {
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, got ${value}`);
}

/** Throws unless lo ≤ hi (both finite). */
function checkOrdered(loName: string, lo: number, hiName: string, hi: number): void {
  checkFinite(loName, lo);
  checkFinite(hiName, hi);
  if (lo > hi) throw new Error(`${loName} must be <= ${hiName}, got ${loName}=${lo} > ${hiName}=${hi}`);
}

/** Checks an {@link AugmentToggle}'s `enabled` and `p`. */
export function checkToggle(name: string, t: AugmentToggle): void {
  if (typeof t !== 'object' || t === null) throw new Error(`${name} must be an object, got ${t}`);
  if (typeof t.enabled !== 'boolean') throw new Error(`${name}.enabled must be a boolean, got ${t.enabled}`);
  checkInRange(`${name}.p`, t.p, 0, 1);
}

/** Checks a {@link MaskFill} (or 'random' when allowed). */
export function checkFill(name: string, fill: MaskFill | 'random', allowRandom: boolean): void {
  if (fill === 'zero' || fill === 'mean' || (allowRandom && fill === 'random')) return;
  if (typeof fill === 'number') {
    checkInRange(name, fill, 0, 1);
    return;
  }
  const allowed = allowRandom ? "'zero', 'mean', 'random' or a number in [0, 1]" : "'zero', 'mean' or a number in [0, 1]";
  throw new Error(`${name} must be ${allowed}, got ${JSON.stringify(fill)}`);
}

/** True when the toggle says the augmentation may run at all (enabled and p > 0). */
export function isActive(t: AugmentToggle): boolean {
  return t.enabled && t.p > 0;
}

/** The SpecAugment section (also checked by specAugment itself, lib/augment/batch). */
export function checkSpecAugment(sa: AugmentConfig['specAugment']): void {
  checkToggle('specAugment', sa);
  checkInteger('specAugment.freqMasks', sa.freqMasks);
  checkInteger('specAugment.freqMaxWidth', sa.freqMaxWidth);
  checkInteger('specAugment.timeMasks', sa.timeMasks);
  checkInteger('specAugment.timeMaxWidth', sa.timeMaxWidth);
  checkFill('specAugment.fill', sa.fill, false);
}

/**
 * Validates a whole {@link AugmentConfig} (every field's type and range), so a bad notebook
 * override fails before training starts, naming the field: "specMix.maxFraction must be in
 * [0, 1], got 1.5".
 */
export function validateAugmentConfig(cfg: AugmentConfig): void {
  if (cfg.variableCrop) {
    checkToggle('variableCrop', cfg.variableCrop);
    checkInRange('variableCrop.lowPercentile', cfg.variableCrop.lowPercentile, 0, 100);
    checkInRange('variableCrop.highPercentile', cfg.variableCrop.highPercentile, cfg.variableCrop.lowPercentile, 100);
  }
  checkToggle('mixup', cfg.mixup);
  checkPositive('mixup.alpha', cfg.mixup.alpha);
  checkToggle('specMix', cfg.specMix);
  checkInRange('specMix.maxFraction', cfg.specMix.maxFraction, 0, 1);
  checkSpecAugment(cfg.specAugment);
  const re = cfg.randomErasing;
  checkToggle('randomErasing', re);
  checkInRange('randomErasing.minArea', re.minArea, 0, 1);
  checkInRange('randomErasing.maxArea', re.maxArea, 0, 1);
  checkOrdered('randomErasing.minArea', re.minArea, 'randomErasing.maxArea', re.maxArea);
  checkPositive('randomErasing.minAspect', re.minAspect);
  checkPositive('randomErasing.maxAspect', re.maxAspect);
  checkOrdered('randomErasing.minAspect', re.minAspect, 'randomErasing.maxAspect', re.maxAspect);
  checkFill('randomErasing.fill', re.fill, true);
  checkToggle('zoom', cfg.zoom);
  checkInRange('zoom.minScale', cfg.zoom.minScale, 1, 10);
  checkInRange('zoom.maxScale', cfg.zoom.maxScale, 1, 10);
  checkOrdered('zoom.minScale', cfg.zoom.minScale, 'zoom.maxScale', cfg.zoom.maxScale);
  checkToggle('lighting', cfg.lighting);
  checkInRange('lighting.maxChange', cfg.lighting.maxChange, 0, 0.99);
  checkToggle('strengthCrop', cfg.strengthCrop);
  checkInRange('strengthCrop.power', cfg.strengthCrop.power, 0, 100);
  if (cfg.shortClipPad !== 'centre' && cfg.shortClipPad !== 'wrap') {
    throw new Error(`shortClipPad must be 'centre' or 'wrap', got ${JSON.stringify(cfg.shortClipPad)}`);
  }
  const w = cfg.waveform;
  if (typeof w.enabled !== 'boolean') throw new Error(`waveform.enabled must be a boolean, got ${w.enabled}`);
  checkToggle('waveform.gain', w.gain);
  checkOrdered('waveform.gain.minDb', w.gain.minDb, 'waveform.gain.maxDb', w.gain.maxDb);
  checkToggle('waveform.timeShift', w.timeShift);
  checkInRange('waveform.timeShift.maxFraction', w.timeShift.maxFraction, 0, 1);
  checkToggle('waveform.timeStretch', w.timeStretch);
  checkInRange('waveform.timeStretch.minStretch', w.timeStretch.minStretch, 0.25, 4);
  checkInRange('waveform.timeStretch.maxStretch', w.timeStretch.maxStretch, 0.25, 4);
  checkOrdered('waveform.timeStretch.minStretch', w.timeStretch.minStretch, 'waveform.timeStretch.maxStretch', w.timeStretch.maxStretch);
  checkToggle('waveform.pitchShift', w.pitchShift);
  checkInRange('waveform.pitchShift.maxSemitones', w.pitchShift.maxSemitones, 0, 24);
  checkToggle('waveform.noise', w.noise);
  checkOrdered('waveform.noise.minSnrDb', w.noise.minSnrDb, 'waveform.noise.maxSnrDb', w.noise.maxSnrDb);
  if (!['generated', 'clips', 'mixed'].includes(w.noise.source)) {
    throw new Error(`waveform.noise.source must be 'generated', 'clips' or 'mixed', got ${JSON.stringify(w.noise.source)}`);
  }
  if (!['white', 'pink', 'brown', 'random'].includes(w.noise.color)) {
    throw new Error(`waveform.noise.color must be 'white', 'pink', 'brown' or 'random', got ${JSON.stringify(w.noise.color)}`);
  }
  checkToggle('waveform.fade', w.fade);
  checkInRange('waveform.fade.maxInFraction', w.fade.maxInFraction, 0, 1);
  checkInRange('waveform.fade.maxOutFraction', w.fade.maxOutFraction, 0, 1);
  if (!['linear', 'quarterSine', 'halfSine'].includes(w.fade.shape)) {
    throw new Error(`waveform.fade.shape must be 'linear', 'quarterSine' or 'halfSine', got ${JSON.stringify(w.fade.shape)}`);
  }
  checkToggle('waveform.reverb', w.reverb);
  checkInRange('waveform.reverb.minRt60', w.reverb.minRt60, 0.001, 10);
  checkInRange('waveform.reverb.maxRt60', w.reverb.maxRt60, 0.001, 10);
  checkOrdered('waveform.reverb.minRt60', w.reverb.minRt60, 'waveform.reverb.maxRt60', w.reverb.maxRt60);
  checkInRange('waveform.reverb.minWet', w.reverb.minWet, 0, 1);
  checkInRange('waveform.reverb.maxWet', w.reverb.maxWet, 0, 1);
  checkOrdered('waveform.reverb.minWet', w.reverb.minWet, 'waveform.reverb.maxWet', w.reverb.maxWet);
  for (const key of ['bass', 'treble'] as const) {
    checkToggle(`waveform.${key}`, w[key]);
    checkPositive(`waveform.${key}.frequency`, w[key].frequency);
    checkInRange(`waveform.${key}.maxGainDb`, w[key].maxGainDb, 0, 40);
  }
  checkToggle('waveform.equalize', w.equalize);
  checkPositive('waveform.equalize.minFrequency', w.equalize.minFrequency);
  checkPositive('waveform.equalize.maxFrequency', w.equalize.maxFrequency);
  checkOrdered('waveform.equalize.minFrequency', w.equalize.minFrequency, 'waveform.equalize.maxFrequency', w.equalize.maxFrequency);
  checkInRange('waveform.equalize.maxGainDb', w.equalize.maxGainDb, 0, 40);
  checkPositive('waveform.equalize.q', w.equalize.q);
}
