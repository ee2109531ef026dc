/**
 * One preprocessing job (decode → image → cache entry), shared by the worker threads and the
 * in-process path so both produce identical entries.
 */
import type { PreprocessConfig } from '../config';
import { loadAudioFile } from '../audio/load';
import { clipImageFromSamples } from '../features/logmel';
import { sourceStamp, writeCachedImage } from './featureCache';

/** A clip to preprocess: its audio file and the cache entry to write. */
export interface PreprocessJob {
  id: number;
  file: string;
  entry: string;
}

/** Outcome of a job: frames of the image, or the reason it failed. */
export type PreprocessJobResult = { id: number; ok: true; frames: number } | { id: number; ok: false; reason: string };

/** Runs one job; never throws (failures come back with the Error's message). */
export async function runPreprocessJob(job: PreprocessJob, config: PreprocessConfig): Promise<PreprocessJobResult> {
  try {
    // Stamp taken before decoding: if the file changes meanwhile, the entry is stale and redone.
    const stamp = sourceStamp(job.file);
    const samples = await loadAudioFile(job.file, { sampleRate: config.sampleRate });
    const img = clipImageFromSamples(samples, config);
    writeCachedImage(job.entry, img, stamp ?? undefined);
    return { id: job.id, ok: true, frames: img.frames };
  } catch (err) {
    const msg = (err as Error)?.message ?? String(err);
    // Messages from the decoder already start with the path; keep the reason on its own.
    const reason = msg.startsWith(`${job.file}: `) ? msg.slice(job.file.length + 2) : msg;
    return { id: job.id, ok: false, reason };
  }
}
