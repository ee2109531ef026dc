/**
 * A clip's preprocessed image (SPEC preprocessing step 5), one channel.
 * `data` is row-major `[nMels][frames]`: element (m, t) at `m * frames + t`, mel row 0 = the
 * lowest band. The three identical colour channels of the reference are made only when a
 * tensor is built, so the cache and memory hold one.
 */
export interface ClipImage {
  nMels: number;
  frames: number;
  /**
   * uint8 pixels (the reference image; the network sees value / 255), or float32 values the
   * network takes as they are (preprocess output 'db': the PANNs dB matrix).
   */
  data: Uint8Array | Float32Array;
}

/** A reference (uint8) clip image. */
export type Uint8ClipImage = ClipImage & { data: Uint8Array };

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
