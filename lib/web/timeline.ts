/**
 * What the browser page reports for one clip: the tags (the `fat2019 tag --json` format) and
 * the timeline of window scores, with each window placed on the original audio's time axis.
 *
 * The model sees the trimmed, centre-padded clip, so image frame f (frame centres at f · hop,
 * librosa `center=True`) lies at sample `trimStart + f · hop − padLeft` of the decoded audio.
 */
import type { PreprocessConfig } from '../config';
import type { LabelScore, TagResult } from '../infer/ranking';
import { rankLabels } from '../infer/ranking';
import type { ClipWindowScores } from './windowScores';

/** One window of the timeline, on the decoded audio's time axis (seconds, clamped to the clip). */
export interface TimelineWindow {
  start: number;
  end: number;
  /** Scores `[C]` in vocabulary order. */
  scores: number[];
}

/** The `#timeline` element's JSON: every window's scores for every class. */
export interface Timeline {
  file: string;
  /** Duration of the decoded audio. */
  seconds: number;
  /** Class names, the order of each window's `scores`. */
  labels: string[];
  windows: TimelineWindow[];
}

/** Where the model's image sits in the decoded audio: silence trimmed at the start, zero padding added. */
export interface ImagePlacement {
  /** First kept sample after silence trimming. */
  trimStart: number;
  /** Trimmed length in samples. */
  trimmedLength: number;
}

/** Zero samples padCentered puts before a trimmed clip of `trimmedLength` samples. */
export function padLeft(trimmedLength: number, minSamples: number): number {
  return trimmedLength >= minSamples ? 0 : Math.floor((minSamples - trimmedLength) / 2);
}

/** Time in seconds of image frame `frame`, clamped to [0, seconds]. */
export function frameSeconds(frame: number, placement: ImagePlacement, cfg: PreprocessConfig, seconds: number): number {
  const sample = placement.trimStart + frame * cfg.hopLength - padLeft(placement.trimmedLength, cfg.minSamples);
  return Math.min(seconds, Math.max(0, sample / cfg.sampleRate));
}

const round6 = (v: number): number => Math.round(v * 1e6) / 1e6;

/** The tags of one clip: the `topK` classes of `scores.clip`, as `fat2019 tag --json` lists a file. */
export function tagResult(file: string, seconds: number, scores: ClipWindowScores, vocabulary: readonly string[], topK: number): TagResult {
  const labels: LabelScore[] = rankLabels(scores.clip, 0, vocabulary, topK);
  return { file, seconds, labels };
}

/** The timeline of one clip: every window's start and end (seconds) and scores. */
export function buildTimeline(
  file: string,
  seconds: number,
  scores: ClipWindowScores,
  vocabulary: readonly string[],
  placement: ImagePlacement,
  cfg: PreprocessConfig,
  windowFrames: number,
): Timeline {
  const C = vocabulary.length;
  const windows = scores.starts.map((start, w) => ({
    start: round6(frameSeconds(start, placement, cfg, seconds)),
    end: round6(frameSeconds(start + windowFrames, placement, cfg, seconds)),
    scores: Array.from(scores.windows.subarray(w * C, (w + 1) * C)),
  }));
  return { file, seconds, labels: [...vocabulary], windows };
}
