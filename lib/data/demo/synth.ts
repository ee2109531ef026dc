/**
 * Mixing one demo clip: source recordings placed at given times with a gain and a pitch
 * (a plain rate change), over coloured background noise. Pure functions of their arguments
 * (randomness comes in through an explicit {@link Rng}), so a seed gives identical samples.
 */
import type { Rng } from '../../util/rng';

/** Background noise colours: power spectrum ∝ 1/f^0 (white), 1/f (pink), 1/f² (brown). */
export const NOISE_COLOURS = ['white', 'pink', 'brown'] as const;
export type NoiseColour = (typeof NOISE_COLOURS)[number];

/** One sound event of a clip, in output-sample units. */
export interface EventPlacement {
  /** Source samples `[n]` (mono, the clip's sample rate). */
  source: Float32Array;
  /** Playback rate: 2^(semitones/12); > 1 = higher and shorter. */
  rate: number;
  /** Linear gain applied to the source samples. */
  gain: number;
  /** First output sample of the event in the clip. */
  onset: number;
  /** First sample of the (rate-changed) event that is played: > 0 when a long event is excerpted. */
  offset: number;
  /** Number of output samples the event lasts (onset + length ≤ clip frames). */
  length: number;
}

/** Output samples of `source` `[n]` played at `rate`: floor((n − 1) / rate) + 1. */
export function rateChangedLength(n: number, rate: number): number {
  if (!(rate > 0)) throw new Error(`rate must be > 0, got ${rate}`);
  return n <= 0 ? 0 : Math.floor((n - 1) / rate) + 1;
}

/** Samples of a fade-in / fade-out applied where an excerpt cuts a recording (5 ms at 44.1 kHz). */
const EXCERPT_FADE_SAMPLES = 220;

/**
 * Adds `event` into `mix` `[frames]` (float64 accumulator) with linear interpolation for the rate
 * change, fading in/out over {@link EXCERPT_FADE_SAMPLES} where the excerpt cuts the recording.
 *
 * @returns the RMS of the event's contribution (over its `length` samples)
 */
export function addEvent(mix: Float64Array, event: EventPlacement): number {
  const { source, rate, gain, onset, offset, length } = event;
  if (onset < 0 || onset + length > mix.length) {
    throw new Error(`event [${onset}, ${onset + length}) outside the clip of ${mix.length} samples`);
  }
  const total = rateChangedLength(source.length, rate);
  const fadeIn = offset > 0;
  const fadeOut = offset + length < total;
  const last = source.length - 1;
  let energy = 0;
  for (let j = 0; j < length; j++) {
    const pos = (offset + j) * rate;
    const i = Math.floor(pos);
    const frac = pos - i;
    const a = source[Math.min(i, last)];
    const b = source[Math.min(i + 1, last)];
    let v = gain * (a + (b - a) * frac);
    if (fadeIn && j < EXCERPT_FADE_SAMPLES) v *= j / EXCERPT_FADE_SAMPLES;
    if (fadeOut && length - 1 - j < EXCERPT_FADE_SAMPLES) v *= (length - 1 - j) / EXCERPT_FADE_SAMPLES;
    mix[onset + j] += v;
    energy += v * v;
  }
  return length > 0 ? Math.sqrt(energy / length) : 0;
}

/**
 * Coloured noise `[frames]` with unit RMS: white (uniform), pink (Paul Kellet's economy
 * 3-pole filter) or brown (leaky integrator, pole 0.995, so no DC drift). The white source is
 * an inline xorshift32 seeded from `rng` (one draw): several times faster per sample than
 * calling `rng` and still fully determined by it.
 */
export function colouredNoise(frames: number, colour: NoiseColour, rng: Rng): Float64Array {
  const out = new Float64Array(frames);
  let state = rng.nextUint32() | 1;
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  for (let i = 0; i < frames; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const w = (state >>> 0) / 2147483648 - 1;
    let v: number;
    if (colour === 'white') {
      v = w;
    } else if (colour === 'pink') {
      b0 = 0.99765 * b0 + w * 0.099046;
      b1 = 0.963 * b1 + w * 0.2965164;
      b2 = 0.57 * b2 + w * 1.0526913;
      v = b0 + b1 + b2 + w * 0.1848;
    } else {
      b0 = 0.995 * b0 + w;
      v = b0;
    }
    out[i] = v;
  }
  let energy = 0;
  for (let i = 0; i < frames; i++) energy += out[i] * out[i];
  const rms = Math.sqrt(energy / Math.max(1, frames));
  if (rms > 0) for (let i = 0; i < frames; i++) out[i] /= rms;
  return out;
}

/** Peak the final clip may reach; louder mixes are scaled down to it (no clipping). */
const CLIP_PEAK_LIMIT = 0.99;

/**
 * Renders one clip: every event mixed in, then noise of `colour` whose RMS is `noiseBelowDb`
 * under the loudest event's RMS, then the whole clip scaled down if its peak exceeds
 * {@link CLIP_PEAK_LIMIT}.
 *
 * @returns mono float32 samples `[frames]`
 */
export function renderClip(frames: number, events: readonly EventPlacement[], noise: { colour: NoiseColour; belowDb: number }, rng: Rng): Float32Array {
  const mix = new Float64Array(frames);
  let loudest = 0;
  for (const e of events) loudest = Math.max(loudest, addEvent(mix, e));
  const level = (loudest > 0 ? loudest : 0.1) * Math.pow(10, -noise.belowDb / 20);
  const n = colouredNoise(frames, noise.colour, rng);
  let peak = 0;
  for (let i = 0; i < frames; i++) {
    mix[i] += level * n[i];
    const a = Math.abs(mix[i]);
    if (a > peak) peak = a;
  }
  const scale = peak > CLIP_PEAK_LIMIT ? CLIP_PEAK_LIMIT / peak : 1;
  const out = new Float32Array(frames);
  for (let i = 0; i < frames; i++) out[i] = mix[i] * scale;
  return out;
}
