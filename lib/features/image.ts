/**
 * dB conversion and the uint8 clip image (SPEC preprocessing steps 4–5), reproducing the
 * reference's numpy float32 arithmetic (golden README 4.6–4.7) so images match bit for bit.
 */
import { compileKernel } from '../wasm/load';
// '.wasm.js' resolves to the generated '.wasm.ts' (TypeScript, tsx, esbuild); tslab's loader needs the '.js'.
import { WASM_BASE64, type Exports } from './wasm/melPower.wasm.js';
import type { Matrix, Uint8ClipImage } from './types';

/**
 * 10·log10(x) = DB_PER_NEPER · ln(x): V8's Math.log is about twice as fast as Math.log10; the two
 * differ by an ulp of float64, far below the float32 rounding of the result.
 */
const DB_PER_NEPER = 10 / Math.LN10;

/** power_to_db parameters (librosa). */
export interface PowerToDbOptions {
  /** Reference power: 0 dB. Default 1. */
  ref?: number;
  /** Floor on the power before the log. Default 1e-10. */
  amin?: number;
  /** Clip to `max − topDb`; null = no clipping. Default 80. */
  topDb?: number | null;
}

/**
 * `10·log10(max(amin, S)) − 10·log10(max(amin, |ref|))`, then `max(D, D.max() − topDb)`,
 * computed in float64 and rounded to float32 once (librosa 0.6.3 on a float64 S, then the
 * kernel's `astype(float32)`). An all-zero S gives −100 everywhere.
 *
 * @param power power spectrogram `[rows][cols]` (any layout: the operation is elementwise)
 * @returns dB values, same length, float32
 */
export function powerToDb(power: ArrayLike<number>, o: PowerToDbOptions = {}): Float32Array {
  const ref = o.ref ?? 1;
  const amin = o.amin ?? 1e-10;
  const topDb = o.topDb === undefined ? 80 : o.topDb;
  if (!(amin > 0)) throw new Error(`amin must be > 0, got ${amin}`);
  if (topDb !== null && !(topDb >= 0)) throw new Error(`topDb must be >= 0 or null, got ${topDb}`);
  const n = power.length;
  const refDb = DB_PER_NEPER * Math.log(Math.max(amin, Math.abs(ref)));
  if (power instanceof Float64Array && amin >= MIN_NORMAL) {
    const kernel = kernelFor(n);
    if (kernel) return kernel.powerToDb(power, amin, refDb, topDb).slice();
  }
  const out = new Float32Array(n);
  if (topDb === null) {
    for (let i = 0; i < n; i++) out[i] = DB_PER_NEPER * Math.log(Math.max(amin, power[i])) - refDb;
    return out;
  }
  // The dB map is monotonic in the power, so the largest dB value is that of the largest power:
  // one cheap max pass instead of a float64 dB buffer. NaN powers are skipped by the max as
  // before (`v > max` is false for NaN).
  let maxPower = -Infinity;
  for (let i = 0; i < n; i++) { const p = power[i]; if (p > maxPower) maxPower = p; }
  const floor = n === 0 ? -Infinity : DB_PER_NEPER * Math.log(Math.max(amin, maxPower)) - refDb - topDb;
  for (let i = 0; i < n; i++) {
    const v = DB_PER_NEPER * Math.log(Math.max(amin, power[i])) - refDb;
    out[i] = v > floor ? v : floor;
  }
  return out;
}

/**
 * numpy's float32 pairwise summation (`pairwise_sum_FLOAT`: blocks of ≤ 128 summed with 8
 * accumulators, halves split on multiples of 8), every addition rounded to float32.
 */
export function pairwiseSumF32(a: Float32Array, start: number, n: number): number {
  const f = Math.fround;
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res = f(res + a[start + i]);
    return res;
  }
  if (n <= 128) {
    let r0 = a[start], r1 = a[start + 1], r2 = a[start + 2], r3 = a[start + 3];
    let r4 = a[start + 4], r5 = a[start + 5], r6 = a[start + 6], r7 = a[start + 7];
    const end = n - (n % 8);
    let i = 8;
    for (; i < end; i += 8) {
      const p = start + i;
      r0 = f(r0 + a[p]); r1 = f(r1 + a[p + 1]); r2 = f(r2 + a[p + 2]); r3 = f(r3 + a[p + 3]);
      r4 = f(r4 + a[p + 4]); r5 = f(r5 + a[p + 5]); r6 = f(r6 + a[p + 6]); r7 = f(r7 + a[p + 7]);
    }
    let res = f(f(f(r0 + r1) + f(r2 + r3)) + f(f(r4 + r5) + f(r6 + r7)));
    for (; i < n; i++) res = f(res + a[start + i]);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return f(pairwiseSumF32(a, start, n2) + pairwiseSumF32(a, start + n2, n - n2));
}

/**
 * `np.add.reduce` of a contiguous float32 array: the reduction iterator hands the loop chunks
 * of at most 8192 elements (numpy's buffer size); each is summed pairwise and added to the
 * running float32 total.
 */
export function numpySumF32(a: Float32Array): number {
  const CHUNK = 8192;
  let total = 0;
  for (let s = 0; s < a.length; s += CHUNK) {
    total = Math.fround(total + pairwiseSumF32(a, s, Math.min(CHUNK, a.length - s)));
  }
  return total;
}

/** Options of {@link dbToImage}. */
export interface ImageOptions {
  /** Added to the std before dividing (reference 1e-6). */
  imageEps: number;
}

/**
 * The reference kernel's `mono_to_color` on a dB matrix: z-score with the matrix's own float32
 * mean/std (numpy semantics over the 3 stacked channels), min-max to 0..255, truncate to uint8;
 * all zeros when the z-scored range is ≤ 1e-6. Bit-exact emulation of numpy 1.24 float32 maths.
 *
 * @param m dB matrix `[nMels][frames]` (mel row 0 = lowest band)
 * @returns one channel `[nMels][frames]` uint8
 */
export function dbToImage(m: Matrix, o: ImageOptions): Uint8ClipImage {
  const { rows, cols, data } = m;
  const n = rows * cols;
  if (data.length !== n) throw new Error(`matrix data length must be rows × cols = ${n}, got ${data.length}`);
  if (n === 0) throw new Error(`matrix must not be empty, got ${rows}×${cols}`);
  const kernel = kernelFor(n);
  if (kernel) return { nMels: rows, frames: cols, data: kernel.imageOf(data, o.imageEps) };
  const f = Math.fround;
  // X = stack([D, D, D], -1): the reductions run over the interleaved 3n values.
  const x = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) { const v = data[i]; x[3 * i] = v; x[3 * i + 1] = v; x[3 * i + 2] = v; }
  const count = 3 * n;
  const mean = f(numpySumF32(x) / count);
  for (let i = 0; i < count; i++) { const d = f(x[i] - mean); x[i] = f(d * d); }
  const std = f(Math.sqrt(f(numpySumF32(x) / count)));
  // numpy < 2: std (float32 scalar) + 1e-6 (Python float) is float64, cast back by the division.
  const divisor = f(std + o.imageEps);
  const z = new Float32Array(n);
  let mn = Infinity, mx = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = f(f(data[i] - mean) / divisor);
    z[i] = v;
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  const out = new Uint8Array(n);
  const range = f(mx - mn);
  if (range > 1e-6) {
    for (let i = 0; i < n; i++) out[i] = Math.trunc(f(f(255 * f(z[i] - mn)) / range));
  }
  return { nMels: rows, frames: cols, data: out };
}

/**
 * The uint8 image of a mel power matrix: {@link powerToDb} then {@link dbToImage}, with the dB
 * matrix left in the WebAssembly kernel's memory between the two where the kernel runs.
 */
export function imageFromPower(power: Float64Array, rows: number, cols: number, dbOptions: PowerToDbOptions, o: ImageOptions): Uint8ClipImage {
  const n = rows * cols;
  const kernel = n > 0 && power.length === n ? kernelFor(n) : null;
  return (kernel && kernelImage(kernel, power, rows, cols, dbOptions, o)) ?? dbToImage({ rows, cols, data: powerToDb(power, dbOptions) }, o);
}

/**
 * {@link imageFromPower} on `kernel` (`power` may be its own power array: no copy), or null where
 * the options need the JavaScript loops (amin below the smallest normal double).
 */
export function kernelImage(kernel: DbImageKernel, power: Float64Array, rows: number, cols: number, dbOptions: PowerToDbOptions, o: ImageOptions): Uint8ClipImage | null {
  const amin = dbOptions.amin ?? 1e-10;
  if (!(amin >= MIN_NORMAL)) return null;
  const ref = dbOptions.ref ?? 1;
  const topDb = dbOptions.topDb === undefined ? 80 : dbOptions.topDb;
  if (topDb !== null && !(topDb >= 0)) throw new Error(`topDb must be >= 0 or null, got ${topDb}`);
  kernel.powerToDb(power, amin, DB_PER_NEPER * Math.log(Math.max(amin, Math.abs(ref))), topDb);
  return { nMels: rows, frames: cols, data: kernel.image(rows * cols, o.imageEps) };
}

/**
 * An array `[n]` in the kernel's memory for a mel power that {@link imageFromPower} then reads in
 * place (one 8n-byte copy fewer), or null where the JavaScript loops run. Valid until the next
 * call of a function of this module.
 */
export function powerBufferFor(n: number): Float64Array | null {
  const k = n > 0 ? kernelFor(n) : null;
  return k === null ? null : k.powerView(n);
}

/** Smallest normal double: the kernel's log assumes max(amin, p) is one. */
export const MIN_NORMAL = 2.2250738585072014e-308;

/** Where a {@link DbImageKernel}'s arrays lie in its memory (byte offsets), for matrices of up to `capacity` values. */
export interface DbImageLayout {
  capacity: number;
  /** float64 [capacity] */
  power: number;
  /** float32 [capacity], plus 16 bytes that clip_image may read past the last value */
  db: number;
  /** float32 [capacity] */
  z: number;
  /** float64 [capacity]: power_to_db's first pass */
  work: number;
  /** uint8 [capacity] */
  image: number;
}

/** Bytes a {@link DbImageLayout} of `capacity` values takes. */
export function dbImageBytes(capacity: number): number {
  return 25 * capacity + 16;
}

/** A {@link DbImageLayout} of `capacity` values from byte offset `at` (8-byte aligned). */
export function dbImageLayout(at: number, capacity: number): DbImageLayout {
  const power = at;
  const db = power + 8 * capacity;
  const z = db + 4 * capacity + 16;
  const work = z + 4 * capacity;
  return { capacity, power, db, z, work, image: work + 8 * capacity };
}

/**
 * power_to_db and the image on WebAssembly SIMD (melPower.c `max_f64`, `power_to_db`,
 * `clip_image`): the same bits as the JavaScript loops (fdlibm's log, V8's Math.log; numpy's
 * float32 steps), 10 s clip: dB 1.25 → 0.3 ms, image 2.31 → 0.33 ms (see the commit messages).
 * It runs on a melPower instance and memory of its own here (made for the largest matrix so far
 * and replaced, never grown, when a larger one comes: growing would detach the buffer; see
 * lib/features/melPowerWasm.ts), or on the mel-power kernel's (lib/features/logmel.ts).
 */
export class DbImageKernel {
  constructor(
    private readonly kernel: Exports,
    private readonly memory: WebAssembly.Memory,
    private readonly at: DbImageLayout,
  ) {}

  get capacity(): number {
    return this.at.capacity;
  }

  /** A kernel for matrices of up to `capacity` values, or null without WebAssembly SIMD or beyond 4 GiB. */
  static create(capacity: number): DbImageKernel | null {
    const mod = compileKernel('melPower', WASM_BASE64);
    const pages = Math.ceil((KERNEL_BASE + dbImageBytes(capacity)) / 65536);
    if (!mod || pages > 65536) return null;
    const memory = new WebAssembly.Memory({ initial: pages });
    const exports = new WebAssembly.Instance(mod, { env: { memory } }).exports as unknown as Exports & { __heap_base: WebAssembly.Global };
    if ((exports.__heap_base.value as number) > KERNEL_BASE) throw new Error(`melPower kernel: static area ends above ${KERNEL_BASE}`);
    return new DbImageKernel(exports, memory, dbImageLayout(KERNEL_BASE, capacity));
  }

  /** The kernel's power array `[n]`: a mel power written there needs no copy. */
  powerView(n: number): Float64Array {
    return new Float64Array(this.memory.buffer, this.at.power, n);
  }

  /** dB of `power` into the kernel's dB array; returns a view of it (valid until the next call). */
  powerToDb(power: Float64Array, amin: number, refDb: number, topDb: number | null): Float32Array {
    const n = power.length;
    const buf = this.memory.buffer;
    const at = this.at.power;
    if (power.buffer !== buf || power.byteOffset !== at) new Float64Array(buf, at, n).set(power);
    let floor = -Infinity;
    if (topDb !== null && n > 0) {
      const maxPower = this.kernel.max_f64(at, n);
      floor = DB_PER_NEPER * Math.log(Math.max(amin, maxPower)) - refDb - topDb;
    }
    this.kernel.power_to_db(at, n, amin, DB_PER_NEPER, refDb, floor, topDb === null ? 0 : 1, this.at.db, this.at.work);
    return new Float32Array(buf, this.at.db, n);
  }

  /** The image of the first n values of the kernel's dB array (a fresh array). */
  image(n: number, eps: number): Uint8Array {
    this.kernel.clip_image(this.at.db, n, eps, this.at.z, this.at.image);
    return new Uint8Array(this.memory.buffer, this.at.image, n).slice();
  }

  /** The image of the dB matrix `db` (a fresh array). */
  imageOf(db: Float32Array, eps: number): Uint8Array {
    new Float32Array(this.memory.buffer, this.at.db, db.length).set(db);
    return this.image(db.length, eps);
  }
}

/** The kernel's stack and static area end below this address. */
const KERNEL_BASE = 65536;
let wasmEnabled = true;
let kernel: DbImageKernel | null = null;

/**
 * Chooses the engine of {@link powerToDb}, {@link dbToImage} and {@link imageFromPower}: the
 * WebAssembly kernel where the engine has SIMD (default), or the JavaScript loops. Both give the
 * same bits; tests and benchmarks compare them.
 */
export function useWasmImage(enabled: boolean): void {
  wasmEnabled = enabled;
  kernel = null;
}

function kernelFor(n: number): DbImageKernel | null {
  if (!wasmEnabled) return null;
  if (kernel === null || kernel.capacity < n) {
    // Rounded up to 64 Ki values, so clips of slightly different lengths share one memory.
    kernel = DbImageKernel.create(Math.max(1, Math.ceil(n / 65536)) * 65536);
  }
  return kernel !== null && kernel.capacity >= n ? kernel : null;
}
