import { escapeHtml } from './html';

/**
 * WAV bytes (RIFF, 16-bit PCM, mono) of `samples` in [-1, 1] (values outside are clipped) at
 * `sampleRate` Hz: the 44-byte canonical header, then little-endian int16 samples.
 */
export function wavBytes(samples: ArrayLike<number>, sampleRate: number): Buffer {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw new Error(`sampleRate must be a positive integer, got ${sampleRate}`);
  const n = samples.length;
  const out = Buffer.alloc(44 + 2 * n);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + 2 * n, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16); // fmt chunk size
  out.writeUInt16LE(1, 20); // PCM
  out.writeUInt16LE(1, 22); // mono
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * 2, 28); // byte rate
  out.writeUInt16LE(2, 32); // block align
  out.writeUInt16LE(16, 34); // bits per sample
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) {
    const v = samples[i];
    const c = Number.isFinite(v) ? Math.max(-1, Math.min(1, v)) : 0;
    out.writeInt16LE(Math.round(c < 0 ? c * 32768 : c * 32767), 44 + 2 * i);
  }
  return out;
}

/** Options of {@link audioElement}. */
export interface AudioElementOptions {
  /** Text shown above the player. */
  title?: string;
  /** Only the first `maxSeconds` are embedded (default 30 s: a 30 s clip is ~3.5 MB of base64). */
  maxSeconds?: number;
  /** Scale so the peak is at 0.99 (default false: keep the clip's own loudness). */
  normalize?: boolean;
}

/**
 * An HTML `<audio controls>` player with the clip embedded as a `data:audio/wav;base64,` URI,
 * so it plays in the notebook and in its exported HTML, offline. `samples` is mono in [-1, 1].
 */
export function audioElement(samples: ArrayLike<number>, sampleRate: number, options: AudioElementOptions = {}): string {
  const maxSeconds = options.maxSeconds ?? 30;
  if (!(maxSeconds > 0)) throw new Error(`maxSeconds must be > 0, got ${maxSeconds}`);
  const n = Math.min(samples.length, Math.floor(maxSeconds * sampleRate));
  let clip: ArrayLike<number> = n === samples.length ? samples : Array.prototype.slice.call(samples, 0, n);
  if (options.normalize) {
    let peak = 0;
    for (let i = 0; i < clip.length; i++) peak = Math.max(peak, Math.abs(clip[i]));
    if (peak > 0) {
      const k = 0.99 / peak;
      clip = Array.from(clip, (v) => v * k);
    }
  }
  const uri = 'data:audio/wav;base64,' + wavBytes(clip, sampleRate).toString('base64');
  const note = n < samples.length ? ` (first ${maxSeconds} s)` : '';
  const title = options.title || note ? `<div>${escapeHtml((options.title ?? '') + note)}</div>` : '';
  return `<div style="font:12px sans-serif;margin:4px 0">${title}<audio controls preload="metadata" src="${uri}"></audio></div>`;
}
