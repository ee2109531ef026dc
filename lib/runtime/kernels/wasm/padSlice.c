/*
 * PadV2 and Slice as copies of contiguous rows (4-byte elements), for tensors viewed as at most
 * 4 dimensions after merging the dimensions that are contiguous in memory (../padSlice.ts).
 * Part of trainKernels.c (#included there, not compiled on its own; see kernels.h for the rules).
 */
#include "kernels.h"

INLINE void copy_run(const u32 *src, u32 *dst, u32 n) {
  u32 i = 0;
  for (; i + 8 <= n; i += 8) {
    v128_t a = wasm_v128_load(src + i), b = wasm_v128_load(src + i + 4);
    wasm_v128_store(dst + i, a);
    wasm_v128_store(dst + i + 4, b);
  }
  for (; i + 4 <= n; i += 4) wasm_v128_store(dst + i, wasm_v128_load(src + i));
  for (; i < n; i++) dst[i] = src[i];
}

INLINE void fill_run(u32 *dst, u32 n, u32 value) {
  u32 i = 0;
  v128_t v = wasm_i32x4_splat((int)value);
  for (; i + 4 <= n; i += 4) wasm_v128_store(dst + i, v);
  for (; i < n; i++) dst[i] = value;
}

/*
 * Slice: output rows [r0, r1) of an output viewed as [d0, d1, d2, run] (row r = (i0·d1 + i1)·d2
 * + i2), each copied from x + i0·s0 + i1·s1 + i2·s2 (strides in elements; x already points at
 * the slice's first element).
 */
EXPORT void slice_rows(const u32 *x, u32 *out, u32 r0, u32 r1, u32 d1, u32 d2, u32 run, u32 s0, u32 s1, u32 s2) {
  for (u32 r = r0; r < r1; r++) {
    u32 i2 = r % d2, q = r / d2, i1 = q % d1, i0 = q / d1;
    copy_run(x + (unsigned long)i0 * s0 + (unsigned long)i1 * s1 + (unsigned long)i2 * s2, out + (unsigned long)r * run, run);
  }
}

/*
 * PadV2: output rows [r0, r1) of an output viewed as [o0, o1, o2, o3] from x viewed as
 * [x0, x1, x2, x3] with p0..p3 elements of padding before each dimension: a row outside x is
 * filled with `value` (its bits); the others are p3 values, x's row of x3 elements, values.
 * Every output element is written once.
 */
EXPORT void pad_rows(const u32 *x, u32 *out, u32 r0, u32 r1, u32 o1, u32 o2, u32 o3, u32 x0, u32 x1, u32 x2, u32 x3,
    u32 p0, u32 p1, u32 p2, u32 p3, u32 value) {
  for (u32 r = r0; r < r1; r++) {
    u32 j2 = r % o2, q = r / o2, j1 = q % o1, j0 = q / o1;
    u32 *dst = out + (unsigned long)r * o3;
    /* Unsigned wrap-around makes an index before the padding huge, so one test per dimension. */
    u32 i0 = j0 - p0, i1 = j1 - p1, i2 = j2 - p2;
    if (i0 >= x0 || i1 >= x1 || i2 >= x2) {
      fill_run(dst, o3, value);
      continue;
    }
    fill_run(dst, p3, value);
    copy_run(x + (((unsigned long)i0 * x1 + i1) * x2 + i2) * x3, dst + p3, x3);
    fill_run(dst + p3 + x3, o3 - p3 - x3, value);
  }
}

/*
 * out[p·channels + c] = x[p] for pixels p in [p0, p1) and every channel c: the 1-channel model
 * input repeated on each channel (../padSlice.ts repeatChannels). 3 channels: 4 pixels → 3 vectors.
 */
EXPORT void repeat_channels(const u32 *x, u32 p0, u32 p1, u32 channels, u32 *out) {
  u32 p = p0;
  if (channels == 3) {
    for (; p + 4 <= p1; p += 4) {
      v128_t v = wasm_v128_load(x + p);
      u32 *o = out + 3 * p;
      wasm_v128_store(o, wasm_i32x4_shuffle(v, v, 0, 0, 0, 1));
      wasm_v128_store(o + 4, wasm_i32x4_shuffle(v, v, 1, 1, 2, 2));
      wasm_v128_store(o + 8, wasm_i32x4_shuffle(v, v, 2, 3, 3, 3));
    }
  }
  for (; p < p1; p++) {
    u32 *o = out + (unsigned long)p * channels;
    for (u32 c = 0; c < channels; c++) o[c] = x[p];
  }
}

/*
 * out[p] = x[p·channels] for pixels p in [p0, p1): the first channel of a tensor whose channels
 * are copies of it (../repeatedChannels.ts). 3 channels: 4 pixels from 3 vectors.
 */
EXPORT void first_channel(const u32 *x, u32 p0, u32 p1, u32 channels, u32 *out) {
  u32 p = p0;
  if (channels == 3) {
    for (; p + 4 <= p1; p += 4) {
      const u32 *i = x + 3 * (unsigned long)p;
      v128_t a = wasm_v128_load(i), b = wasm_v128_load(i + 4), c = wasm_v128_load(i + 8);
      /* lanes 0 and 3 of a, 2 of b, 1 of c: pixels p … p+3. */
      v128_t ab = wasm_i32x4_shuffle(a, b, 0, 3, 6, 6);
      wasm_v128_store(out + p, wasm_i32x4_shuffle(ab, c, 0, 1, 2, 5));
    }
  }
  for (; p < p1; p++) out[p] = x[(unsigned long)p * channels];
}
