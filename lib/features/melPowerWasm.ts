/**
 * The mel power spectrogram on WebAssembly SIMD (lib/features/wasm/melPower.c): windowing, the
 * float64 real FFT, |X|² and the sparse mel product, two frames at a time, one per float64 lane.
 * Bit-identical to the JavaScript loop it replaces (same plan, same order of operations).
 * {@link WasmMelPower.create} returns null where that loop must run instead: no SIMD in this
 * engine, or an FFT plan with a radix the kernel lacks (primes above 5).
 *
 * One memory holds a whole clip: the plan, the signal, the mel power, and the dB and image
 * arrays of lib/features/image.ts (the same module's `power_to_db` and `clip_image`), so a clip
 * is copied in once and its image copied out once (10 s clip: the per-chunk copies in and out
 * and the padding copy cost ~0.3–0.45 ms of ~6.5). The memory is made for a number of samples
 * and never grown (growing detaches its ArrayBuffer, after which V8 checks every typed-array
 * access of the thread); lib/features/logmel.ts makes a larger instance when a longer clip comes.
 */
import { compileKernel } from '../wasm/load';
// '.wasm.js' resolves to the generated '.wasm.ts' (TypeScript, tsx, esbuild); tslab's loader needs the '.js'.
import { WASM_BASE64, type Exports } from './wasm/melPower.wasm.js';
import { C5_1, C5_2, S3, S5_1, S5_2, SQRT1_2 } from './fft';
import { DbImageKernel, dbImageBytes, dbImageLayout } from './image';
import type { SparseMel } from './mel';
import type { StftPlan } from './stft';

/** melPower.c's functions (generated from its EXPORT-marked signatures) and the linker's heap base. */
interface MelPowerExports extends Exports {
  __heap_base: WebAssembly.Global;
}

const KERNEL_RADICES = new Set([2, 3, 4, 5, 8]);
const PAGE = 65536;
/** The kernel's stack and static area end below this address; the layout starts here. */
const LAYOUT_BASE = PAGE;
/** Int32 fields of the C `Plan` struct, in order. */
const PLAN_FIELDS = 21;
/** Memories stop at 4 GiB (wasm32). */
const MAX_PAGES = 65536;

/** Bump allocator over the module's memory, 8-byte aligned. */
class Layout {
  constructor(public top: number) {}
  take(bytes: number): number {
    const at = (this.top + 7) & ~7;
    this.top = at + bytes;
    return at;
  }
}

export class WasmMelPower {
  /** The dB and image kernel on this memory; its power array is where {@link melPowerAt} writes. */
  readonly images: DbImageKernel;

  private constructor(
    private readonly kernel: MelPowerExports,
    private readonly memory: WebAssembly.Memory,
    private readonly plan: number,
    private readonly signalPtr: number,
    private readonly blocksPtr: number,
    private readonly powerPtr: number,
    /** Samples the signal array holds. */
    readonly capacity: number,
    /** Mel power values the power array holds. */
    readonly valueCapacity: number,
    private readonly nFft: number,
    private readonly hop: number,
    readonly nMels: number,
    images: DbImageKernel,
  ) {
    this.images = images;
  }

  /**
   * A kernel instance holding this STFT plan and filterbank with room for a padded signal of
   * `capacity` samples and its mel power, or null (see the module doc; also beyond 4 GiB).
   */
  static create(stft: StftPlan, mel: SparseMel, capacity: number): WasmMelPower | null {
    const { fft } = stft;
    if (!fft.stages.every((s) => KERNEL_RADICES.has(s.radix))) return null;
    const mod = compileKernel('melPower', WASM_BASE64);
    if (!mod) return null;
    capacity = Math.max(capacity, stft.nFft);
    const half = fft.half;
    const nStages = fft.stages.length;
    const twCount = Math.max(1, fft.stages.reduce((a, s) => a + s.twRe.length, 0));
    // Frames of a padded signal of `capacity` samples: 1 + (capacity − nFft) / hop at most.
    const values = mel.nMels * (1 + Math.floor((capacity - stft.nFft) / stft.hopLength));
    const L = new Layout(LAYOUT_BASE);
    const at = {
      plan: L.take(4 * PLAN_FIELDS),
      off: L.take(4 * half),
      win: L.take(8 * 2 * half),
      postCos: L.take(8 * (half + 1)),
      postSin: L.take(8 * (half + 1)),
      radix: L.take(4 * nStages),
      m: L.take(4 * nStages),
      twAt: L.take(4 * nStages),
      twRe: L.take(8 * twCount),
      twIm: L.take(8 * twCount),
      k: L.take(8 * 6),
      zRe: L.take(8 * 2 * half),
      zIm: L.take(8 * 2 * half),
      power: L.take(8 * 2 * (half + 1)),
      melStart: L.take(4 * mel.nMels),
      melLength: L.take(4 * mel.nMels),
      melOffset: L.take(4 * mel.nMels),
      melWeights: L.take(8 * Math.max(1, mel.weights.length)),
      signal: L.take(4 * capacity),
      // Trim's block sums: blocks of at least 4 samples (block_sums needs hop % 4 == 0).
      blocks: L.take(8 * Math.ceil(capacity / 4)),
      images: L.take(dbImageBytes(values)),
    };
    const pages = Math.ceil(L.top / PAGE);
    if (pages > MAX_PAGES) return null;
    const memory = new WebAssembly.Memory({ initial: pages });
    const kernel = new WebAssembly.Instance(mod, { env: { memory } }).exports as unknown as MelPowerExports;
    const heapBase = kernel.__heap_base.value as number;
    if (heapBase > LAYOUT_BASE) throw new Error(`melPower kernel: static area ends at ${heapBase}, above ${LAYOUT_BASE}`);

    const buf = memory.buffer;
    const i32 = (ptr: number, n: number) => new Int32Array(buf, ptr, n);
    const f64 = (ptr: number, n: number) => new Float64Array(buf, ptr, n);
    i32(at.plan, PLAN_FIELDS).set([
      half, stft.hopLength, nStages, mel.nMels,
      at.off, at.win, at.postCos, at.postSin, at.radix, at.m, at.twAt, at.twRe, at.twIm, at.k,
      at.zRe, at.zIm, at.power, at.melStart, at.melLength, at.melOffset, at.melWeights,
    ]);
    i32(at.off, half).set(stft.offPacked);
    f64(at.win, 2 * half).set(stft.winPacked);
    f64(at.postCos, half + 1).set(fft.postCos);
    f64(at.postSin, half + 1).set(fft.postSin);
    let tw = 0;
    fft.stages.forEach((s, i) => {
      i32(at.radix, nStages)[i] = s.radix;
      i32(at.m, nStages)[i] = s.m;
      i32(at.twAt, nStages)[i] = tw;
      f64(at.twRe, twCount).set(s.twRe, tw);
      f64(at.twIm, twCount).set(s.twIm, tw);
      tw += s.twRe.length;
    });
    f64(at.k, 6).set([C5_1, C5_2, S5_1, S5_2, S3, SQRT1_2]);
    i32(at.melStart, mel.nMels).set(mel.start);
    i32(at.melLength, mel.nMels).set(mel.length);
    i32(at.melOffset, mel.nMels).set(mel.offset);
    f64(at.melWeights, mel.weights.length).set(mel.weights);
    const layout = dbImageLayout(at.images, values);
    const images = new DbImageKernel(kernel, memory, layout);
    return new WasmMelPower(kernel, memory, at.plan, at.signal, at.blocks, layout.power, capacity, values,
      stft.nFft, stft.hopLength, mel.nMels, images);
  }

  /** The signal array `[capacity]`: a clip and its padding are written here. */
  signal(): Float32Array {
    return new Float32Array(this.memory.buffer, this.signalPtr, this.capacity);
  }

  /**
   * Sums of squares of `count` blocks of `hop` samples from signal[first] (trimSilence's block
   * sums, the same bits), or null where the kernel does not take this hop (not a multiple of 4).
   */
  blockSums(first: number, hop: number, count: number): Float64Array | null {
    if (hop % 4 !== 0 || count < 0 || first < 0 || first + count * hop > this.capacity) return null;
    this.kernel.block_sums(this.signalPtr + 4 * first, hop, count, this.blocksPtr);
    return new Float64Array(this.memory.buffer, this.blocksPtr, count);
  }

  /**
   * Mel power of the first `frames` frames of the padded signal at signal[first] into the power
   * array, `[nMels][frames]`; returns a view of it (valid until the next call).
   */
  melPowerAt(first: number, frames: number): Float64Array {
    const n = this.nMels * frames;
    if (first < 0 || first + (frames - 1) * this.hop + this.nFft > this.capacity || n > this.valueCapacity) {
      throw new Error(`melPower kernel: ${frames} frames from sample ${first} exceed its ${this.capacity} samples`);
    }
    this.kernel.mel_power(this.plan, this.signalPtr + 4 * first, frames, this.powerPtr, frames);
    return new Float64Array(this.memory.buffer, this.powerPtr, n);
  }

  /**
   * Mel power of the first `frames` frames of `padded` (reflect-padded already when centred)
   * into `out[m · frames + t]`, m < nMels. `padded` must fit the signal array (it may be
   * {@link signal} itself: no copy then).
   */
  run(padded: Float32Array, frames: number, out: Float64Array): void {
    const used = (frames - 1) * this.hop + this.nFft;
    if (padded.buffer !== this.memory.buffer || padded.byteOffset !== this.signalPtr) this.signal().set(padded.subarray(0, used));
    out.set(this.melPowerAt(0, frames));
  }
}
