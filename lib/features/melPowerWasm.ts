/**
 * The mel power spectrogram on WebAssembly SIMD (lib/features/wasm/melPower.c): windowing, the
 * float64 real FFT, |X|² and the sparse mel product, two frames at a time, one per float64 lane.
 * Bit-identical to the JavaScript loop it replaces (same plan, same order of operations).
 * {@link WasmMelPower.create} returns null where that loop must run instead: no SIMD in this
 * engine, or an FFT plan with a radix the kernel lacks (primes above 5).
 */
import { compileKernel } from '../wasm/load';
// '.wasm.js' resolves to the generated '.wasm.ts' (TypeScript, tsx, esbuild); tslab's loader needs the '.js'.
import { WASM_BASE64, type Exports } from './wasm/melPower.wasm.js';
import { C5_1, C5_2, S3, S5_1, S5_2, SQRT1_2 } from './fft';
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
/** Frames per kernel call: input and output chunks live in the module's fixed-size memory. */
const CHUNK_FRAMES = 128;
/** Int32 fields of the C `Plan` struct, in order. */
const PLAN_FIELDS = 21;

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
  private constructor(
    private readonly kernel: MelPowerExports,
    private readonly memory: WebAssembly.Memory,
    private readonly plan: number,
    private readonly inPtr: number,
    private readonly outPtr: number,
    private readonly nFft: number,
    private readonly hop: number,
    readonly nMels: number,
  ) {}

  /** A kernel instance holding this STFT plan and filterbank, or null (see the module doc). */
  static create(stft: StftPlan, mel: SparseMel): WasmMelPower | null {
    const { fft } = stft;
    if (!fft.stages.every((s) => KERNEL_RADICES.has(s.radix))) return null;
    const mod = compileKernel('melPower', WASM_BASE64);
    if (!mod) return null;
    const half = fft.half;
    const nStages = fft.stages.length;
    const twCount = Math.max(1, fft.stages.reduce((a, s) => a + s.twRe.length, 0));
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
      input: L.take(4 * ((CHUNK_FRAMES - 1) * stft.hopLength + stft.nFft)),
      output: L.take(8 * mel.nMels * CHUNK_FRAMES),
    };
    const memory = new WebAssembly.Memory({ initial: Math.ceil(L.top / PAGE) });
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
    return new WasmMelPower(kernel, memory, at.plan, at.input, at.output, stft.nFft, stft.hopLength, mel.nMels);
  }

  /**
   * Mel power of the first `frames` frames of `padded` (reflect-padded already when centred)
   * into `out[m · frames + t]`, m < nMels.
   */
  run(padded: Float32Array, frames: number, out: Float64Array): void {
    const buf = this.memory.buffer;
    const { nMels, hop } = this;
    for (let t0 = 0; t0 < frames; t0 += CHUNK_FRAMES) {
      const n = Math.min(CHUNK_FRAMES, frames - t0);
      const start = t0 * hop;
      const samples = (n - 1) * hop + this.nFft;
      new Float32Array(buf, this.inPtr, samples).set(padded.subarray(start, start + samples));
      this.kernel.mel_power(this.plan, this.inPtr, n, this.outPtr, n);
      const chunk = new Float64Array(buf, this.outPtr, nMels * n);
      for (let m = 0; m < nMels; m++) out.set(chunk.subarray(m * n, (m + 1) * n), m * frames + t0);
    }
  }
}
