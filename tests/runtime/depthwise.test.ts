/**
 * The depthwise-convolution C kernels (lib/runtime/kernels/wasm/depthwise.c): in the four builds
 * (plain and shared memory, with and without relaxed SIMD) on a memory of our own against
 * float64 JavaScript loops, in the ranges the main and helper threads run, writing nothing but
 * their outputs; then through tfjs
 * on wasm (DepthwiseConv2dNative, FusedDepthwiseConv2D and both gradients) against the cpu
 * backend, large enough for the helper thread's halves, and against the previous paths
 * (FAT2019_DEPTHWISE_C=0); and on tfjs' single-threaded binary (plain memory) in a child process.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { trainKernelsOnMemory, type TrainKernelExports } from '../../lib/runtime/kernels/trainWasm';
import { initWasmBackend } from '../fixtures/wasmBackend';
import { wasmRelaxedSimdSupported } from '../../lib/wasm/load';
import { installedCustomKernels } from '../../lib/runtime/kernels';
import { Rng } from '../../lib/util/rng';

const rng = new Rng(240601);

function randn(n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** A bump allocator over a memory filled with a sentinel byte; finds bytes changed outside the writable ranges. */
class Arena {
  readonly memory: WebAssembly.Memory;
  private next = 1024;
  private readonly writable: Array<[number, number]> = [];
  private readonly inputs: Array<[number, number]> = [];
  constructor(shared: boolean) {
    this.memory = shared
      ? new WebAssembly.Memory({ initial: 64, maximum: 256, shared: true } as WebAssembly.MemoryDescriptor)
      : new WebAssembly.Memory({ initial: 64 });
    new Uint8Array(this.memory.buffer).fill(0xa5);
  }
  /** n float32 (or n/2 float64: bytes = 4n), 8-byte aligned but not 16. */
  alloc(n: number, init?: Float32Array, writable = true): number {
    const off = this.next + (16 - (this.next % 16)) % 16 + 8;
    this.next = off + 4 * n + 16;
    if (init) new Float32Array(this.memory.buffer, off, n).set(init);
    (writable ? this.writable : this.inputs).push([off, off + 4 * n]);
    return off;
  }
  f32(off: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, off, n).slice();
  }
  strayWrites(): number {
    const u8 = new Uint8Array(this.memory.buffer);
    const ok = [...this.writable, ...this.inputs];
    let stray = 0;
    for (let i = 0; i < u8.length; i++) {
      if (u8[i] !== 0xa5 && !ok.some(([a, b]) => i >= a && i < b)) stray++;
    }
    return stray;
  }
}

interface Case { N: number; H: number; W: number; C: number; m: number; fh: number; fw: number; sh: number; sw: number;
  top: number; left: number; bottom: number; right: number }

function outSize(c: Case): [number, number] {
  return [Math.floor((c.H + c.top + c.bottom - c.fh) / c.sh) + 1, Math.floor((c.W + c.left + c.right - c.fw) / c.sw) + 1];
}

/** x index of output (n, i, j), tap (a, b), channel c; -1 in the padding. */
function xIndex(c: Case, n: number, i: number, j: number, a: number, b: number, ch: number): number {
  const y = i * c.sh + a - c.top;
  const z = j * c.sw + b - c.left;
  return y < 0 || y >= c.H || z < 0 || z >= c.W ? -1 : ((n * c.H + y) * c.W + z) * c.C + ch;
}

/** Float64 oracles of the three kernels, by the definitions (every output, tap and channel). */
function oracles(c: Case, x: Float32Array, w: Float32Array, dy: Float32Array, bias: Float32Array | null, act: number) {
  const [Ho, Wo] = outSize(c);
  const Co = c.C * c.m;
  const y = new Float64Array(c.N * Ho * Wo * Co);
  const dw = new Float64Array(c.fh * c.fw * Co);
  const dx = new Float64Array(c.N * c.H * c.W * c.C);
  for (let n = 0; n < c.N; n++) for (let i = 0; i < Ho; i++) for (let j = 0; j < Wo; j++) for (let co = 0; co < Co; co++) {
    const o = ((n * Ho + i) * Wo + j) * Co + co;
    let s = bias ? bias[co] : 0;
    for (let a = 0; a < c.fh; a++) for (let b = 0; b < c.fw; b++) {
      const xi = xIndex(c, n, i, j, a, b, Math.floor(co / c.m));
      if (xi < 0) continue;
      const t = (a * c.fw + b) * Co + co;
      s += x[xi] * w[t];
      dw[t] += x[xi] * dy[o];
      dx[xi] += dy[o] * w[t];
    }
    y[o] = act === 0 ? s : act === 1 ? Math.max(0, s) : Math.min(6, Math.max(0, s));
  }
  return { y, dw, dx };
}

function assertClose(got: Float32Array, ref: Float64Array, what: string, tol = 1e-4): void {
  assert.equal(got.length, ref.length);
  for (let i = 0; i < ref.length; i++) {
    assert.ok(Math.abs(got[i] - ref[i]) <= tol * (1 + Math.abs(ref[i])), `${what}[${i}]: ${got[i]} vs ${ref[i]}`);
  }
}

// Channels below, at and above the 4- and 16-wide blocks, tails; multipliers 1–3; strides 1, 2
// and mixed; 'same', 'valid', asymmetric and larger-than-filter padding; 5×3 and 1×1 filters.
const cases: Case[] = [
  { N: 2, H: 7, W: 9, C: 5, m: 1, fh: 3, fw: 3, sh: 1, sw: 1, top: 1, left: 1, bottom: 1, right: 1 },
  { N: 2, H: 8, W: 9, C: 19, m: 1, fh: 3, fw: 3, sh: 2, sw: 2, top: 0, left: 1, bottom: 1, right: 1 },
  { N: 3, H: 9, W: 9, C: 36, m: 1, fh: 3, fw: 3, sh: 2, sw: 2, top: 0, left: 0, bottom: 0, right: 0 },
  { N: 1, H: 6, W: 5, C: 16, m: 1, fh: 3, fw: 3, sh: 1, sw: 1, top: 0, left: 0, bottom: 0, right: 0 },
  { N: 2, H: 9, W: 8, C: 4, m: 2, fh: 3, fw: 3, sh: 1, sw: 1, top: 1, left: 1, bottom: 1, right: 1 },
  { N: 2, H: 7, W: 7, C: 3, m: 3, fh: 5, fw: 3, sh: 2, sw: 1, top: 2, left: 1, bottom: 2, right: 1 },
  { N: 2, H: 6, W: 7, C: 3, m: 1, fh: 3, fw: 3, sh: 1, sw: 1, top: 3, left: 0, bottom: 1, right: 3 },
  { N: 2, H: 5, W: 6, C: 7, m: 1, fh: 1, fw: 1, sh: 2, sw: 2, top: 0, left: 0, bottom: 0, right: 0 },
  { N: 1, H: 3, W: 3, C: 1, m: 1, fh: 3, fw: 3, sh: 1, sw: 1, top: 1, left: 1, bottom: 1, right: 1 },
  { N: 2, H: 10, W: 7, C: 8, m: 1, fh: 3, fw: 3, sh: 2, sw: 2, top: 1, left: 0, bottom: 1, right: 1 },
  { N: 1, H: 11, W: 12, C: 6, m: 1, fh: 3, fw: 3, sh: 2, sw: 2, top: 2, left: 3, bottom: 0, right: 0 },
];

/**
 * The four builds: plain or shared memory, with or without relaxed SIMD's fused multiply-add
 * (kernels.h MAC). Node 20 compiles relaxed SIMD once lib/wasm/load.ts has set V8's flag.
 */
const BUILDS = [false, true].flatMap((relaxed) => [false, true].map((shared) => ({ shared, relaxed })));

test('relaxed SIMD runs here (Node 20 with the flag lib/wasm/load.ts sets, or a newer engine)', () => {
  assert.equal(wasmRelaxedSimdSupported(), true);
});

for (const { shared, relaxed } of BUILDS) {
  test(`${shared ? 'shared' : 'plain'}-memory${relaxed ? ' relaxed-SIMD' : ''} build: dw_forward, dw_input_grad and dw_filter_grad equal float64 loops in split ranges and write only their outputs`, () => {
    for (const c of cases) {
      const [Ho, Wo] = outSize(c);
      const Co = c.C * c.m;
      const xv = randn(c.N * c.H * c.W * c.C);
      const wv = randn(c.fh * c.fw * Co);
      const dyv = randn(c.N * Ho * Wo * Co);
      const bv = randn(Co);
      const geo = [c.H, c.W, c.C, c.m, Ho, Wo, c.fh, c.fw, c.sh, c.sw, c.top, c.left] as const;
      const what = JSON.stringify(c);
      for (const act of [0, 1, 2]) {
        const arena = new Arena(shared);
        const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
        const x = arena.alloc(xv.length, xv, false);
        const w = arena.alloc(wv.length, wv, false);
        const dy = arena.alloc(dyv.length, dyv, false);
        const bias = arena.alloc(Co, bv, false);
        const ref = oracles(c, xv, wv, dyv, act === 1 ? bv : null, act);
        const y = arena.alloc(ref.y.length);
        const rows = c.N * Ho;
        const h = Math.ceil(rows / 2);
        // The halves as the main and the helper thread run them (bias on act 1 only).
        k.dw_forward(x, w, act === 1 ? bias : 0, y, 0, h, ...geo, act);
        k.dw_forward(x, w, act === 1 ? bias : 0, y, h, rows, ...geo, act);
        assertClose(arena.f32(y, ref.y.length), ref.y, `${what} act ${act}: y`);
        const dx = arena.alloc(ref.dx.length);
        const hx = Math.ceil((c.N * c.H) / 3);
        k.dw_input_grad(dy, w, dx, 0, hx, ...geo);
        k.dw_input_grad(dy, w, dx, hx, c.N * c.H, ...geo);
        assertClose(arena.f32(dx, ref.dx.length), ref.dx, `${what}: dx`);
        const size = c.fh * c.fw * Co;
        const acc0 = arena.alloc(2 * size);
        const acc1 = arena.alloc(2 * size);
        const dw = arena.alloc(size);
        // Whole batch into one float64 total, then images [0, n) and [n, N) into two.
        k.dw_filter_grad(x, dy, acc0, 0, c.N, ...geo);
        k.dw_finish(acc0, 0, size, dw);
        assertClose(arena.f32(dw, size), ref.dw, `${what}: dW`);
        if (c.N > 1) {
          new Float32Array(arena.memory.buffer, dw, size).fill(7);
          k.dw_filter_grad(x, dy, acc0, 0, 1, ...geo);
          k.dw_filter_grad(x, dy, acc1, 1, c.N, ...geo);
          k.dw_finish(acc0, acc1, size, dw);
          assertClose(arena.f32(dw, size), ref.dw, `${what}: dW from halves`);
        }
        assert.equal(arena.strayWrites(), 0, `${what}: bytes written outside the outputs`);
        assert.deepEqual(arena.f32(x, xv.length), xv, 'x unchanged');
        assert.deepEqual(arena.f32(dy, dyv.length), dyv, 'dy unchanged');
      }
    }
  });
}

before(async () => {
  await initWasmBackend();
});

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

/** max |a−b| / max |a|. */
function relErr(ref: ArrayLike<number>, got: ArrayLike<number>): number {
  assert.equal(got.length, ref.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(ref[i] - got[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Forward (plain and fused with bias + activation), dL/dx and dL/dW of L = Σ depthwiseConv2d(x, W)·R on `backend`. */
function run(backend: string, xs: number[], ws: number[], stride: number, pad: Pad, act: 'linear' | 'relu' | 'relu6',
  xv: Float32Array, wv: Float32Array, bv: Float32Array, rv: (n: number) => Float32Array): Float32Array[] {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const x = tf.tensor4d(xv, xs as [number, number, number, number]);
    const w = tf.tensor4d(wv, ws as [number, number, number, number]);
    const b = tf.tensor1d(bv);
    const y = tf.depthwiseConv2d(x, w, stride, pad as 'same');
    const fused = tf.fused.depthwiseConv2d({ x, filter: w, strides: stride, pad: pad as 'same', bias: b, activation: act });
    const r = tf.tensor(rv(y.size), y.shape);
    const g = tf.grads((a: tf.Tensor, f: tf.Tensor) => tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, f as tf.Tensor4D, stride, pad as 'same'), r)));
    const [gx, gw] = g([x, w]);
    return [y, fused, gx, gw].map((t) => t.dataSync() as Float32Array);
  });
}

const tfCases: Array<{ x: number[]; w: number[]; stride: number; pad: Pad; act: 'linear' | 'relu' | 'relu6' }> = [
  { x: [2, 9, 10, 7], w: [3, 3, 7, 1], stride: 1, pad: 'same', act: 'relu6' },
  { x: [2, 9, 10, 7], w: [3, 3, 7, 1], stride: 2, pad: 'same', act: 'relu' },
  { x: [3, 11, 11, 20], w: [3, 3, 20, 1], stride: 2, pad: 'valid', act: 'linear' },
  { x: [2, 8, 9, 3], w: [3, 3, 3, 2], stride: 2, pad: [[0, 0], [1, 1], [1, 1], [0, 0]], act: 'relu6' },
  // Large enough that the helper thread runs half of each kernel (rows, images).
  { x: [8, 32, 32, 36], w: [3, 3, 36, 1], stride: 1, pad: 'same', act: 'relu6' },
  { x: [8, 33, 33, 40], w: [3, 3, 40, 1], stride: 2, pad: 'valid', act: 'relu' },
];

for (const c of tfCases) {
  test(`depthwise conv on wasm matches cpu (forward, fused ${c.act}, dx, dW): x ${c.x} W ${c.w} stride ${c.stride} pad ${JSON.stringify(c.pad)}`, () => {
    const xv = randn(c.x.reduce((a, b) => a * b));
    const wv = randn(c.w.reduce((a, b) => a * b));
    const bv = randn(c.w[2] * c.w[3]);
    let rCache: Float32Array | null = null;
    const rv = (n: number) => (rCache ??= randn(n));
    const before = tf.memory().numTensors;
    const cpu = run('cpu', c.x, c.w, c.stride, c.pad, c.act, xv, wv, bv, rv);
    const wasm = run('wasm', c.x, c.w, c.stride, c.pad, c.act, xv, wv, bv, rv);
    assert.equal(tf.memory().numTensors, before, 'no tensors leak');
    ['y', 'fused', 'dx', 'dW'].forEach((name, i) => {
      assert.ok(relErr(cpu[i], wasm[i]) <= 1e-5, `${name} relative error ${relErr(cpu[i], wasm[i])}`);
    });
    // The previous paths (stock forward, JavaScript loops / XNNPACK gradients) agree too.
    process.env.FAT2019_DEPTHWISE_C = '0';
    try {
      const old = run('wasm', c.x, c.w, c.stride, c.pad, c.act, xv, wv, bv, rv);
      ['y', 'fused', 'dx', 'dW'].forEach((name, i) => assert.ok(relErr(old[i], wasm[i]) <= 1e-5, `${name} vs previous path: ${relErr(old[i], wasm[i])}`));
    } finally {
      delete process.env.FAT2019_DEPTHWISE_C;
    }
    tf.setBackend('wasm');
  });
}

test('the depthwise forward kernels are installed on wasm', () => {
  const names = installedCustomKernels();
  for (const k of ['DepthwiseConv2dNative', 'FusedDepthwiseConv2D', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput']) {
    assert.ok(names.includes(`wasm:${k}`), k);
  }
});

test('tfjs wasm with FAT2019_THREADS=1: the depthwise C kernels run on the single-threaded binary\'s heap and match cpu', () => {
  const root = path.resolve(__dirname, '..', '..');
  const res = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'tests', 'fixtures', 'depthwiseOnTfjs.ts')], {
    cwd: root, env: { ...process.env, FAT2019_THREADS: '1' }, encoding: 'utf8', timeout: 120_000,
  });
  assert.equal(res.status, 0, `${res.stdout}\n${res.stderr}`);
  assert.match(res.stdout, /threads 1, depthwise kernels on plain memory: ok/);
});
