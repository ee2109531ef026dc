/**
 * A clip's preprocessed image (SPEC preprocessing step 5), one channel.
 * `data` is row-major `[nMels][frames]`: element (m, t) at `m * frames + t`, mel row 0 = the
 * lowest band. The three identical colour channels of the reference are made only when a
 * tensor is built, so the cache and memory hold one.
 */
export interface ClipImage {
  nMels: number;
  frames: number;
  data: Uint8Array;
}

/** A float matrix `[rows][cols]` row-major, e.g. a dB mel spectrogram `[nMels][frames]`. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

/** A float64 matrix `[rows][cols]` row-major, e.g. a mel filterbank `[nMels][nBins]`. */
export interface Matrix64 {
  rows: number;
  cols: number;
  data: Float64Array;
}
