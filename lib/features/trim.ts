/**
 * Silence trimming and centred zero padding (SPEC preprocessing steps 2–3), with librosa 0.6.3
 * semantics: `librosa.effects.trim(y, top_db, frame_length, hop_length)` computes the frame
 * RMS on a *reflect*-padded signal (0.9.2 pads with zeros; golden README 5.1).
 */

/** Options of {@link trimSilence}; defaults are the reference's. */
export interface TrimOptions {
  /** Frames quieter than the loudest by more than this (dB) are silent. Default 60. */
  topDb?: number;
  /** RMS frame length in samples. Default 2048. */
  frameLength?: number;
  /** RMS hop in samples. Default 512. */
  hopLength?: number;
}

/** Result of {@link trimSilence}: the kept region `[start, end)` and the per-frame levels. */
export interface TrimResult {
  /** The trimmed samples, `samples.subarray(start, end)` (a view, not a copy). */
  trimmed: Float32Array;
  start: number;
  end: number;
  /** Level of each RMS frame relative to the loudest, in dB `[1 + floor(n / hopLength)]`. */
  frameDb: Float64Array;
}

/** See {@link trimSilence}'s `blockSums`. */
export type BlockSums = (first: number, hop: number, count: number) => Float64Array | null;

/**
 * Index into a signal of length `n` reflected at both ends without repeating the edge sample
 * (numpy `pad(mode='reflect')`: `x[-k] = x[k]`, `x[n-1+k] = x[n-1-k]`), repeated for pads longer
 * than the signal.
 */
export function reflectIndex(i: number, n: number): number {
  if (i >= 0 && i < n) return i;
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const m = ((i % period) + period) % period;
  return m < n ? m : period - m;
}

/**
 * Trims leading and trailing silence like librosa 0.6.3 `effects.trim(ref=np.max)`.
 *
 * Frame t (t = 0..floor(n / hop)) covers `ypad[t·hop, t·hop + frameLength)` of the signal
 * reflect-padded by frameLength / 2 on each side; its mean square `mse_t` gives
 * `db_t = 10·log10(max(1e-10, mse_t)) − 10·log10(max(1e-10, max mse))`. Frames with
 * `db_t > −topDb` are non-silent; the kept region runs from `hop · first` to
 * `min(n, hop · (last + 1))`. Digital silence (every mse 0) is kept whole.
 *
 * @param samples mono waveform `[n]`, n ≥ 1
 * @param blockSums optional engine for the sums of squares of whole blocks inside the signal:
 *   `(first, hop, count)` gives `count` sums of `hop` samples each from `samples[first]`, each
 *   one sequential float64 chain as here (the WebAssembly kernel of lib/features/logmel.ts,
 *   which holds a copy of the samples), or null to leave them to this loop
 */
export function trimSilence(samples: Float32Array, options: TrimOptions = {}, blockSums?: BlockSums): TrimResult {
  const topDb = options.topDb ?? 60;
  const frameLength = options.frameLength ?? 2048;
  const hop = options.hopLength ?? 512;
  if (!(topDb > 0)) throw new Error(`topDb must be > 0, got ${topDb}`);
  if (!Number.isInteger(frameLength) || frameLength < 1) throw new Error(`frameLength must be a positive integer, got ${frameLength}`);
  if (!Number.isInteger(hop) || hop < 1) throw new Error(`hopLength must be a positive integer, got ${hop}`);
  const n = samples.length;
  if (n === 0) throw new Error('samples must not be empty, got 0 samples');
  const pad = Math.floor(frameLength / 2);
  const nFrames = 1 + Math.floor(n / hop);
  // Sums of squares of the reflect-padded signal in blocks of `hop` samples; a frame is the sum
  // of its blocks when hop divides frameLength (the reference 2048 / 512), else summed directly.
  const padded = n + 2 * pad;
  const mse = new Float64Array(nFrames);
  let maxMse = 0;
  const square = (i: number) => {
    const v = i >= pad && i < pad + n ? samples[i - pad] : samples[reflectIndex(i - pad, n)];
    return v * v;
  };
  if (frameLength % hop === 0) {
    const per = frameLength / hop;
    const nBlocks = nFrames - 1 + per;
    const blocks = new Float64Array(nBlocks);
    // Blocks inside the signal [bIn, bOut), eight at a time: each block's sum is still one
    // sequential chain (the same bits), but independent chains keep the adder busy where one
    // waited on its own latency (10 s clip: one chain 0.70 ms, four 0.33, eight ~8 % less).
    const bIn = Math.ceil(pad / hop);
    const bOut = Math.max(bIn, Math.min(nBlocks, Math.floor((pad + n) / hop)));
    let b4 = bIn;
    const fromEngine = blockSums?.(bIn * hop - pad, hop, bOut - bIn) ?? null;
    if (fromEngine !== null) {
      blocks.set(fromEngine, bIn);
      b4 = bOut;
    }
    for (; b4 + 7 < bOut; b4 += 8) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
      const a0 = b4 * hop - pad, a1 = a0 + hop, a2 = a1 + hop, a3 = a2 + hop;
      const a4 = a3 + hop, a5 = a4 + hop, a6 = a5 + hop, a7 = a6 + hop;
      for (let i = 0; i < hop; i++) {
        const v0 = samples[a0 + i], v1 = samples[a1 + i], v2 = samples[a2 + i], v3 = samples[a3 + i];
        const v4 = samples[a4 + i], v5 = samples[a5 + i], v6 = samples[a6 + i], v7 = samples[a7 + i];
        s0 += v0 * v0; s1 += v1 * v1; s2 += v2 * v2; s3 += v3 * v3;
        s4 += v4 * v4; s5 += v5 * v5; s6 += v6 * v6; s7 += v7 * v7;
      }
      blocks[b4] = s0; blocks[b4 + 1] = s1; blocks[b4 + 2] = s2; blocks[b4 + 3] = s3;
      blocks[b4 + 4] = s4; blocks[b4 + 5] = s5; blocks[b4 + 6] = s6; blocks[b4 + 7] = s7;
    }
    for (let b = 0; b < nBlocks; b++) {
      if (b === bIn) b = b4;
      if (b >= nBlocks) break;
      const a = b * hop;
      const e = Math.min(a + hop, padded);
      let s = 0;
      if (a >= pad && e <= pad + n) {
        for (let i = a - pad; i < e - pad; i++) s += samples[i] * samples[i];
      } else {
        for (let i = a; i < e; i++) s += square(i);
      }
      blocks[b] = s;
    }
    for (let t = 0; t < nFrames; t++) {
      let s = 0;
      for (let j = 0; j < per; j++) s += blocks[t + j];
      const m = s / frameLength;
      mse[t] = m;
      if (m > maxMse) maxMse = m;
    }
  } else {
    for (let t = 0; t < nFrames; t++) {
      const a = t * hop;
      const e = Math.min(a + frameLength, padded);
      let s = 0;
      for (let i = a; i < e; i++) s += square(i);
      const m = s / frameLength;
      mse[t] = m;
      if (m > maxMse) maxMse = m;
    }
  }
  const refDb = 10 * Math.log10(Math.max(1e-10, maxMse));
  const frameDb = new Float64Array(nFrames);
  let first = -1;
  let last = -1;
  for (let t = 0; t < nFrames; t++) {
    const db = 10 * Math.log10(Math.max(1e-10, mse[t])) - refDb;
    frameDb[t] = db;
    if (db > -topDb) {
      if (first < 0) first = t;
      last = t;
    }
  }
  let start = 0;
  let end = 0;
  if (first >= 0) {
    start = Math.min(n, first * hop);
    end = Math.min(n, (last + 1) * hop);
  }
  return { trimmed: samples.subarray(start, end), start, end, frameDb };
}

/**
 * Zero-pads `samples` on both sides to `minSamples` when shorter (left pad
 * `floor((minSamples − n) / 2)`, the rest on the right); longer clips are returned unchanged
 * (not cut), as in the reference kernel.
 *
 * @returns `[max(n, minSamples)]`; the input itself when no padding is needed
 */
export function padCentered(samples: Float32Array, minSamples: number): Float32Array {
  if (!Number.isInteger(minSamples) || minSamples < 0) throw new Error(`minSamples must be a non-negative integer, got ${minSamples}`);
  const n = samples.length;
  if (n >= minSamples) return samples;
  const out = new Float32Array(minSamples);
  out.set(samples, Math.floor((minSamples - n) / 2));
  return out;
}
