/**
 * What each demo clip holds, drawn from a seeded {@link Rng}: its duration, its labels, its
 * events (recording, onset, gain, pitch), its background noise; and the label corruption of the
 * noisy set. No audio is touched here except the recordings' lengths.
 */
import type { Rng } from '../../util/rng';
import { NOISE_COLOURS, rateChangedLength, type NoiseColour } from './synth';

/** The three sets of the Kaggle layout, each a folder of WAVs and a label CSV. */
export const DEMO_SETS = ['train_curated', 'train_noisy', 'test'] as const;
export type DemoSet = (typeof DEMO_SETS)[number];

export type DemoSize = 'tiny' | 'small';

/** Per-size counts and clip lengths: the one table to tune the demo's cost. */
export interface DemoSizeSpec {
  /** Clips per class in train_curated (each class is the first label of this many clips). */
  curatedPerClass: number;
  /** Clips per class in train_noisy (before label corruption). */
  noisyPerClass: number;
  /** Clips per class in test. */
  testPerClass: number;
  /** Clip durations are log-uniform in [minSeconds, maxSeconds] (mostly short, a few long). */
  minSeconds: number;
  maxSeconds: number;
  /** Share of clips (exact, per set) with 2 or 3 true labels (FSDKaggle2019 curated: ~14 %; a sixth of them get 3). */
  multiLabelRate: number;
}

/**
 * `tiny`: unit tests and notebook CI (~100 clips of 0.5–4 s, ~3 min of audio, generated in a few
 * seconds). `small`: the main demo job (~800 clips, log-uniform 0.5–15 s, median ~2.7 s).
 */
export const DEMO_SIZES: Readonly<Record<DemoSize, Readonly<DemoSizeSpec>>> = Object.freeze({
  tiny: Object.freeze({ curatedPerClass: 3, noisyPerClass: 4, testPerClass: 2, minSeconds: 0.5, maxSeconds: 4, multiLabelRate: 0.18 }),
  small: Object.freeze({ curatedPerClass: 20, noisyPerClass: 40, testPerClass: 12, minSeconds: 0.5, maxSeconds: 15, multiLabelRate: 0.18 }),
});

/** Event gains are uniform in this range (dB, relative to the recording normalised to {@link SOURCE_PEAK}). */
export const GAIN_DB_RANGE: readonly [number, number] = [-12, 0];
/** Pitch shifts are uniform in this range (semitones; a plain rate change, so length changes too). */
export const SEMITONE_RANGE: readonly [number, number] = [-2, 2];
/** Background noise RMS is this many dB under the loudest event's RMS (uniform). */
export const NOISE_BELOW_DB_RANGE: readonly [number, number] = [20, 40];
/** Every recording is scaled so that its peak is this before the event gain. */
export const SOURCE_PEAK = 0.9;
/** Chance of each extra event (a repeat of one of the clip's labels), up to {@link MAX_EVENTS}. */
const EXTRA_EVENT_CHANCE = 0.35;
export const MAX_EVENTS = 3;
/** A clip lasts at most its longest event / U(MIN_EVENT_COVERAGE, 1) (but at least minSeconds). */
const MIN_EVENT_COVERAGE = 0.4;

/** One sound event of a clip. */
export interface DemoEventPlan {
  label: string;
  /** Source sample name (`<samplesDir>/<recording>.flac`). */
  recording: string;
  /** Pitch shift in semitones (rate 2^(semitones/12)). */
  semitones: number;
  /** Event gain in dB. */
  gainDb: number;
  /** First clip sample of the event. */
  onset: number;
  /** First played sample of the rate-changed recording (> 0: an excerpt of a recording longer than the clip). */
  offset: number;
  /** Samples played. */
  length: number;
}

/** One clip before rendering. */
export interface DemoClipPlan {
  set: DemoSet;
  fname: string;
  frames: number;
  /** True labels, sorted. */
  labels: string[];
  /** Labels written to the CSV, sorted: = labels except for corrupted noisy clips. */
  listedLabels: string[];
  events: DemoEventPlan[];
  noiseColour: NoiseColour;
  noiseBelowDb: number;
}

/** Lengths (in samples) of the recordings, keyed by name. */
export type RecordingLengths = ReadonlyMap<string, number>;

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)];
}

/**
 * How many extra labels each of `n` clips gets: exactly round(rate · n) clips are multi-label,
 * a sixth of those (rounded) with 3 labels, the rest with 2; which clips, `rng` decides.
 *
 * @returns `[n]` extra-label counts (0, 1 or 2)
 */
export function multiLabelPlan(rng: Rng, n: number, rate: number): number[] {
  if (!(rate >= 0 && rate <= 1)) throw new Error(`multiLabelRate must be in [0, 1], got ${rate}`);
  const multi = Math.round(rate * n);
  const three = Math.round(multi / 6);
  const extra = new Array<number>(n).fill(0);
  rng.permutation(n).slice(0, multi).forEach((idx, rank) => (extra[idx] = rank < three ? 2 : 1));
  return extra;
}

/** Log-uniform duration in [min, max] seconds, as a sample count. */
function drawFrames(rng: Rng, minSeconds: number, maxSeconds: number, sampleRate: number): number {
  const sec = Math.exp(Math.log(minSeconds) + rng.uniform() * (Math.log(maxSeconds) - Math.log(minSeconds)));
  return Math.max(1, Math.round(sec * sampleRate));
}

/**
 * Plans one clip whose first label is `primary`, plus `extraLabels` other labels (uniform among
 * the vocabulary); one event per label, then extra
 * repeats; each event uses a random recording of its class from `pool` (train or test
 * recordings), a random pitch and gain, and a random onset (an event longer than the clip is
 * excerpted, the excerpt start biased towards the recording's beginning).
 */
export function planClip(
  rng: Rng,
  opts: {
    set: DemoSet;
    fname: string;
    primary: string;
    /** Other labels to add (0, 1 or 2), uniform among the rest of the vocabulary; see {@link multiLabelPlan}. */
    extraLabels: number;
    vocabulary: readonly string[];
    pool: Readonly<Record<string, readonly string[]>>;
    lengths: RecordingLengths;
    spec: DemoSizeSpec;
    sampleRate: number;
  },
): DemoClipPlan {
  const { spec, vocabulary } = opts;
  const drawn = drawFrames(rng, spec.minSeconds, spec.maxSeconds, opts.sampleRate);
  const labels = [opts.primary];
  if (opts.extraLabels > 0) {
    const others = rng.shuffle(vocabulary.filter((l) => l !== opts.primary));
    labels.push(...others.slice(0, opts.extraLabels));
  }
  const eventLabels = [...labels];
  while (eventLabels.length < MAX_EVENTS && rng.chance(EXTRA_EVENT_CHANCE)) eventLabels.push(pick(rng, labels));

  const drawnEvents = eventLabels.map((label) => {
    const recordings = opts.pool[label];
    if (!recordings || recordings.length === 0) throw new Error(`demo class "${label}" has no ${opts.set} recordings`);
    const recording = pick(rng, recordings);
    const semitones = rng.range(SEMITONE_RANGE[0], SEMITONE_RANGE[1]);
    const gainDb = rng.range(GAIN_DB_RANGE[0], GAIN_DB_RANGE[1]);
    const n = opts.lengths.get(recording);
    if (n === undefined) throw new Error(`demo recording "${recording}" was not loaded`);
    return { label, recording, semitones, gainDb, total: rateChangedLength(n, Math.pow(2, semitones / 12)) };
  });
  // Like FSDKaggle2019 clips, which are mostly the sound itself, the clip is at most as long as
  // its longest event over a drawn coverage: a 0.2 s drum hit alone in a 15 s clip would make
  // most 2 s training crops unlabelled noise.
  const longest = Math.max(...drawnEvents.map((e) => e.total));
  const coverage = rng.range(MIN_EVENT_COVERAGE, 1);
  const minFrames = Math.round(spec.minSeconds * opts.sampleRate);
  const frames = Math.max(minFrames, Math.min(drawn, Math.round(longest / coverage)));
  const events: DemoEventPlan[] = drawnEvents.map(({ label, recording, semitones, gainDb, total }) => {
    const u = rng.uniform();
    if (total <= frames) {
      return { label, recording, semitones, gainDb, onset: Math.floor(u * (frames - total + 1)), offset: 0, length: total };
    }
    return { label, recording, semitones, gainDb, onset: 0, offset: Math.floor(u * u * (total - frames + 1)), length: frames };
  });
  events.sort((a, b) => a.onset - b.onset || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  const sorted = [...labels].sort();
  return {
    set: opts.set,
    fname: opts.fname,
    frames,
    labels: sorted,
    listedLabels: [...sorted],
    events,
    noiseColour: pick(rng, NOISE_COLOURS),
    noiseBelowDb: rng.range(NOISE_BELOW_DB_RANGE[0], NOISE_BELOW_DB_RANGE[1]),
  };
}

/**
 * Corrupts the listed labels of exactly `round(rate · n)` clips (chosen by `rng`): each either
 * has one true label replaced by a wrong one or gets a wrong label added (even odds); a wrong
 * label is uniform among the classes the clip does not hold. A corrupted clip's label set
 * therefore always differs from its true one, and the clip-level error rate is exact.
 *
 * @returns the number of corrupted clips
 */
export function corruptLabels(clips: DemoClipPlan[], rate: number, vocabulary: readonly string[], rng: Rng): number {
  if (!(rate >= 0 && rate <= 1)) throw new Error(`noisyLabelErrorRate must be in [0, 1], got ${rate}`);
  const k = Math.round(rate * clips.length);
  const chosen = rng.permutation(clips.length).slice(0, k);
  for (const i of chosen) {
    const clip = clips[i];
    const wrong = vocabulary.filter((l) => !clip.labels.includes(l));
    const bad = pick(rng, wrong);
    const listed = [...clip.labels];
    if (rng.chance(0.5)) listed[rng.int(listed.length)] = bad;
    else listed.push(bad);
    clip.listedLabels = listed.sort();
  }
  return k;
}

/** `count` distinct Kaggle-style file names: 8 lowercase hex digits + `.wav`. */
export function drawFnames(rng: Rng, count: number): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  while (out.length < count) {
    const name = `${rng.nextUint32().toString(16).padStart(8, '0')}.wav`;
    if (seen.has(name)) continue;
    seen.add(name);
    out.push(name);
  }
  return out;
}
