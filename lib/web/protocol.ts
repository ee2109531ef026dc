/**
 * What the static site holds and what its page and worker say to each other.
 *
 * `site.json` ({@link SiteManifest}) is written by `fat2019 web` from the run folder: the
 * run's preprocessing and inference settings, its vocabulary and its ensemble's model files,
 * so the page needs nothing else at run time.
 */
import type { InferConfig, InputNormalization, PreprocessConfig } from '../config';
import type { TagResult } from '../infer/ranking';
import type { Timeline } from './timeline';
import type { Activation } from './windowScores';

export const SITE_MANIFEST_VERSION = 1;

/** One ensemble member: its name and its tfjs layers `model.json`, relative to the site. */
export interface SiteMember {
  name: string;
  modelUrl: string;
  /** The member's own input normalisation (imported models), when it differs from the run's; absent: the manifest's. */
  inputNormalization?: InputNormalization | null;
}

/** Contents of `site.json`. */
export interface SiteManifest {
  version: number;
  /** The run folder's name, shown on the page. */
  run: string;
  vocabulary: string[];
  preprocess: PreprocessConfig;
  infer: InferConfig;
  activation: Activation;
  /** The run's ModelConfig.inputNormalization (models imported from PyTorch), null for none. */
  inputNormalization: InputNormalization | null;
  /** Classes listed by default (the CLI's `--top`). */
  topK: number;
  members: SiteMember[];
}

/** tfjs backends the page tries, best first. */
export const BROWSER_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BrowserBackend = (typeof BROWSER_BACKENDS)[number];

/** Audio to tag: encoded file bytes (WAV/FLAC), or PCM recorded from the microphone. */
export type AudioInput =
  | { kind: 'file'; name: string; bytes: ArrayBuffer }
  | { kind: 'pcm'; name: string; samples: Float32Array; sampleRate: number };

export type ToWorker =
  | { type: 'init'; siteUrl: string; manifest: SiteManifest; backend: BrowserBackend | null }
  | { type: 'tag'; id: number; input: AudioInput; topK: number };

/** The log-mel image, shrunk to at most a few thousand columns for display. */
export interface PreviewImage {
  nMels: number;
  frames: number;
  /** Row-major `[nMels][frames]` uint8, mel row 0 = the lowest band. */
  data: Uint8Array;
  /** Seconds of decoded audio at the image's first and last column. */
  startSeconds: number;
  endSeconds: number;
}

export type Phase = 'decoding' | 'features' | 'inference';

export type FromWorker =
  /** featureEngine: what computes the mel power (lib/features/logmel melPowerEngine). */
  | { type: 'ready'; backend: string; reasons: string[]; members: number; featureEngine: 'wasm-simd' | 'js' }
  | { type: 'progress'; id: number; phase: Phase; done: number; total: number }
  | { type: 'result'; id: number; tags: TagResult[]; timeline: Timeline; image: PreviewImage; ms: Record<Phase, number> }
  | { type: 'error'; id: number | null; message: string };
