/// <reference lib="dom" />
// (tslab compiles notebook imports without the DOM lib; this file uses WebAssembly types.)
/**
 * The project's C training kernels (./wasm/trainKernels.c), instantiated on tfjs' own wasm
 * memory so that they read and write tensors in place (pointers are `memoryOffset`s).
 *
 * tfjs-backend-wasm 4.22 has two SIMD binaries: the threaded one exposes its shared memory as
 * `wasm.wasmMemory`; the single-threaded one exports a plain memory (`wasm.asm.memory`). Each
 * needs its own build of the kernels (a shared import only accepts a shared memory). The
 * kernels are single-threaded. Null where WebAssembly SIMD is missing or the memory cannot be
 * found (callers keep their JavaScript path), or when FAT2019_TRAIN_WASM=0 (for A/B timing).
 */
import * as tf from '@tensorflow/tfjs';
import { compileKernel, wasmRelaxedSimdSupported } from '../../wasm/load';
// '.wasm.js' (TypeScript and esbuild resolve it to the generated '.wasm.ts'): tslab's notebook
// loader appends '.js' only to extension-less specifiers, so './x.wasm' would not load there.
import { WASM_BASE64 as PLAIN_BASE64, EXPORTS, type Exports } from './wasm/trainKernels.wasm.js';
import { WASM_BASE64 as SHARED_BASE64 } from './wasm/trainKernelsShared.wasm.js';
import { WASM_BASE64 as PLAIN_RELAXED_BASE64 } from './wasm/trainKernelsRelaxed.wasm.js';
import { WASM_BASE64 as SHARED_RELAXED_BASE64 } from './wasm/trainKernelsSharedRelaxed.wasm.js';
import type { WasmBackendLike } from './wasmBackend';
import { helperFor, runPair, runShared, SPLIT_MIN_ELEMENTS } from './trainPool';

/** Exports of trainKernels.c: generated from its EXPORT-marked C signatures (every pointer a byte offset into tfjs' heap). */
export type TrainKernelExports = Exports;

const instances = new WeakMap<WebAssembly.Memory, TrainKernelExports | null>();
let enabled = !/^(0|false|off)$/i.test(typeof process !== 'undefined' ? process.env.FAT2019_TRAIN_WASM ?? '' : '');

/** Turns the C kernels off (JavaScript/stock paths) or back on; returns the previous setting. */
export function setTrainKernelsEnabled(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** tfjs' WebAssembly.Memory on either SIMD binary, or null. */
export function backendMemory(backend: WasmBackendLike): WebAssembly.Memory | null {
  const w = backend.wasm as WasmBackendLike['wasm'] & { asm?: { memory?: WebAssembly.Memory } };
  const mem = w.wasmMemory ?? w.asm?.memory;
  return mem instanceof WebAssembly.Memory ? mem : null;
}

/**
 * The compiled kernels for a memory: the shared-memory build for the threaded binary, the plain
 * one otherwise; each with relaxed SIMD's fused multiply-add where the engine has it (see
 * kernels.h MAC) unless `relaxed` is false. Null without SIMD.
 */
function kernelModule(memory: WebAssembly.Memory, relaxed = wasmRelaxedSimdSupported()): WebAssembly.Module | null {
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  if (relaxed) {
    return shared
      ? compileKernel('lib/runtime/kernels/wasm/trainKernelsSharedRelaxed.c', SHARED_RELAXED_BASE64)
      : compileKernel('lib/runtime/kernels/wasm/trainKernelsRelaxed.c', PLAIN_RELAXED_BASE64);
  }
  return shared
    ? compileKernel('lib/runtime/kernels/wasm/trainKernelsShared.c', SHARED_BASE64)
    : compileKernel('lib/runtime/kernels/wasm/trainKernels.c', PLAIN_BASE64);
}

/**
 * Instantiates (once per memory) the kernels on a memory; null without SIMD. `relaxed` picks
 * the build (tests run both; default: relaxed where supported).
 */
export function trainKernelsOnMemory(memory: WebAssembly.Memory, relaxed?: boolean): TrainKernelExports | null {
  if (instances.has(memory)) return instances.get(memory) ?? null;
  const mod = kernelModule(memory, relaxed);
  let exportsOrNull: TrainKernelExports | null = null;
  if (mod) {
    try {
      exportsOrNull = new WebAssembly.Instance(mod, { env: { memory } }).exports as unknown as TrainKernelExports;
    } catch {
      exportsOrNull = null;
    }
  }
  instances.set(memory, exportsOrNull);
  return exportsOrNull;
}

/** The kernels on this wasm backend's heap, or null (see the file comment). */
export function trainKernels(backend: WasmBackendLike): TrainKernelExports | null {
  if (!enabled) return null;
  const memory = backendMemory(backend);
  return memory ? trainKernelsOnMemory(memory) : null;
}

/** Byte offset of a wasm tensor's data. */
export function offsetOf(backend: WasmBackendLike, t: tf.TensorInfo): number {
  const entry = backend.dataIdMap.get(t.dataId);
  if (!entry) throw new Error('offsetOf: tensor is not on the wasm backend');
  return entry.memoryOffset;
}

/** The kernels plus, on the threaded binary, the helper thread that runs half of the work. */
export interface TrainContext {
  k: TrainKernelExports;
  helper: ReturnType<typeof helperFor>;
  backend: WasmBackendLike;
}

/** Kernels and helper for this backend, or null where the kernels are unavailable. */
export function trainContext(backend: WasmBackendLike): TrainContext | null {
  const k = trainKernels(backend);
  if (!k) return null;
  const memory = backendMemory(backend)!;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  // The helper thread instantiates the very build the main thread runs.
  const module = shared ? kernelModule(memory) : null;
  return { k, helper: helperFor(memory, module, EXPORTS), backend };
}

/** First row of the helper's half, or 0 when the work stays on one thread. */
function rowSplit(ctx: TrainContext, rows: number, cols: number): number {
  return ctx.helper && rows >= 2 && rows * cols >= SPLIT_MIN_ELEMENTS ? Math.ceil(rows / 2) : 0;
}

/** Scratch float32 tensor of n elements; pass it to `free`. */
function scratch(ctx: TrainContext, n: number): { off: number; info: tf.TensorInfo } {
  const info = ctx.backend.makeOutput([Math.max(1, n)], 'float32');
  return { off: offsetOf(ctx.backend, info), info };
}
function free(ctx: TrainContext, s: { info: tf.TensorInfo }): void {
  ctx.backend.disposeData(s.info.dataId);
}

/**
 * Runs a kernel over the rows of [rows, cols] with `floats` float32 of scratch (its byte offset
 * passed on): `whole` on this thread, or `halves` from row h = rowSplit(…) with the helper.
 */
function byRows(ctx: TrainContext, rows: number, cols: number, floats: number, whole: (s: number) => void,
  halves: (h: number, s: number) => void): void {
  const h = rowSplit(ctx, rows, cols);
  const s = scratch(ctx, floats);
  if (!h) whole(s.off);
  else halves(h, s.off);
  free(ctx, s);
}

/**
 * out[c] = f32(Σ_r x[r, c] · scale) for x [rows, cols] (pointers). float64 sums; with the helper
 * thread each half of the rows is summed on its own and the halves added.
 */
export function colSumsOp(ctx: TrainContext, x: number, rows: number, cols: number, out: number, scale: number): void {
  const { k } = ctx;
  byRows(ctx, rows, cols, 4 * cols, (acc0) => k.col_sums(x, rows, cols, acc0, out, scale), (h, acc0) => {
    const acc1 = acc0 + 8 * cols;
    runPair(k, ctx.helper, ['col_acc', [x, 0, 0, h, cols, acc0, 0]], ['col_acc', [x + 4 * h * cols, 0, 0, rows - h, cols, acc1, 0]]);
    k.f64_add(acc0, acc1, cols);
    k.col_finish(acc0, cols, out, scale);
  });
}

/**
 * Batch-norm training forward (see trainKernels.c bn_train_forward; res: plus that residual, 0
 * for none; relu: then relu(y)), split by rows with the helper.
 */
export function bnForwardOp(ctx: TrainContext, x: number, rows: number, cols: number, gamma: number, beta: number,
  eps: number, mean: number, variance: number, y: number, relu = false, res = 0): void {
  const { k, helper } = ctx;
  const r = relu ? 1 : 0;
  byRows(ctx, rows, cols, 6 * cols, (acc0) => k.bn_train_forward(x, rows, cols, gamma, beta, eps, acc0, mean, variance, res, y, r), (h, acc0) => {
    const acc1 = acc0 + 8 * cols;
    const sd = acc0 + 16 * cols;
    const x1 = x + 4 * h * cols;
    for (const [mode, out] of [[0, mean], [1, variance]]) {
      runPair(k, helper, ['col_acc', [x, 0, mean, h, cols, acc0, mode]], ['col_acc', [x1, 0, mean, rows - h, cols, acc1, mode]]);
      k.f64_add(acc0, acc1, cols);
      k.col_finish(acc0, cols, out, 1 / rows);
    }
    k.bn_sd(variance, cols, eps, sd);
    runPair(k, helper, ['bn_normalize', [x, h, cols, mean, gamma, sd, beta, res, y, r]],
      ['bn_normalize', [x1, rows - h, cols, mean, gamma, sd, beta, res && res + 4 * h * cols, y + 4 * h * cols, r]]);
  });
}

/** Batch-norm training backward (see trainKernels.c bn_train_backward), split by rows with the helper. */
export function bnBackwardOp(ctx: TrainContext, dy: number, x: number, rows: number, cols: number, mean: number,
  variance: number, gamma: number, eps: number, dx: number, dgamma: number, dbeta: number): void {
  const { k, helper } = ctx;
  byRows(ctx, rows, cols, 11 * cols, (acc0) => k.bn_train_backward(dy, x, rows, cols, mean, variance, gamma, eps, acc0, dx, dgamma, dbeta), (h, acc0) => {
    const acc1 = acc0 + 16 * cols;
    const coef = acc0 + 32 * cols;
    const off = 4 * h * cols;
    runPair(k, helper, ['col_acc', [x, dy, mean, h, cols, acc0, 3]], ['col_acc', [x + off, dy + off, mean, rows - h, cols, acc1, 3]]);
    k.f64_add(acc0, acc1, 2 * cols);
    k.bn_backward_coefs(acc0, rows, cols, variance, gamma, eps, coef, dgamma, dbeta);
    runPair(k, helper, ['bn_dx', [dy, x, h, cols, mean, coef, dx]], ['bn_dx', [dy + off, x + off, rows - h, cols, mean, coef, dx + off]]);
  });
}

/**
 * Which filter-gradient kernel: Winograd (conv2d_wino_fgrad), one GEMM per tap
 * (conv2d_filter_grad_taps: Ci % 4 == 0, Co % 8 == 0) or row by row (conv2d_filter_grad).
 * For A/B, read per call: FAT2019_FILTER_GRAD=taps takes the taps kernel wherever it applies,
 * =rows never (Winograd where it applies, else row by row: with FAT2019_WINOGRAD=all, the rule
 * before the taps kernel).
 */
function filterGradMethod(N: number, H: number, W: number, Ci: number, Ho: number, Wo: number, Co: number, fh: number,
  fw: number, sh: number, sw: number, top: number, left: number): 'winograd' | 'taps' | 'rows' {
  const force = typeof process !== 'undefined' ? process.env.FAT2019_FILTER_GRAD ?? '' : '';
  const wino = winogradApplies(H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left);
  const taps = Ci % 4 === 0 && Co % 8 === 0;
  if (force === 'taps' && taps) return 'taps';
  if (wino && (winogradTiles(N, H, W) >= WINOGRAD_SPLIT_TILES || winogradForced() || force === 'rows')) return 'winograd';
  if (taps && force !== 'rows' && (wino || N * Ho * Wo <= TAPS_MAX_PIXELS)) return 'taps';
  return 'rows';
}

/**
 * conv2d_filter_grad_taps for layers Winograd does not take up to this many dy pixels N·Ho·Wo
 * (row by row above: its panels outgrow L1). CPU ms per call, batch 8, on a loaded VM
 * (bench/conv-choices.ts; taps vs rows): 3×3 stride 2 [8,10,10,256]→512 (128 pixels)
 * 8.9 vs 12.0, [8,18,18,128]→256 (512) 7.8 vs 8.4, [8,34,34,64]→128 (2,048) 7.3 vs 6.7;
 * XResNet-50's 1×1 [8,8,8,256]→1024 (512) 6.1 vs 11.3, [8,4,4,512]→2048 (128) 7.6 vs 11.1,
 * [8,16,16,128]→512 (2,048) 6.9 vs 7.3, [8,32,32,256]→64 (8,192) 9.1 vs 6.6.
 */
const TAPS_MAX_PIXELS = 1024;

/** Conv filter gradient (trainKernels.c conv2d_filter_grad) over all N images; halves of the batch with the helper. */
export function filterGradOp(ctx: TrainContext, x: number, dy: number, dw: number, N: number, H: number, W: number,
  Ci: number, Ho: number, Wo: number, Co: number, fh: number, fw: number, sh: number, sw: number, top: number, left: number): void {
  const { k, helper } = ctx;
  const method = filterGradMethod(N, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left);
  if (method === 'winograd') {
    winogradFilterGrad(ctx, x, dy, dw, N, H, W, Ci, Co, winograd4Applies(N, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left) ? 4 : 2);
    return;
  }
  if (winograd5Applies(H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left)) {
    winograd5FilterGrad(ctx, x, dy, dw, N, H, W, Ci, Co);
    return;
  }
  if (method === 'taps') {
    // x and dy as channel panels (halves of the rows with the helper), then halves of the
    // output channels (multiples of 8): disjoint columns of dW.
    const xRows = N * H * W;
    const dRows = N * Ho * Wo;
    const xp = scratch(ctx, xRows * Ci);
    const dp = scratch(ctx, dRows * Co);
    const hx = helper && xRows >= 2 ? xRows >> 1 : xRows;
    const hd = helper && dRows >= 2 ? dRows >> 1 : dRows;
    runPair(k, helper, ['pack_panels', [x, xRows, 0, hx, Ci, 4, xp.off]], hx < xRows ? ['pack_panels', [x, xRows, hx, xRows, Ci, 4, xp.off]] : null);
    runPair(k, helper, ['pack_panels', [dy, dRows, 0, hd, Co, 8, dp.off]], hd < dRows ? ['pack_panels', [dy, dRows, hd, dRows, Co, 8, dp.off]] : null);
    const c = helper && Co >= 16 ? 8 * Math.ceil(Co / 16) : Co;
    const geometry = [N, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left];
    runPair(k, helper, ['conv2d_filter_grad_taps', [xp.off, dp.off, dw, 0, c, ...geometry]],
      c < Co ? ['conv2d_filter_grad_taps', [xp.off, dp.off, dw, c, Co, ...geometry]] : null);
    free(ctx, xp);
    free(ctx, dp);
    return;
  }
  const geometry = [H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left];
  if (!helper || N < 2) {
    k.conv2d_filter_grad(x, dy, dw, 0, N, ...(geometry as [number, number, number, number, number, number, number, number, number, number, number, number]));
    return;
  }
  const size = fh * fw * Ci * Co;
  const s = scratch(ctx, size);
  const h = Math.ceil(N / 2);
  runPair(k, helper, ['conv2d_filter_grad', [x, dy, dw, 0, h, ...geometry]], ['conv2d_filter_grad', [x, dy, s.off, h, N, ...geometry]]);
  k.f32_add(dw, s.off, size);
  free(ctx, s);
}

/**
 * Conv input gradient (trainKernels.c conv2d_input_grad) of all N·H dx rows, any filter and
 * stride, read straight from dy and the filter (packed by pack_wT8: input channels in blocks of
 * 8, then the rest); rows in chunks shared with the helper (trainPool.ts runShared).
 */
export function inputGradOp(ctx: TrainContext, dy: number, w: number, dx: number, N: number, H: number, W: number,
  Ci: number, Ho: number, Wo: number, Co: number, fh: number, fw: number, sh: number, sw: number, top: number, left: number): void {
  const { k, helper } = ctx;
  const zeros = scratch(ctx, Co);
  new Float32Array(backendMemory(ctx.backend)!.buffer, zeros.off, Math.max(1, Co)).fill(0);
  const packed = scratch(ctx, fh * fw * Co * Ci);
  k.pack_wT8(w, fh, fw, Ci, Co, packed.off);
  const rows = N * H;
  const geometry = [H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left];
  const split = helper && rows >= 2 && rows * W * Ci >= 65536;
  const args = [dy, packed.off, zeros.off, dx, 0, rows, ...geometry];
  runShared(k, split ? helper : null, 'conv2d_input_grad', args, args.slice(), 4, rows, 1);
  free(ctx, zeros);
  free(ctx, packed);
}

/**
 * Forward convolution (trainKernels.c conv2d_forward) of all N·Ho output rows; with the helper
 * the rows go in chunks shared with the helper (trainPool.ts runShared). bias: 0 for none.
 */
export function convForwardOp(ctx: TrainContext, x: number, w: number, bias: number, y: number, N: number, H: number,
  W: number, Ci: number, Ho: number, Wo: number, Co: number, fh: number, fw: number, sh: number, sw: number,
  top: number, left: number, relu: boolean): void {
  const { k, helper } = ctx;
  if (winograd4Applies(N, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left)) {
    winogradForward(ctx, x, w, bias, y, N, H, W, Ci, Co, relu, 4);
    return;
  }
  if (winogradApplies(H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left)) {
    winogradForward(ctx, x, w, bias, y, N, H, W, Ci, Co, relu, 2);
    return;
  }
  if (winograd5Applies(H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left)) {
    winograd5Forward(ctx, x, w, bias, y, N, H, W, Ci, Co, relu);
    return;
  }
  const rows = N * Ho;
  const zeros = ctx.backend.makeOutput([Math.max(1, Ci)], 'float32');
  const z = offsetOf(ctx.backend, zeros);
  new Float32Array((ctx.backend.wasm.wasmMemory ?? backendMemory(ctx.backend)!).buffer, z, Math.max(1, Ci)).fill(0);
  // Weights of a channel block beyond L1 (fh·fw·Ci·8 floats > 16 KiB), or rows PACK_STRIDE_CO+
  // floats apart: packed block by block.
  const pack = Co >= 8 && (fh * fw * Ci * 8 * 4 > PACK_ABOVE_BYTES || (Co >= PACK_STRIDE_CO && Wo >= 4));
  const packed = pack ? ctx.backend.makeOutput([fh * fw * Ci * (Co & ~7)], 'float32') : null;
  const wp = packed ? offsetOf(ctx.backend, packed) : 0;
  if (packed) k.pack_w8(w, fh * fw, Ci, Co, wp);
  const geometry = [H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left, relu ? 1 : 0];
  const split = helper && rows >= 2 && rows * Wo * Co >= 65536;
  const args = [x, w, wp, bias, z, y, 0, rows, ...geometry];
  runShared(k, split ? helper : null, 'conv2d_forward', args, args.slice(), 6, rows, 1);
  ctx.backend.disposeData(zeros.dataId);
  if (packed) ctx.backend.disposeData(packed.dataId);
}

/**
 * 3×3, stride 1, 'same' convolutions with Ci % 4 == 0 and Co % 8 == 0 (every full-width layer
 * of CNN-model-1 but the first, and their input gradients): Winograd F(2×2, 3×3)
 * (trainKernels.c wino_weights + conv2d_wino), 2.25× fewer multiplications than the direct
 * kernel, which is bound by them. One thread, batch 8: 94–116 GFLOP/s-equivalent vs 62 direct,
 * outputs within ≈3e-6 of the largest |y| (bench/conv-layers.ts). Tiles in chunks shared with
 * the helper (or, when few, halves of the output channels). FAT2019_WINOGRAD=0 turns it off (A/B).
 */
function winogradEnabled(): boolean {
  return !/^(0|false|off)$/i.test(typeof process !== 'undefined' ? process.env.FAT2019_WINOGRAD ?? '' : '');
}
/** FAT2019_WINOGRAD=all: Winograd wherever it applies, whatever the tile count (the rule before; A/B). */
function winogradForced(): boolean {
  return typeof process !== 'undefined' && process.env.FAT2019_WINOGRAD === 'all';
}
/** 2×2 output tiles of a batch. */
function winogradTiles(N: number, H: number, W: number): number {
  return N * Math.ceil(H / 2) * Math.ceil(W / 2);
}
/**
 * Winograd's input gradient pays from this many tiles: it runs as the forward Winograd of dy
 * with the filter flipped and transposed by tfjs ops (conv2dGrads.ts), two passes over the
 * weights per call on top of the transformed weights. ResNet's [8,4,4,512] 3×3 512→512 layer
 * (32 tiles), CPU ms per call on a loaded VM (bench/conv-choices.ts): input gradient 18.5
 * Winograd vs 13.3 direct; [8,8,8,256] (128 tiles) 8.9 vs 12.2. The forward pass takes
 * Winograd at any tile count since the weights transform runs vectorized on both threads
 * ([8,4,4,512]: 10.2 vs 12.7 direct).
 */
const WINOGRAD_INPUT_GRAD_MIN_TILES = 128;
/** Tiles from which the Winograd filter gradient is split with the helper (fewer: one GEMM per tap, split by channels). */
const WINOGRAD_SPLIT_TILES = 64;
/** Winograd applies (winogradApplies) and pays for this batch's input gradient. */
export function winogradPaysInputGrad(N: number, H: number, W: number): boolean {
  return winogradForced() || winogradTiles(N, H, W) >= WINOGRAD_INPUT_GRAD_MIN_TILES;
}
/**
 * Fewer input channels go to the direct kernel (FAT2019_WINOGRAD_MIN_CI overrides, for
 * measurements). Why 16: with 8, tests/runtime/kernels.test.ts' cnn7th step (width 1/8, 32×32, batch
 * statistics over tiny maps) saw its first conv's filter gradient differ from cpu by 2.2e-3
 * (tolerance 5e-4): Winograd's rounding (≈1e-6 of max |y| vs ≈1e-7 direct) amplified through
 * training-mode batch norm. 8-channel layers are cheap anyway; width-1/8 CNN-model-1 measured
 * the same with 8 or 16 (0.99× vs 0.92× PyTorch, within the noise of a loaded VM).
 */
const WINOGRAD_MIN_CI = Number(typeof process !== 'undefined' ? process.env.FAT2019_WINOGRAD_MIN_CI ?? '' : '') || 16;
/** 3×3, stride 1, padding 1 ('same'), Ci % 4 == 0, Ci >= WINOGRAD_MIN_CI, Co % 8 == 0, Winograd on. */
export function winogradApplies(H: number, W: number, Ci: number, Ho: number, Wo: number, Co: number, fh: number, fw: number,
  sh: number, sw: number, top: number, left: number): boolean {
  return winogradEnabled() && fh === 3 && fw === 3 && sh === 1 && sw === 1 && top === 1 && left === 1 && Ho === H
    && Wo === W && Ci % 4 === 0 && Co % 8 === 0 && Ci >= WINOGRAD_MIN_CI;
}
/** Tiles per block in conv2d_wino_fgrad and conv2d_wino4_fgrad (WINO_TF, WINO4_TF in trainKernels.c). */
const WINO_TF = 32;

/**
 * Filter gradient by Winograd F(3×3, 2×2) (trainKernels.c conv2d_wino_fgrad, wino_fgrad_out) or,
 * m = 4, F(3×3, 4×4) (winograd4.c conv2d_wino4_fgrad, wino4_fgrad_out): the transformed
 * products summed over all m×m tiles of dy, split in halves of the tiles with the helper (each
 * half into its own [(m+2)², Ci, Co] sum, added before the output transform).
 */
function winogradFilterGrad(ctx: TrainContext, x: number, dy: number, dw: number, N: number, H: number, W: number,
  Ci: number, Co: number, m: 2 | 4): void {
  const { k, helper } = ctx;
  const tiles = N * Math.ceil(H / m) * Math.ceil(W / m);
  const h = helper && tiles * m * m >= 256 ? Math.ceil(tiles / 2) : tiles;
  const taps = (m + 2) * (m + 2);
  const floats = m === 4 ? 36 * (WINO_TF * (Ci + Co) + 32 + Ci) : 16 * WINO_TF * (Ci + Co);
  const acc0 = scratch(ctx, taps * Ci * Co);
  const s0 = scratch(ctx, floats);
  const acc1 = h < tiles ? scratch(ctx, taps * Ci * Co) : null;
  const s1 = h < tiles ? scratch(ctx, floats) : null;
  const kernel = m === 4 ? 'conv2d_wino4_fgrad' : 'conv2d_wino_fgrad';
  runPair(k, helper, [kernel, [x, dy, acc0.off, s0.off, 0, h, H, W, Ci, Co]],
    acc1 && s1 ? [kernel, [x, dy, acc1.off, s1.off, h, tiles, H, W, Ci, Co]] : null);
  if (acc1) k.f32_add(acc0.off, acc1.off, taps * Ci * Co);
  (m === 4 ? k.wino4_fgrad_out : k.wino_fgrad_out)(acc0.off, Ci, Co, dw);
  for (const t of [acc0, s0, acc1, s1]) if (t) free(ctx, t);
}

/** Tiles per block in conv2d_wino and conv2d_wino4 (WINO_T, WINO4_T in trainKernels.c). */
const WINO_T = 32;

/**
 * Winograd F(4×4, 3×3) (winograd4.c: 4× fewer multiplications than direct, vs F(2×2)'s
 * 2.25×) for the 3×3 'same' layers winogradApplies takes with at least WINOGRAD4_MIN_CI input
 * channels and output maps of 16×16 or more (8×8 with enough tiles, below): forward, input
 * gradient (conv2dGrads.ts runs it as a forward conv) and filter gradient (F(3×3, 4×4)). Measured through tfjs, 2 threads,
 * F(2×2) → F(4×4), in-process interleaved medians (AMD EPYC, shared VM, load ≈7): forward /
 * input grad / filter grad [8,32,32,64] 64→64 17.9 → 10.9 / 22.4 → 15.2 / 17.6 → 10.0 ms;
 * [8,16,16,128] 13.1 → 12.7 / 17.9 → 15.7 / 20.6 → 11.6; [8,16,16,256] 79 → 63 / 80 → 57 /
 * 74 → 51; [8,128,128,64] 360 → 212 / 322 → 248 / 357 → 214. On 8×8 maps it loses
 * ([8,8,8,256] 0.85× / 0.94× / 0.84×, [8,8,8,512] 0.94× / 0.91× / 0.74×: 4 tiles per image, and
 * U (36·Ci·Co floats) is reused by too few tiles). FAT2019_WINOGRAD4=0 keeps them on F(2×2)
 * (read on every call, for A/B in one process). Rounding: outputs within ≈1e-5 of the largest
 * |y|, filter gradients ≈4e-6 of the largest |dW| (F(2×2) ≈5e-7 and ≈3e-7;
 * tests/runtime/trainKernels.test.ts).
 */
const winograd4Enabled = () => !/^(0|false|off)$/i.test(typeof process !== 'undefined' ? process.env.FAT2019_WINOGRAD4 ?? '' : '');
/**
 * Why 32, not F(2×2)'s 16: with 16, tests/runtime/kernels.test.ts' vgg16bn step (width 1/8,
 * 32×32, 16-channel layers on 16×16 and 32×32 maps) saw a batch-norm γ gradient differ from cpu
 * by 2.5e-4 (tolerance 2e-4), although single-thread kernel timings had F(4×4) 1.3–1.5× faster
 * than F(2×2) on [32,64,64,16] and [32,32,32,16].
 */
const WINOGRAD4_MIN_CI = 32;
/**
 * 8×8 maps take F(4×4) too when the batch has at least this many 4×4 tiles, so that U is
 * reused: ResNet-34 at width 1/8, batch 32, [32,8,8,32] 32→32 (128 tiles), F(2×2) → F(4×4),
 * 2 threads, in-process interleaved best of 15 (AMD EPYC VM): forward 0.48 → 0.42 ms, input
 * gradient 0.52 → 0.45, filter gradient 0.39 → 0.25 (a second run: 0.63 → 0.54, 0.68 → 0.57,
 * 0.49 → 0.34). Full width at micro-batch 8 has 32 tiles there and stays on F(2×2) (above);
 * 4×4 maps gain nothing ([32,4,4,64]: 0.60 → 0.64, 0.59 → 0.68, 0.42 → 0.37).
 */
const WINOGRAD4_SMALL_MAP_MIN_TILES = 128;
function winograd4Applies(N: number, H: number, W: number, Ci: number, Ho: number, Wo: number, Co: number, fh: number,
  fw: number, sh: number, sw: number, top: number, left: number): boolean {
  const mapOk = (H >= 16 && W >= 16) || (H >= 8 && W >= 8 && N * Math.ceil(H / 4) * Math.ceil(W / 4) >= WINOGRAD4_SMALL_MAP_MIN_TILES);
  return winograd4Enabled() && N > 0 && mapOk && Ci >= WINOGRAD4_MIN_CI
    && winogradApplies(H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left);
}

function winogradForward(ctx: TrainContext, x: number, w: number, bias: number, y: number, N: number, H: number,
  W: number, Ci: number, Co: number, relu: boolean, m: 2 | 4): void {
  const { k, helper } = ctx;
  const tiles = N * Math.ceil(H / m) * Math.ceil(W / m);
  const taps = (m + 2) * (m + 2);
  const U = scratch(ctx, taps * Ci * Co);
  const nb = Co / 8;
  if (m === 4) {
    k.wino4_weights(w, Ci, Co, U.off);
  } else {
    const hb = helper && nb >= 2 && Ci * Co >= 16384 ? nb >> 1 : nb;
    runPair(k, helper, ['wino_weights_blocks', [w, Ci, Co, 0, hb, U.off]], hb < nb ? ['wino_weights_blocks', [w, Ci, Co, hb, nb, U.off]] : null);
  }
  // Split where F(2×2) had ≥ 64 tiles and ≥ 16384 tile·channels (the same outputs for F(4×4)).
  const h = helper && tiles * m * m >= 256 && tiles * m * m * Co >= 65536 ? Math.ceil(tiles / 2) : tiles;
  // F(2×2) with fewer than two blocks of tiles: halves of the output channels instead, each
  // thread transforming the input tiles itself.
  const hc = m === 2 && h === tiles && helper && nb >= 2 && tiles * Co >= 16384 ? nb >> 1 : nb;
  const s0 = scratch(ctx, taps * WINO_T * (Ci + Co));
  const s1 = h < tiles || hc < nb ? scratch(ctx, taps * WINO_T * (Ci + Co)) : null;
  const r = relu ? 1 : 0;
  const kernel = m === 4 ? 'conv2d_wino4' : 'conv2d_wino';
  if (hc < nb && s1) {
    runPair(k, helper, ['conv2d_wino_blocks', [x, U.off, bias, y, s0.off, 0, tiles, 0, hc, H, W, Ci, Co, r]],
      ['conv2d_wino_blocks', [x, U.off, bias, y, s1.off, 0, tiles, hc, nb, H, W, Ci, Co, r]]);
  } else {
    runShared(k, s1 ? helper : null, kernel, [x, U.off, bias, y, s0.off, 0, tiles, H, W, Ci, Co, r],
      [x, U.off, bias, y, s1 ? s1.off : 0, 0, tiles, H, W, Ci, Co, r], 5, tiles, WINO_T);
  }
  free(ctx, s0);
  if (s1) free(ctx, s1);
  free(ctx, U);
}

/**
 * 5×5, stride 1, padding 2 ('same') convolutions with Ci % 4 == 0, Ci >= WINOGRAD_MIN_CI and
 * Co % 8 == 0 (PANNs CNN6/10/14's blocks but the first, and their input gradients, which
 * conv2dGrads.ts runs as the forward conv of dy with the flipped filter): Winograd F(2×2, 5×5)
 * (wasm/winograd5.c), 36 products per 2×2 output tile instead of 100. FAT2019_WINOGRAD5=0
 * turns it off (read on every call: A/B in one process).
 */
export function winograd5Applies(H: number, W: number, Ci: number, Ho: number, Wo: number, Co: number, fh: number,
  fw: number, sh: number, sw: number, top: number, left: number): boolean {
  return fh === 5 && fw === 5 && sh === 1 && sw === 1 && top === 2 && left === 2 && Ho === H && Wo === W
    && Ci % 4 === 0 && Co % 8 === 0 && Ci >= WINOGRAD_MIN_CI
    && !/^(0|false|off)$/i.test(typeof process !== 'undefined' ? process.env.FAT2019_WINOGRAD5 ?? '' : '');
}
/**
 * Tiles per block in conv2d_wino5 and conv2d_wino5_fgrad: 32, as the 3×3 kernels (16, 64 and
 * 128 measured within the noise of a loaded VM on PANNs CNN6's layers).
 */
const WINO5_TILES = 32;
/** Floats of 36 padded blocks (W5_PAD = 16 in wasm/winograd5.c) of n floats each. */
const wino5Blocks = (n: number): number => 36 * (n + 16);

/** Winograd F(2×2, 5×5) forward (conv2d_wino5): tiles in chunks shared with the helper. */
function winograd5Forward(ctx: TrainContext, x: number, w: number, bias: number, y: number, N: number, H: number,
  W: number, Ci: number, Co: number, relu: boolean): void {
  const { k, helper } = ctx;
  const tiles = N * Math.ceil(H / 2) * Math.ceil(W / 2);
  const U = scratch(ctx, wino5Blocks(Ci * Co));
  k.wino5_weights(w, Ci, Co, U.off);
  const T = WINO5_TILES;
  const h = helper && tiles >= 2 * T ? Math.ceil(tiles / 2) : tiles;
  const s0 = scratch(ctx, wino5Blocks(T * Ci) + wino5Blocks(T * Co));
  const s1 = h < tiles ? scratch(ctx, wino5Blocks(T * Ci) + wino5Blocks(T * Co)) : null;
  runShared(k, s1 ? helper : null, 'conv2d_wino5', [x, U.off, bias, y, s0.off, 0, tiles, H, W, Ci, Co, relu ? 1 : 0, T],
    [x, U.off, bias, y, s1 ? s1.off : 0, 0, tiles, H, W, Ci, Co, relu ? 1 : 0, T], 5, tiles, T);
  for (const t of [s0, s1, U]) if (t) free(ctx, t);
}

/**
 * Winograd F(5×5, 2×2) filter gradient (conv2d_wino5_fgrad, wino5_fgrad_out): halves of the
 * tiles with the helper, each into its own [36, Ci, Co] sum, added before the output transform.
 */
function winograd5FilterGrad(ctx: TrainContext, x: number, dy: number, dw: number, N: number, H: number, W: number,
  Ci: number, Co: number): void {
  const { k, helper } = ctx;
  const tiles = N * Math.ceil(H / 2) * Math.ceil(W / 2);
  const T = WINO5_TILES;
  const h = helper && tiles >= 2 * T ? Math.ceil(tiles / 2) : tiles;
  const acc0 = scratch(ctx, wino5Blocks(Ci * Co));
  const s0 = scratch(ctx, wino5Blocks(T * Ci) + wino5Blocks(T * Co));
  const acc1 = h < tiles ? scratch(ctx, wino5Blocks(Ci * Co)) : null;
  const s1 = h < tiles ? scratch(ctx, wino5Blocks(T * Ci) + wino5Blocks(T * Co)) : null;
  runPair(k, helper, ['conv2d_wino5_fgrad', [x, dy, acc0.off, s0.off, 0, h, H, W, Ci, Co, T]],
    acc1 && s1 ? ['conv2d_wino5_fgrad', [x, dy, acc1.off, s1.off, h, tiles, H, W, Ci, Co, T]] : null);
  if (acc1) k.f32_add(acc0.off, acc1.off, wino5Blocks(Ci * Co));
  k.wino5_fgrad_out(acc0.off, Ci, Co, dw);
  for (const t of [acc0, s0, acc1, s1]) if (t) free(ctx, t);
}

/** Channel-block weights above this size are packed contiguously before the convolution. */
const PACK_ABOVE_BYTES = 16384;
/**
 * Output channels from which the weights are packed whatever the block size: unpacked, a block's
 * rows are Co floats apart (4–8 KB for XResNet-50's 1×1 expansions), the same few L1 sets. CPU
 * ms per call, loaded VM (bench/conv-choices.ts): [8,8,8,256] 1×1 →1024 12.6 → 7.3,
 * [8,4,4,512] →2048 15.7 → 7.4, [8,16,16,128] →512 7.9 → 6.9; others unchanged.
 */
const PACK_STRIDE_CO = 128;
/** dx = dy·step(x) over n elements (trainKernels.c relu_grad); halves with the helper for large tensors. */
export function reluGradOp(ctx: TrainContext, dy: number, x: number, n: number, dx: number): void {
  const h = ctx.helper && n >= SPLIT_MIN_ELEMENTS ? Math.ceil(n / 8) * 4 : n;
  runPair(ctx.k, ctx.helper, ['relu_grad', [dy, x, h, dx]], h < n ? ['relu_grad', [dy + 4 * h, x + 4 * h, n - h, dx + 4 * h]] : null);
}

/** The elementwise kernels of ./wasm/unary.c (y = f(x) over n floats). */
export type UnaryKernelName = 'relu_f32' | 'neg_f32' | 'abs_f32';

/** y = f(x) over n elements (./wasm/unary.c); halves with the helper for large tensors. */
export function unaryOp(ctx: TrainContext, name: UnaryKernelName, x: number, n: number, y: number): void {
  const h = ctx.helper && n >= SPLIT_MIN_ELEMENTS ? Math.ceil(n / 8) * 4 : n;
  runPair(ctx.k, ctx.helper, [name, [x, h, y]], h < n ? [name, [x + 4 * h, n - h, y + 4 * h]] : null);
}
