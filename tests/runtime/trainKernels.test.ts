/**
 * The C training kernels (lib/runtime/kernels/wasm/trainKernels.c) in both builds (plain memory
 * for tfjs' single-threaded SIMD binary, shared memory for the threaded one), run on a memory
 * of our own against plain JavaScript loops, odd sizes included; then through tfjs on wasm
 * against the cpu backend, and on the single-threaded binary in a child process.
 *
 * The modules import tfjs' memory, so they must never write outside the buffers they are given:
 * no data segments, no start function, and (checked on a sentinel-filled memory) nothing
 * touched but the outputs and the scratch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { WASM_BASE64 as PLAIN } from '../../lib/runtime/kernels/wasm/trainKernels.wasm';
import { WASM_BASE64 as SHARED } from '../../lib/runtime/kernels/wasm/trainKernelsShared.wasm';
import { WASM_BASE64 as PLAIN_RELAXED } from '../../lib/runtime/kernels/wasm/trainKernelsRelaxed.wasm';
import { WASM_BASE64 as SHARED_RELAXED } from '../../lib/runtime/kernels/wasm/trainKernelsSharedRelaxed.wasm';
import { wasmRelaxedSimdSupported } from '../../lib/wasm/load';
import { trainKernelsOnMemory, TrainKernelExports } from '../../lib/runtime/kernels/trainWasm';
import { columnSums } from '../../lib/runtime/kernels/reduce';
import { expandedSource } from '../../lib/wasm/sources';
import { Rng } from '../../lib/util/rng';

const root = path.resolve(__dirname, '..', '..');
const rng = new Rng(17);
const f = Math.fround;

function randn(n: number, scale = 1, shift = 0): Float32Array {
  return Float32Array.from({ length: n }, () => scale * rng.normal() + shift);
}

/** Section ids of a wasm binary. */
function sectionIds(bytes: Uint8Array): number[] {
  const ids: number[] = [];
  let i = 8;
  while (i < bytes.length) {
    const id = bytes[i++];
    let len = 0;
    let shift = 0;
    let b: number;
    do { b = bytes[i++]; len += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
    ids.push(id);
    i += len;
  }
  return ids;
}

test('trainKernelsShared.c builds the very code of trainKernels.c and its family files (one digest covers them all)', () => {
  const dir = path.join(root, 'lib/runtime/kernels/wasm');
  const plain = expandedSource(path.join(dir, 'trainKernels.c'));
  assert.ok(expandedSource(path.join(dir, 'trainKernelsShared.c')).includes(plain));
  for (const family of fs.readdirSync(dir).filter((f) => f.endsWith('.c') && !f.startsWith('trainKernels'))) {
    assert.ok(plain.includes(expandedSource(path.join(dir, family))), `trainKernels.c includes ${family}`);
  }
});

/**
 * The four builds: plain or shared memory, each with and without relaxed SIMD's fused
 * multiply-add (Node 20 runs relaxed SIMD once lib/wasm/load.ts has set V8's flag; the test
 * fails rather than skips where it cannot).
 */
const BUILDS = [
  { shared: false, relaxed: false }, { shared: true, relaxed: false }, { shared: false, relaxed: true }, { shared: true, relaxed: true },
] as const;
const buildLabel = (b: { shared: boolean; relaxed: boolean }) => `${b.shared ? 'shared' : 'plain'}-memory${b.relaxed ? ' relaxed-SIMD' : ''} build`;

test('relaxed SIMD runs here (Node 20 with the flag lib/wasm/load.ts sets, or a newer engine)', () => {
  assert.equal(wasmRelaxedSimdSupported(), true);
});

for (const [name, b64] of [['plain', PLAIN], ['shared', SHARED], ['plain relaxed', PLAIN_RELAXED], ['shared relaxed', SHARED_RELAXED]] as const) {
  test(`${name} build: imports its memory, has no data, start or data-count section`, () => {
    const bytes = Buffer.from(b64, 'base64');
    const ids = sectionIds(bytes);
    for (const bad of [8, 11, 12]) assert.ok(!ids.includes(bad), `section ${bad} present: ${ids}`);
    wasmRelaxedSimdSupported();
    const mod = new WebAssembly.Module(bytes);
    assert.deepEqual(WebAssembly.Module.imports(mod), [{ module: 'env', name: 'memory', kind: 'memory' }]);
  });
}

/** A bump allocator over a memory filled with a sentinel byte; checks nothing else changed. */
class Arena {
  readonly memory: WebAssembly.Memory;
  private next = 1024; // leave the low addresses (where a stack or data would go) as sentinel too
  private readonly writable: Array<[number, number]> = [];
  constructor(shared: boolean) {
    this.memory = shared
      ? new WebAssembly.Memory({ initial: 64, maximum: 256, shared: true } as WebAssembly.MemoryDescriptor)
      : new WebAssembly.Memory({ initial: 64 });
    new Uint8Array(this.memory.buffer).fill(0xa5);
  }
  alloc(n: number, init?: Float32Array, writable = true): number {
    const off = this.next + (16 - (this.next % 16)) % 16 + 4; // deliberately not 16-byte aligned
    this.next = off + 4 * n;
    if (init) new Float32Array(this.memory.buffer, off, n).set(init);
    if (writable) this.writable.push([off, off + 4 * n]);
    return off;
  }
  f32(off: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, off, n).slice();
  }
  /** Bytes outside the writable ranges and the inputs that differ from the sentinel. */
  strayWrites(inputs: Array<[number, number]>): number {
    const u8 = new Uint8Array(this.memory.buffer);
    const ok = [...this.writable, ...inputs];
    let stray = 0;
    for (let i = 0; i < u8.length; i++) {
      if (u8[i] === 0xa5) continue;
      if (!ok.some(([a, b]) => i >= a && i < b)) stray++;
    }
    return stray;
  }
}

/** JS oracle of the moments kernel (as lib/runtime/kernels/batchNormTraining.ts wasmMoments). */
function jsMoments(x: Float32Array, rows: number, cols: number): [Float32Array, Float32Array] {
  const acc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) acc[c] += x[r * cols + c];
  const mean = Float32Array.from(acc, (v) => v * (1 / rows));
  acc.fill(0);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) { const d = f(x[r * cols + c] - mean[c]); acc[c] += f(d * d); }
  return [mean, Float32Array.from(acc, (v) => v * (1 / rows))];
}

const shapes: Array<[number, number]> = [[1, 1], [5, 3], [33, 7], [64, 8], [17, 9], [3, 17], [40, 64], [2, 4100]];

for (const { shared, relaxed } of BUILDS) {
  const label = buildLabel({ shared, relaxed });
  test(`${label}: col_sums and moments equal the JavaScript loops bit for bit and write only their outputs`, () => {
    for (const [rows, cols] of shapes) {
      const arena = new Arena(shared);
      const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
      assert.ok(k);
      const xv = randn(rows * cols, 3, 2);
      const x = arena.alloc(rows * cols, xv, false);
      const acc = arena.alloc(2 * cols);
      const out = arena.alloc(cols);
      const mean = arena.alloc(cols);
      const variance = arena.alloc(cols);
      k.col_sums(x, rows, cols, acc, out, 1 / rows);
      const ref = new Float32Array(cols);
      columnSums(xv, rows, cols, ref, 1 / rows);
      assert.deepEqual(arena.f32(out, cols), ref, `${rows}×${cols}: col_sums`);
      k.moments(x, rows, cols, acc, mean, variance);
      const [m, v] = jsMoments(xv, rows, cols);
      assert.deepEqual(arena.f32(mean, cols), m, `${rows}×${cols}: mean`);
      assert.deepEqual(arena.f32(variance, cols), v, `${rows}×${cols}: variance`);
      assert.equal(arena.strayWrites([[x, x + 4 * rows * cols]]), 0, `${rows}×${cols}: stray writes`);
    }
  });

  test(`${label}: batch-norm forward and backward match float64 JavaScript references`, () => {
    for (const [rows, cols] of shapes) {
      const arena = new Arena(shared);
      const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
      const xv = randn(rows * cols, 2, 1);
      const dyv = randn(rows * cols);
      const gv = randn(cols);
      const bv = randn(cols);
      const eps = 1e-3;
      const n = rows * cols;
      const x = arena.alloc(n, xv, false);
      const dy = arena.alloc(n, dyv, false);
      const g = arena.alloc(cols, gv, false);
      const b = arena.alloc(cols, bv, false);
      const acc = arena.alloc(7 * cols);
      const [mean, variance, y, dx, dg, db] = [cols, cols, n, n, cols, cols].map((s) => arena.alloc(s));
      k.bn_train_forward(x, rows, cols, g, b, eps, acc, mean, variance, 0, y, 0);
      k.bn_train_backward(dy, x, rows, cols, mean, variance, g, eps, acc, dx, dg, db);
      // With relu: the same values, negatives (and −0) as +0.
      const yRelu = arena.alloc(n);
      k.bn_train_forward(x, rows, cols, g, b, eps, acc, mean, variance, 0, yRelu, 1);
      assert.deepEqual(arena.f32(yRelu, n), arena.f32(y, n).map((v) => (v > 0 ? v : 0)), `${rows}×${cols}: relu(y)`);
      // With a residual: f32(y + res) (as Add), then relu: the same bits as the ops one by one.
      const resv = randn(n, 7);
      const res = arena.alloc(n, resv, false);
      const ySum = arena.alloc(n);
      const yRes = arena.alloc(n);
      k.bn_train_forward(x, rows, cols, g, b, eps, acc, mean, variance, res, ySum, 0);
      k.bn_train_forward(x, rows, cols, g, b, eps, acc, mean, variance, res, yRes, 1);
      const sum = Float32Array.from(arena.f32(y, n), (v, i) => v + resv[i]);
      assert.deepEqual(arena.f32(ySum, n), sum, `${rows}×${cols}: y + res`);
      assert.deepEqual(arena.f32(yRes, n), sum.map((v) => (v > 0 ? v : 0)), `${rows}×${cols}: relu(y + res)`);
      // The helper's half: rows from h on, with the residual's rows from h on.
      const h = rows >> 1;
      const sd = arena.alloc(2 * cols);
      const yHalf = arena.alloc(n);
      k.bn_sd(variance, cols, eps, sd);
      k.bn_normalize(x, h, cols, mean, g, sd, b, res, yHalf, 1);
      k.bn_normalize(x + 4 * h * cols, rows - h, cols, mean, g, sd, b, res + 4 * h * cols, yHalf + 4 * h * cols, 1);
      assert.deepEqual(arena.f32(yHalf, n), arena.f32(yRes, n), `${rows}×${cols}: bn_normalize halves with a residual`);
      assert.equal(arena.strayWrites([[x, x + 4 * n], [dy, dy + 4 * n], [g, g + 4 * cols], [b, b + 4 * cols], [res, res + 4 * n]]), 0);
      // float64 references.
      const mu = new Float64Array(cols);
      const va = new Float64Array(cols);
      for (let i = 0; i < n; i++) mu[i % cols] += xv[i] / rows;
      for (let i = 0; i < n; i++) va[i % cols] += (xv[i] - mu[i % cols]) ** 2 / rows;
      const sDy = new Float64Array(cols);
      const sDyXc = new Float64Array(cols);
      for (let i = 0; i < n; i++) { sDy[i % cols] += dyv[i]; sDyXc[i % cols] += dyv[i] * (xv[i] - mu[i % cols]); }
      const yRef = new Float64Array(n);
      const dxRef = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const c = i % cols;
        const r = 1 / Math.sqrt(va[c] + eps);
        yRef[i] = (xv[i] - mu[c]) * r * gv[c] + bv[c];
        dxRef[i] = gv[c] * r * (dyv[i] - sDy[c] / rows - (xv[i] - mu[c]) * r * r * sDyXc[c] / rows);
      }
      const close = (got: Float32Array, ref: ArrayLike<number>, what: string, tol: number) => {
        for (let i = 0; i < ref.length; i++) {
          assert.ok(Math.abs(got[i] - ref[i]) <= tol * (1 + Math.abs(ref[i])), `${rows}×${cols} ${what}[${i}]: ${got[i]} vs ${ref[i]}`);
        }
      };
      close(arena.f32(mean, cols), mu, 'mean', 1e-5);
      close(arena.f32(variance, cols), va, 'variance', 1e-5);
      close(arena.f32(y, n), yRef, 'y', 1e-4);
      close(arena.f32(dx, n), dxRef, 'dx', 1e-3);
      close(arena.f32(db, cols), sDy, 'dbeta', 1e-4);
      close(arena.f32(dg, cols), Array.from(sDyXc, (s, c) => s / Math.sqrt(va[c] + eps)), 'dgamma', 1e-4);
    }
  });
}

/** Float64 JS oracle of conv2d_filter_grad (dilation 1). */
function jsFilterGrad(x: Float32Array, dy: Float32Array, N: number, H: number, W: number, Ci: number, Ho: number, Wo: number,
  Co: number, fh: number, fw: number, sh: number, sw: number, top: number, left: number): Float64Array {
  const out = new Float64Array(fh * fw * Ci * Co);
  for (let n = 0; n < N; n++) for (let i = 0; i < Ho; i++) for (let j = 0; j < Wo; j++) for (let a = 0; a < fh; a++) for (let b = 0; b < fw; b++) {
    const xi = i * sh + a - top;
    const xj = j * sw + b - left;
    if (xi < 0 || xi >= H || xj < 0 || xj >= W) continue;
    for (let ci = 0; ci < Ci; ci++) {
      const xv = x[((n * H + xi) * W + xj) * Ci + ci];
      for (let co = 0; co < Co; co++) out[((a * fw + b) * Ci + ci) * Co + co] += xv * dy[((n * Ho + i) * Wo + j) * Co + co];
    }
  }
  return out;
}

// [N, H, W, Ci, Co, fh, fw, sh, sw, top, left, Ho, Wo]: odd channel counts (4-/8-blocks and tails), strides, paddings.
const convCases: number[][] = [
  [2, 7, 9, 3, 5, 3, 3, 1, 1, 1, 1, 7, 9],
  [2, 7, 9, 3, 5, 3, 3, 2, 2, 1, 1, 4, 5],
  [3, 8, 8, 4, 6, 3, 3, 2, 2, 0, 0, 3, 3],
  [2, 13, 11, 17, 9, 3, 3, 1, 1, 1, 1, 13, 11],
  [2, 12, 9, 8, 16, 3, 3, 2, 2, 0, 1, 6, 5],
  [1, 9, 9, 3, 4, 3, 3, 2, 2, 1, 1, 5, 5],
  [2, 8, 7, 2, 3, 3, 3, 1, 1, 2, 1, 8, 8],
  [3, 11, 5, 5, 2, 1, 1, 2, 2, 0, 0, 6, 3],
  [2, 6, 6, 12, 24, 5, 3, 1, 2, 2, 1, 6, 3],
];

// Rows wide enough (W·Ci, Wo·Co = 16,640 floats) that conv2d_forward and conv2d_input_grad cut
// their rows into chunks of 4 (CONV_CHUNK_FLOATS), within each half of a row range.
const chunkCases: number[][] = [
  [2, 9, 260, 64, 8, 3, 3, 1, 1, 1, 1, 9, 260],
  [2, 9, 260, 8, 64, 3, 3, 1, 1, 1, 1, 9, 260],
];

// Few input channels with wide filters (the 7×7 stride-2 stem with 3, PANNs' 5×5 with 1): rows
// whose taps all fall inside the image run as one fw·Ci block in conv2d_forward and
// conv2d_filter_grad; padding wider than the filter's reach, rows of 4+ pixels with interiors.
const fewChannelCases: number[][] = [
  [2, 14, 21, 3, 8, 7, 7, 2, 2, 3, 3, 7, 11],
  [2, 9, 13, 1, 8, 5, 5, 1, 1, 2, 2, 9, 13],
  [1, 11, 17, 2, 12, 5, 3, 1, 2, 0, 1, 7, 9],
  [1, 6, 19, 5, 16, 3, 7, 2, 3, 1, 0, 3, 5],
  [2, 9, 12, 4, 4, 3, 3, 1, 1, 1, 1, 9, 12],
  [1, 8, 13, 12, 8, 3, 3, 1, 1, 1, 1, 8, 13],
];

for (const { shared, relaxed } of BUILDS) {
  test(`${buildLabel({ shared, relaxed })}: conv2d_filter_grad equals a float64 loop (strides, paddings, odd channels) and writes only dW`, () => {
    for (const [N, H, W, Ci, Co, fh, fw, sh, sw, top, left, Ho, Wo] of [...convCases, ...fewChannelCases]) {
      const arena = new Arena(shared);
      const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
      const xv = randn(N * H * W * Ci);
      const dyv = randn(N * Ho * Wo * Co);
      const x = arena.alloc(xv.length, xv, false);
      const dy = arena.alloc(dyv.length, dyv, false);
      const size = fh * fw * Ci * Co;
      const dw = arena.alloc(size);
      new Float32Array(arena.memory.buffer, dw, size).fill(7); // overwritten, not accumulated into
      k.conv2d_filter_grad(x, dy, dw, 0, N, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left);
      const ref = jsFilterGrad(xv, dyv, N, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left);
      const got = arena.f32(dw, size);
      for (let i = 0; i < size; i++) assert.ok(Math.abs(got[i] - ref[i]) <= 1e-4 * (1 + Math.abs(ref[i])), `${N},${H},${W},${Ci},${Co} stride ${sh}: dW[${i}] ${got[i]} vs ${ref[i]}`);
      assert.equal(arena.strayWrites([[x, x + 4 * xv.length], [dy, dy + 4 * dyv.length]]), 0);
      // Images [n0, n1) only: the two halves add up to the whole.
      if (N > 1) {
        const dw2 = arena.alloc(size);
        k.conv2d_filter_grad(x, dy, dw, 0, 1, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left);
        k.conv2d_filter_grad(x, dy, dw2, 1, N, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left);
        const a = arena.f32(dw, size);
        const b = arena.f32(dw2, size);
        for (let i = 0; i < size; i++) assert.ok(Math.abs(a[i] + b[i] - ref[i]) <= 1e-4 * (1 + Math.abs(ref[i])));
      }
    }
  });
}

// conv2d_filter_grad_taps (Ci % 4 == 0, Co % 8 == 0) on panels from pack_panels: small images
// with borders, strides, padding beyond the filter's reach (taps that meet no pixel: zeros),
// 1×1 and 5×3 filters, output-channel halves as the helper thread runs them.
const tapsCases: number[][] = [
  ...convCases.filter((c) => c[3] % 4 === 0 && c[4] % 8 === 0),
  [2, 4, 4, 8, 16, 3, 3, 1, 1, 1, 1, 4, 4],
  [3, 5, 5, 12, 24, 3, 3, 2, 2, 0, 0, 2, 2],
  [1, 3, 3, 4, 8, 3, 3, 1, 1, 2, 2, 5, 5],
  [2, 7, 6, 4, 8, 1, 1, 2, 2, 0, 0, 4, 3],
  [2, 6, 9, 8, 32, 5, 3, 1, 2, 2, 1, 6, 5],
];

for (const { shared, relaxed } of BUILDS) {
  test(`${buildLabel({ shared, relaxed })}: pack_panels + conv2d_filter_grad_taps equal a float64 loop (borders, strides, empty taps, channel halves) and write only dW and the panels`, () => {
    for (const [N, H, W, Ci, Co, fh, fw, sh, sw, top, left, Ho, Wo] of tapsCases) {
      const arena = new Arena(shared);
      const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
      const xv = randn(N * H * W * Ci);
      const dyv = randn(N * Ho * Wo * Co);
      const x = arena.alloc(xv.length, xv, false);
      const dy = arena.alloc(dyv.length, dyv, false);
      const xRows = N * H * W;
      const dRows = N * Ho * Wo;
      const xp = arena.alloc(xRows * Ci);
      const dp = arena.alloc(dRows * Co);
      const hx = xRows >> 1;
      k.pack_panels(x, xRows, 0, hx, Ci, 4, xp);
      k.pack_panels(x, xRows, hx, xRows, Ci, 4, xp);
      k.pack_panels(dy, dRows, 0, dRows, Co, 8, dp);
      const panels = arena.f32(xp, xRows * Ci);
      for (let r = 0; r < xRows; r++) for (let c = 0; c < Ci; c++) assert.equal(panels[((c >> 2) * xRows + r) * 4 + (c & 3)], xv[r * Ci + c]);
      const size = fh * fw * Ci * Co;
      const dw = arena.alloc(size);
      new Float32Array(arena.memory.buffer, dw, size).fill(7); // overwritten, not accumulated into
      const c = 8 * Math.ceil(Co / 16);
      k.conv2d_filter_grad_taps(xp, dp, dw, 0, c, N, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left);
      k.conv2d_filter_grad_taps(xp, dp, dw, c, Co, N, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left);
      const ref = jsFilterGrad(xv, dyv, N, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left);
      const got = arena.f32(dw, size);
      for (let i = 0; i < size; i++) assert.ok(Math.abs(got[i] - ref[i]) <= 1e-4 * (1 + Math.abs(ref[i])), `${N},${H},${W},${Ci},${Co} stride ${sh}: dW[${i}] ${got[i]} vs ${ref[i]}`);
      assert.equal(arena.strayWrites([[x, x + 4 * xv.length], [dy, dy + 4 * dyv.length]]), 0);
    }
  });
}

/** Float64 JS oracle of conv2d_input_grad: the transposed convolution, scattered from dy. */
function jsInputGrad(dy: Float32Array, w: Float32Array, N: number, H: number, W: number, Ci: number, Ho: number, Wo: number,
  Co: number, fh: number, fw: number, sh: number, sw: number, top: number, left: number): Float64Array {
  const dx = new Float64Array(N * H * W * Ci);
  for (let n = 0; n < N; n++) for (let i = 0; i < Ho; i++) for (let j = 0; j < Wo; j++) for (let a = 0; a < fh; a++) for (let b = 0; b < fw; b++) {
    const y = i * sh + a - top;
    const x = j * sw + b - left;
    if (y < 0 || y >= H || x < 0 || x >= W) continue;
    for (let ci = 0; ci < Ci; ci++) {
      let s = 0;
      for (let co = 0; co < Co; co++) s += dy[((n * Ho + i) * Wo + j) * Co + co] * w[((a * fw + b) * Ci + ci) * Co + co];
      dx[((n * H + y) * W + x) * Ci + ci] += s;
    }
  }
  return dx;
}

// Input-gradient cases beyond convCases: 1×1 stride 2 (pixels no tap reaches), 7×7 stride-2 stem
// (3 channels, padding 3), 5×5 'same' with 1 and 8 channels, stride-2 rows narrower than 4
// pixels per phase, a stride larger than the filter, 16+5 input channels.
const inputGradCases: number[][] = [
  ...convCases, ...chunkCases,
  ...fewChannelCases,
  [2, 8, 8, 16, 8, 1, 1, 2, 2, 0, 0, 4, 4],
  [1, 9, 7, 5, 11, 1, 1, 1, 1, 0, 0, 9, 7],
  [2, 14, 13, 3, 8, 7, 7, 2, 2, 3, 3, 7, 7],
  [2, 9, 10, 1, 8, 5, 5, 1, 1, 2, 2, 9, 10],
  [1, 6, 11, 8, 16, 5, 5, 1, 1, 2, 2, 6, 11],
  [2, 5, 3, 21, 8, 3, 3, 2, 2, 1, 1, 3, 2],
  [1, 7, 7, 8, 4, 2, 2, 3, 3, 0, 0, 2, 2],
  [1, 4, 4, 24, 16, 3, 3, 2, 2, 0, 0, 1, 1],
];

for (const { shared, relaxed } of BUILDS) {
  test(`${buildLabel({ shared, relaxed })}: conv2d_input_grad equals a float64 loop (strides, 1×1 to 7×7, odd channels, row ranges) and writes only dx`, () => {
    for (const [N, H, W, Ci, Co, fh, fw, sh, sw, top, left, Ho, Wo] of inputGradCases) {
      const arena = new Arena(shared);
      const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
      const dyv = randn(N * Ho * Wo * Co);
      const wv = randn(fh * fw * Ci * Co);
      const dy = arena.alloc(dyv.length, dyv, false);
      const w = arena.alloc(wv.length, wv, false);
      const zeros = arena.alloc(Co, new Float32Array(Co), false);
      const wpack = arena.alloc(fh * fw * Co * Ci);
      k.pack_wT8(w, fh, fw, Ci, Co, wpack);
      const size = N * H * W * Ci;
      const dx = arena.alloc(size);
      new Float32Array(arena.memory.buffer, dx, size).fill(7); // overwritten everywhere
      const rows = N * H;
      const half = Math.ceil(rows / 3);
      k.conv2d_input_grad(dy, wpack, zeros, dx, 0, half, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left);
      k.conv2d_input_grad(dy, wpack, zeros, dx, half, rows, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left);
      const ref = jsInputGrad(dyv, wv, N, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left);
      const got = arena.f32(dx, size);
      const what = `${N},${H},${W},${Ci}<-${Co} ${fh}x${fw} stride ${sh},${sw} pad ${top},${left}`;
      for (let i = 0; i < size; i++) assert.ok(Math.abs(got[i] - ref[i]) <= 1e-4 * (1 + Math.abs(ref[i])), `${what}: dx[${i}] ${got[i]} vs ${ref[i]}`);
      assert.equal(arena.strayWrites([[dy, dy + 4 * dyv.length], [w, w + 4 * wv.length], [zeros, zeros + 4 * Co]]), 0);
    }
  });
}

/** Float64 JS oracle of conv2d_forward. */
function jsConvForward(x: Float32Array, w: Float32Array, bias: Float32Array | null, N: number, H: number, W: number, Ci: number,
  Ho: number, Wo: number, Co: number, fh: number, fw: number, sh: number, sw: number, top: number, left: number, relu: boolean): Float64Array {
  const out = new Float64Array(N * Ho * Wo * Co);
  for (let n = 0; n < N; n++) for (let i = 0; i < Ho; i++) for (let j = 0; j < Wo; j++) for (let co = 0; co < Co; co++) {
    let s = bias ? bias[co] : 0;
    for (let a = 0; a < fh; a++) for (let b = 0; b < fw; b++) {
      const xi = i * sh + a - top;
      const xj = j * sw + b - left;
      if (xi < 0 || xi >= H || xj < 0 || xj >= W) continue;
      for (let ci = 0; ci < Ci; ci++) s += x[((n * H + xi) * W + xj) * Ci + ci] * w[((a * fw + b) * Ci + ci) * Co + co];
    }
    out[((n * Ho + i) * Wo + j) * Co + co] = relu ? Math.max(0, s) : s;
  }
  return out;
}

for (const { shared, relaxed } of BUILDS) {
  test(`${buildLabel({ shared, relaxed })}: conv2d_forward equals a float64 loop (borders, strides, channel tails, narrow rows, row ranges)`, () => {
    for (const [N, H, W, Ci, Co, fh, fw, sh, sw, top, left, Ho, Wo] of [...convCases, ...chunkCases, ...fewChannelCases, [2, 5, 3, 4, 16, 3, 3, 1, 1, 1, 1, 5, 3], [1, 9, 13, 1, 8, 3, 3, 1, 1, 0, 0, 7, 11]]) {
      for (const relu of [false, true]) {
        const arena = new Arena(shared);
        const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
        const xv = randn(N * H * W * Ci);
        const wv = randn(fh * fw * Ci * Co);
        const bv = randn(Co);
        const x = arena.alloc(xv.length, xv, false);
        const w = arena.alloc(wv.length, wv, false);
        const bias = arena.alloc(Co, bv, false);
        const zeros = arena.alloc(Ci, new Float32Array(Ci), false);
        // Packed weights (as conv2dForward uses them for large channel blocks) on the second pass.
        const wpack = arena.alloc(fh * fw * Ci * (Co & ~7) + 1);
        k.pack_w8(w, fh * fw, Ci, Co, wpack);
        const size = N * Ho * Wo * Co;
        const y = arena.alloc(size);
        const rows = N * Ho;
        const half = Math.ceil(rows / 2);
        // Two row ranges, as the main and the helper thread run them; no bias on the first pass.
        k.conv2d_forward(x, w, 0, 0, zeros, y, 0, half, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left, relu ? 1 : 0);
        k.conv2d_forward(x, w, 0, 0, zeros, y, half, rows, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left, relu ? 1 : 0);
        const what = `${N},${H},${W},${Ci}->${Co} stride ${sh},${sw} relu ${relu}`;
        const check = (got: Float32Array, ref: Float64Array) => {
          for (let i = 0; i < size; i++) assert.ok(Math.abs(got[i] - ref[i]) <= 1e-4 * (1 + Math.abs(ref[i])), `${what}: y[${i}] ${got[i]} vs ${ref[i]}`);
        };
        check(arena.f32(y, size), jsConvForward(xv, wv, null, N, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left, relu));
        k.conv2d_forward(x, w, wpack, bias, zeros, y, 0, rows, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left, relu ? 1 : 0);
        check(arena.f32(y, size), jsConvForward(xv, wv, bv, N, H, W, Ci, Ho, Wo, Co, fh, fw, sh, sw, top, left, relu));
        assert.equal(arena.strayWrites([[x, x + 4 * xv.length], [w, w + 4 * wv.length], [bias, bias + 4 * Co], [zeros, zeros + 4 * Ci]]), 0);
      }
    }
  });
}

for (const { shared, relaxed } of BUILDS) {
  test(`${buildLabel({ shared, relaxed })}: conv2d_wino (Winograd F(2×2,3×3)) equals a float64 loop (odd sizes, borders, tile ranges, several tile blocks)`, () => {
    // [N, H, W, Ci, Co]: 3×3, stride 1, padding 1; odd H/W (half tiles), 1-pixel images, tile
    // counts beyond one WINO_T (32) block and not a multiple of 4.
    for (const [N, H, W, Ci, Co] of [[2, 7, 9, 4, 8], [1, 1, 1, 8, 8], [3, 5, 2, 12, 16], [2, 18, 17, 8, 24], [1, 2, 3, 4, 8]]) {
      for (const relu of [false, true]) {
        const arena = new Arena(shared);
        const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
        const xv = randn(N * H * W * Ci);
        const wv = randn(9 * Ci * Co);
        const bv = randn(Co);
        const x = arena.alloc(xv.length, xv, false);
        const w = arena.alloc(wv.length, wv, false);
        const bias = arena.alloc(Co, bv, false);
        const U = arena.alloc(16 * Ci * Co);
        const s0 = arena.alloc(16 * 64 * (Ci + Co));
        const s1 = arena.alloc(16 * 64 * (Ci + Co));
        const size = N * H * W * Co;
        const y = arena.alloc(size);
        k.wino_weights(w, Ci, Co, U);
        const tiles = N * Math.ceil(H / 2) * Math.ceil(W / 2);
        const what = `${N},${H},${W},${Ci}->${Co} relu ${relu}`;
        const check = (got: Float32Array, ref: Float64Array) => {
          for (let i = 0; i < size; i++) assert.ok(Math.abs(got[i] - ref[i]) <= 1e-4 * (1 + Math.abs(ref[i])), `${what}: y[${i}] ${got[i]} vs ${ref[i]}`);
        };
        // Two tile ranges (main and helper thread), no bias; then all tiles with bias.
        const half = Math.ceil(tiles / 2);
        k.conv2d_wino(x, U, 0, y, s0, 0, half, H, W, Ci, Co, relu ? 1 : 0);
        k.conv2d_wino(x, U, 0, y, s1, half, tiles, H, W, Ci, Co, relu ? 1 : 0);
        check(arena.f32(y, size), jsConvForward(xv, wv, null, N, H, W, Ci, H, W, Co, 3, 3, 1, 1, 1, 1, relu));
        k.conv2d_wino(x, U, bias, y, s0, 0, tiles, H, W, Ci, Co, relu ? 1 : 0);
        check(arena.f32(y, size), jsConvForward(xv, wv, bv, N, H, W, Ci, H, W, Co, 3, 3, 1, 1, 1, 1, relu));
        // Halves of the channel blocks (as the two threads split few tiles): U built in two
        // parts equals U built whole, bit for bit; the output in two channel halves.
        const nb = Co / 8;
        const hb = nb >> 1;
        const U2 = arena.alloc(16 * Ci * Co);
        k.wino_weights_blocks(w, Ci, Co, hb, nb, U2);
        k.wino_weights_blocks(w, Ci, Co, 0, hb, U2);
        assert.deepEqual(arena.f32(U2, 16 * Ci * Co), arena.f32(U, 16 * Ci * Co));
        new Float32Array(arena.memory.buffer, y, size).fill(7);
        k.conv2d_wino_blocks(x, U2, bias, y, s0, 0, tiles, 0, hb, H, W, Ci, Co, relu ? 1 : 0);
        k.conv2d_wino_blocks(x, U2, bias, y, s1, 0, tiles, hb, nb, H, W, Ci, Co, relu ? 1 : 0);
        check(arena.f32(y, size), jsConvForward(xv, wv, bv, N, H, W, Ci, H, W, Co, 3, 3, 1, 1, 1, 1, relu));
        assert.equal(arena.strayWrites([[x, x + 4 * xv.length], [w, w + 4 * wv.length], [bias, bias + 4 * Co]]), 0);
      }
    }
  });
}

for (const { shared, relaxed } of BUILDS) {
  test(`${buildLabel({ shared, relaxed })}: conv2d_wino4 (Winograd F(4×4,3×3)) equals a float64 loop (odd sizes, borders, tile ranges, several tile blocks; error vs max |y| bounded)`, () => {
    // [N, H, W, Ci, Co]: 3×3, stride 1, padding 1; H, W not multiples of 4 (partial tiles),
    // 1-pixel images, tile counts beyond one WINO4_T (32) block and not a multiple of 4; 64
    // channels for the error bound at a realistic depth.
    for (const [N, H, W, Ci, Co] of [[2, 7, 9, 4, 8], [1, 1, 1, 8, 8], [3, 5, 2, 12, 16], [2, 18, 17, 8, 24], [1, 2, 3, 4, 8], [3, 22, 21, 4, 8], [1, 10, 11, 64, 64]]) {
      for (const relu of [false, true]) {
        const arena = new Arena(shared);
        const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
        const xv = randn(N * H * W * Ci);
        const wv = randn(9 * Ci * Co);
        const bv = randn(Co);
        const x = arena.alloc(xv.length, xv, false);
        const w = arena.alloc(wv.length, wv, false);
        const bias = arena.alloc(Co, bv, false);
        const U = arena.alloc(36 * Ci * Co);
        const s0 = arena.alloc(36 * 32 * (Ci + Co));
        const s1 = arena.alloc(36 * 32 * (Ci + Co));
        const size = N * H * W * Co;
        const y = arena.alloc(size);
        k.wino4_weights(w, Ci, Co, U);
        const tiles = N * Math.ceil(H / 4) * Math.ceil(W / 4);
        const what = `${N},${H},${W},${Ci}->${Co} relu ${relu}`;
        // Error relative to the largest |y| (Winograd's rounding scales with the sums' terms,
        // not with each output): F(4×4) measured 1e-6–6e-6 of max |y| at 8–64 channels, up to
        // 1.3e-5 at 256 (F(2×2) 1e-7–6e-7, direct 2e-7–2e-6).
        const check = (got: Float32Array, ref: Float64Array) => {
          let maxY = 0;
          let maxErr = 0;
          for (let i = 0; i < size; i++) {
            maxY = Math.max(maxY, Math.abs(ref[i]));
            maxErr = Math.max(maxErr, Math.abs(got[i] - ref[i]));
          }
          assert.ok(maxErr <= 2e-5 * maxY, `${what}: max error ${maxErr} vs max |y| ${maxY}`);
        };
        // Two tile ranges (main and helper thread), no bias; then all tiles with bias.
        const half = Math.ceil(tiles / 2);
        k.conv2d_wino4(x, U, 0, y, s0, 0, half, H, W, Ci, Co, relu ? 1 : 0);
        k.conv2d_wino4(x, U, 0, y, s1, half, tiles, H, W, Ci, Co, relu ? 1 : 0);
        check(arena.f32(y, size), jsConvForward(xv, wv, null, N, H, W, Ci, H, W, Co, 3, 3, 1, 1, 1, 1, relu));
        k.conv2d_wino4(x, U, bias, y, s0, 0, tiles, H, W, Ci, Co, relu ? 1 : 0);
        check(arena.f32(y, size), jsConvForward(xv, wv, bv, N, H, W, Ci, H, W, Co, 3, 3, 1, 1, 1, 1, relu));
        assert.equal(arena.strayWrites([[x, x + 4 * xv.length], [w, w + 4 * wv.length], [bias, bias + 4 * Co]]), 0);
      }
    }
  });
}

for (const { shared, relaxed } of BUILDS) {
  test(`${buildLabel({ shared, relaxed })}: conv2d_wino_fgrad + wino_fgrad_out (Winograd filter gradient) equal a float64 loop (odd sizes, tile ranges, several tile blocks)`, () => {
    // 3×3, stride 1, padding 1; odd H/W (half tiles of dy), 1-pixel images, tile counts beyond
    // one WINO_TF (32) block and not a multiple of it.
    for (const [N, H, W, Ci, Co] of [[2, 7, 9, 4, 8], [1, 1, 1, 8, 8], [3, 5, 2, 12, 16], [2, 18, 17, 8, 24], [1, 2, 3, 4, 8]]) {
      const arena = new Arena(shared);
      const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
      const xv = randn(N * H * W * Ci);
      const dyv = randn(N * H * W * Co);
      const x = arena.alloc(xv.length, xv, false);
      const dy = arena.alloc(dyv.length, dyv, false);
      const acc0 = arena.alloc(16 * Ci * Co);
      const acc1 = arena.alloc(16 * Ci * Co);
      const s = arena.alloc(16 * 32 * (Ci + Co));
      const size = 9 * Ci * Co;
      const dw = arena.alloc(size);
      const tiles = N * Math.ceil(H / 2) * Math.ceil(W / 2);
      const half = Math.ceil(tiles / 2);
      // Two tile ranges (main and helper thread), their sums added, as filterGradOp does.
      new Float32Array(arena.memory.buffer, acc1, 16 * Ci * Co).fill(7); // zeroed by the kernel, not accumulated into
      k.conv2d_wino_fgrad(x, dy, acc0, s, 0, half, H, W, Ci, Co);
      k.conv2d_wino_fgrad(x, dy, acc1, s, half, tiles, H, W, Ci, Co);
      k.f32_add(acc0, acc1, 16 * Ci * Co);
      k.wino_fgrad_out(acc0, Ci, Co, dw);
      const ref = jsFilterGrad(xv, dyv, N, H, W, Ci, H, W, Co, 3, 3, 1, 1, 1, 1);
      const got = arena.f32(dw, size);
      for (let i = 0; i < size; i++) assert.ok(Math.abs(got[i] - ref[i]) <= 1e-4 * (1 + Math.abs(ref[i])), `${N},${H},${W},${Ci}->${Co}: dW[${i}] ${got[i]} vs ${ref[i]}`);
      assert.equal(arena.strayWrites([[x, x + 4 * xv.length], [dy, dy + 4 * dyv.length]]), 0);
    }
  });
}
for (const { shared, relaxed } of BUILDS) {
  test(`${buildLabel({ shared, relaxed })}: conv2d_wino4_fgrad + wino4_fgrad_out (Winograd F(3×3, 4×4) filter gradient) equal a float64 loop (odd sizes, tile ranges, several tile blocks; error vs max |dW| bounded)`, () => {
    // 3×3, stride 1, padding 1; H, W not multiples of 4 (partial dy tiles), 1-pixel images,
    // tile counts beyond one WINO4_TF (32) block and not a multiple of it; 64 channels.
    for (const [N, H, W, Ci, Co] of [[2, 7, 9, 4, 8], [1, 1, 1, 8, 8], [3, 5, 2, 12, 16], [2, 18, 17, 8, 24], [3, 22, 21, 4, 8], [1, 10, 11, 64, 64]]) {
      const arena = new Arena(shared);
      const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
      const xv = randn(N * H * W * Ci);
      const dyv = randn(N * H * W * Co);
      const x = arena.alloc(xv.length, xv, false);
      const dy = arena.alloc(dyv.length, dyv, false);
      const acc0 = arena.alloc(36 * Ci * Co);
      const acc1 = arena.alloc(36 * Ci * Co);
      const s = arena.alloc(36 * (32 * (Ci + Co) + 32 + Ci));
      const size = 9 * Ci * Co;
      const dw = arena.alloc(size);
      const tiles = N * Math.ceil(H / 4) * Math.ceil(W / 4);
      const half = Math.ceil(tiles / 2);
      // Two tile ranges (main and helper thread), their sums added, as filterGradOp does.
      new Float32Array(arena.memory.buffer, acc1, 36 * Ci * Co).fill(7); // zeroed by the kernel, not accumulated into
      k.conv2d_wino4_fgrad(x, dy, acc0, s, 0, half, H, W, Ci, Co);
      k.conv2d_wino4_fgrad(x, dy, acc1, s, half, tiles, H, W, Ci, Co);
      k.f32_add(acc0, acc1, 36 * Ci * Co);
      k.wino4_fgrad_out(acc0, Ci, Co, dw);
      const ref = jsFilterGrad(xv, dyv, N, H, W, Ci, H, W, Co, 3, 3, 1, 1, 1, 1);
      const got = arena.f32(dw, size);
      let maxRef = 0;
      let maxErr = 0;
      for (let i = 0; i < size; i++) {
        maxRef = Math.max(maxRef, Math.abs(ref[i]));
        maxErr = Math.max(maxErr, Math.abs(got[i] - ref[i]));
      }
      assert.ok(maxErr <= 2e-5 * maxRef, `${N},${H},${W},${Ci}->${Co}: max error ${maxErr} vs max |dW| ${maxRef}`);
      assert.equal(arena.strayWrites([[x, x + 4 * xv.length], [dy, dy + 4 * dyv.length]]), 0);
    }
  });
}


/** [N, H, W, Ci, Co] of the 5×5 Winograd cases: odd H/W (half tiles), 1-pixel and 2-pixel images (patches mostly outside), tile counts beyond one 32-tile block and not a multiple of 4. */
const WINO5_CASES = [[2, 7, 9, 4, 8], [1, 1, 1, 8, 8], [3, 5, 2, 12, 16], [2, 18, 17, 8, 24], [1, 2, 3, 4, 8], [1, 6, 11, 16, 8]];

for (const { shared, relaxed } of BUILDS) {
  test(`${buildLabel({ shared, relaxed })}: conv2d_wino5 (Winograd F(2×2,5×5)) equals a float64 loop (odd sizes, borders, tile ranges, several tile blocks)`, () => {
    for (const [N, H, W, Ci, Co] of WINO5_CASES) {
      for (const relu of [false, true]) {
        const arena = new Arena(shared);
        const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
        const xv = randn(N * H * W * Ci);
        const wv = randn(25 * Ci * Co);
        const bv = randn(Co);
        const x = arena.alloc(xv.length, xv, false);
        const w = arena.alloc(wv.length, wv, false);
        const bias = arena.alloc(Co, bv, false);
        const U = arena.alloc(36 * (Ci * Co + 16)); // 36 blocks padded by 16 floats (W5_PAD)
        const s0 = arena.alloc(36 * (32 * (Ci + Co) + 32));
        const s1 = arena.alloc(36 * (32 * (Ci + Co) + 32));
        const size = N * H * W * Co;
        const y = arena.alloc(size);
        k.wino5_weights(w, Ci, Co, U);
        const tiles = N * Math.ceil(H / 2) * Math.ceil(W / 2);
        const what = `${N},${H},${W},${Ci}->${Co} relu ${relu}`;
        // Winograd's error scales with the largest |y| (the transforms add and cancel terms of
        // that size; 1.2e-6 of it in a float32 simulation over 256 channels), so small outputs
        // get 2e-5 of the largest on top of the usual bound.
        const check = (got: Float32Array, ref: Float64Array) => {
          const top = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
          for (let i = 0; i < size; i++) {
            assert.ok(Math.abs(got[i] - ref[i]) <= 1e-4 * (1 + Math.abs(ref[i])) + 2e-5 * top, `${what}: y[${i}] ${got[i]} vs ${ref[i]}`);
          }
        };
        // Two tile ranges (main and helper thread), no bias; then all tiles with bias.
        const half = Math.ceil(tiles / 2);
        k.conv2d_wino5(x, U, 0, y, s0, 0, half, H, W, Ci, Co, relu ? 1 : 0, 32);
        k.conv2d_wino5(x, U, 0, y, s1, half, tiles, H, W, Ci, Co, relu ? 1 : 0, 32);
        check(arena.f32(y, size), jsConvForward(xv, wv, null, N, H, W, Ci, H, W, Co, 5, 5, 1, 1, 2, 2, relu));
        k.conv2d_wino5(x, U, bias, y, s0, 0, tiles, H, W, Ci, Co, relu ? 1 : 0, 8); // 8-tile blocks
        check(arena.f32(y, size), jsConvForward(xv, wv, bv, N, H, W, Ci, H, W, Co, 5, 5, 1, 1, 2, 2, relu));
        assert.equal(arena.strayWrites([[x, x + 4 * xv.length], [w, w + 4 * wv.length], [bias, bias + 4 * Co]]), 0);
      }
    }
  });
}

for (const { shared, relaxed } of BUILDS) {
  test(`${buildLabel({ shared, relaxed })}: conv2d_wino5_fgrad + wino5_fgrad_out (Winograd F(5×5,2×2) filter gradient) equal a float64 loop (odd sizes, tile ranges, several tile blocks)`, () => {
    for (const [N, H, W, Ci, Co] of WINO5_CASES) {
      const arena = new Arena(shared);
      const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
      const xv = randn(N * H * W * Ci);
      const dyv = randn(N * H * W * Co);
      const x = arena.alloc(xv.length, xv, false);
      const dy = arena.alloc(dyv.length, dyv, false);
      const acc0 = arena.alloc(36 * (Ci * Co + 16));
      const acc1 = arena.alloc(36 * (Ci * Co + 16));
      const s = arena.alloc(36 * (32 * (Ci + Co) + 32));
      const size = 25 * Ci * Co;
      const dw = arena.alloc(size);
      const tiles = N * Math.ceil(H / 2) * Math.ceil(W / 2);
      const half = Math.ceil(tiles / 2);
      // Two tile ranges (main and helper thread), their sums added, as trainWasm.ts' winograd5FilterGrad does.
      new Float32Array(arena.memory.buffer, acc1, 36 * (Ci * Co + 16)).fill(7); // zeroed by the kernel, not accumulated into
      k.conv2d_wino5_fgrad(x, dy, acc0, s, 0, half, H, W, Ci, Co, 32);
      k.conv2d_wino5_fgrad(x, dy, acc1, s, half, tiles, H, W, Ci, Co, 7); // 7-tile blocks
      k.f32_add(acc0, acc1, 36 * (Ci * Co + 16));
      k.wino5_fgrad_out(acc0, Ci, Co, dw);
      const ref = jsFilterGrad(xv, dyv, N, H, W, Ci, H, W, Co, 5, 5, 1, 1, 2, 2);
      const got = arena.f32(dw, size);
      // Winograd's error scales with the largest |dW| (the transforms add and cancel terms of
      // that size): measured up to 5.4e-6 of it here (the 2×2-tile 3×3 version: within 1e-4 of
      // each value), so small entries get 2e-5 of the largest on top of the usual bound.
      const top = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      for (let i = 0; i < size; i++) {
        assert.ok(Math.abs(got[i] - ref[i]) <= 1e-4 * (1 + Math.abs(ref[i])) + 2e-5 * top, `${N},${H},${W},${Ci}->${Co}: dW[${i}] ${got[i]} vs ${ref[i]}`);
      }
      assert.equal(arena.strayWrites([[x, x + 4 * xv.length], [dy, dy + 4 * dyv.length]]), 0);
    }
  });
}

for (const { shared, relaxed } of BUILDS) {
  const label = buildLabel({ shared, relaxed });
  test(`${label}: bn_running_update equals float32 JavaScript (tfjs' update, PyTorch's unbiased one) and writes only its outputs`, () => {
    for (const cols of [1, 3, 8, 17]) {
      for (const unbiased of [0, 1]) {
        const arena = new Arena(shared);
        const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
        const [muv, s2v, mv, vv] = [randn(cols), randn(cols).map(Math.abs), randn(cols), randn(cols).map((v) => 1 + Math.abs(v))];
        const [mu, s2, m, v] = [muv, s2v, mv, vv].map((a) => arena.alloc(cols, a, false));
        const [mOut, vOut] = [arena.alloc(cols), arena.alloc(cols)];
        const momentum = 0.9;
        const count = 7 * cols;
        const factor = count / (count - 1);
        k.bn_running_update(mu, s2, m, v, cols, 1 - momentum, momentum, factor, unbiased, mOut, vOut);
        const [dc, mo, fa] = [f(1 - momentum), f(momentum), f(factor)];
        const refMean = Float32Array.from(mv, (x, c) => f(x - f(f(x - muv[c]) * dc)));
        const refVar = Float32Array.from(vv, (x, c) => {
          const v1 = f(x - f(f(x - s2v[c]) * dc));
          const base = f(x * mo);
          return unbiased ? f(base + f(f(v1 - base) * fa)) : v1;
        });
        assert.deepEqual(arena.f32(mOut, cols), refMean, `${cols} cols: mean`);
        assert.deepEqual(arena.f32(vOut, cols), refVar, `${cols} cols, unbiased ${unbiased}: variance`);
        assert.equal(arena.strayWrites([mu, s2, m, v].map((o) => [o, o + 4 * cols] as [number, number])), 0);
      }
    }
  });

  test(`${label}: grad_accumulate (first: acc = g·w, then acc += g·w in place) equals float32 JavaScript and writes only acc`, () => {
    const arena = new Arena(shared);
    const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
    const sizes = [1, 6, 33];
    const w = 0.3;
    const gs = sizes.map((n) => [randn(n), randn(n, 100)]);
    const g = gs.map(([a, b]) => [arena.alloc(a.length, a, false), arena.alloc(b.length, b, false)]);
    const acc = sizes.map((n) => arena.alloc(n));
    const table = arena.alloc(3 * sizes.length, undefined, false);
    const words = new Uint32Array(arena.memory.buffer, table, 3 * sizes.length);
    for (const step of [0, 1]) {
      sizes.forEach((n, i) => words.set([acc[i], g[i][step], n], 3 * i));
      k.grad_accumulate(table, sizes.length, w, step === 0 ? 1 : 0);
    }
    const fw = f(w);
    sizes.forEach((n, i) => {
      const ref = Float32Array.from(gs[i][0], (v, j) => f(f(v * fw) + f(gs[i][1][j] * fw)));
      assert.deepEqual(arena.f32(acc[i], n), ref, `size ${n}`);
    });
    const inputs = g.flatMap(([a, b], i) => [[a, a + 4 * sizes[i]], [b, b + 4 * sizes[i]]] as Array<[number, number]>);
    assert.equal(arena.strayWrites([...inputs, [table, table + 12 * sizes.length]]), 0);
  });

  test(`${label}: adamw_all updates a table of parameters (moments in place) as float32 JavaScript, and writes only p', m, v`, () => {
    const arena = new Arena(shared);
    const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
    const sizes = [1, 7, 33, 4];
    const consts = { b1: 0.85, b2: 0.99, sq: Math.sqrt(1 - 0.99 ** 3), eps: 1e-8 };
    const params = sizes.map((n, i) => {
      const [pv, gv, mv] = [randn(n), randn(n).map((v, j) => (j % 5 === 0 ? 0 : v)), randn(n, 0.1)];
      const vv = randn(n, 0.01).map(Math.abs);
      return {
        n, pv, gv, mv, vv, decay: 1 - 1e-3 * (i + 1) * 0.01, stepSize: 1e-3 * (i + 1),
        p: arena.alloc(n, pv, false), g: arena.alloc(n, gv, false), m: arena.alloc(n, mv), v: arena.alloc(n, vv), pOut: arena.alloc(n),
      };
    });
    const ENTRY = 8;
    const table = arena.alloc(ENTRY * sizes.length, undefined, false);
    const words = new Uint32Array(arena.memory.buffer, table, ENTRY * sizes.length);
    const floats = new Float32Array(arena.memory.buffer, table, ENTRY * sizes.length);
    params.forEach((q, i) => {
      words.set([q.p, q.g, q.m, q.v, q.pOut, q.n], ENTRY * i);
      floats[ENTRY * i + 6] = q.decay;
      floats[ENTRY * i + 7] = q.stepSize;
    });
    k.adamw_all(table, sizes.length, consts.b1, 1 - consts.b1, consts.b2, 1 - consts.b2, consts.sq, consts.eps);
    const [b1, ob1, b2, ob2, sq, eps] = [consts.b1, 1 - consts.b1, consts.b2, 1 - consts.b2, consts.sq, consts.eps].map(f);
    for (const q of params) {
      const [dc, ss] = [f(q.decay), f(q.stepSize)];
      const m = Float32Array.from(q.gv, (g, j) => f(f(q.mv[j] * b1) + f(g * ob1)));
      const v = Float32Array.from(q.gv, (g, j) => f(f(q.vv[j] * b2) + f(f(g * g) * ob2)));
      const p = Float32Array.from(q.pv, (x, j) => f(f(x * dc) - f(f(m[j] / f(f(f(Math.sqrt(v[j])) / sq) + eps)) * ss)));
      assert.deepEqual(arena.f32(q.m, q.n), m, `size ${q.n}: m`);
      assert.deepEqual(arena.f32(q.v, q.n), v, `size ${q.n}: v`);
      assert.deepEqual(arena.f32(q.pOut, q.n), p, `size ${q.n}: p`);
      assert.deepEqual(arena.f32(q.p, q.n), q.pv, `size ${q.n}: p itself unchanged`);
    }
    const inputs = params.flatMap((q) => [[q.p, q.p + 4 * q.n], [q.g, q.g + 4 * q.n]] as Array<[number, number]>);
    assert.equal(arena.strayWrites([...inputs, [table, table + 4 * ENTRY * sizes.length]]), 0);
  });
}

for (const threads of [1, 2]) {
  test(`tfjs wasm with FAT2019_THREADS=${threads}: the C kernels run in place on its heap; Sum, Mean, batch-norm values and gradients match cpu`, () => {
    const script = path.join(root, 'tests', 'fixtures', 'trainKernelsOnTfjs.ts');
    const res = spawnSync(process.execPath, ['--import', 'tsx', script], {
      cwd: root, env: { ...process.env, FAT2019_THREADS: String(threads) }, encoding: 'utf8', timeout: 120_000,
    });
    assert.equal(res.status, 0, `${res.stdout}\n${res.stderr}`);
    const shared = threads > 1 && typeof SharedArrayBuffer !== 'undefined';
    assert.match(res.stdout, new RegExp(`kernels on ${shared ? 'shared' : 'plain'} memory: ok`));
  });
}

/** JS oracle of max_pool_grad: float32 adds of dy at each window's first maximum, in window order. */
function jsMaxPoolGrad(x: Float32Array, dy: Float32Array, N: number, H: number, W: number, C: number, Ho: number, Wo: number,
  fh: number, fw: number, sh: number, sw: number, top: number, left: number): Float32Array {
  const dx = new Float32Array(N * H * W * C);
  for (let n = 0; n < N; n++) for (let oy = 0; oy < Ho; oy++) for (let ox = 0; ox < Wo; ox++) for (let c = 0; c < C; c++) {
    let best = -Infinity;
    let at = -1;
    for (let y = Math.max(0, oy * sh - top); y < Math.min(H, oy * sh - top + fh); y++) {
      for (let xx = Math.max(0, ox * sw - left); xx < Math.min(W, ox * sw - left + fw); xx++) {
        const i = ((n * H + y) * W + xx) * C + c;
        if (x[i] > best) { best = x[i]; at = i; }
      }
    }
    if (at >= 0) dx[at] += dy[((n * Ho + oy) * Wo + ox) * C + c];
  }
  return dx;
}

/** JS oracle of avg_pool_grad: float64 sum of the covering windows' dy, times 1/(fh·fw). */
function jsAvgPoolGrad(dy: Float32Array, N: number, H: number, W: number, C: number, Ho: number, Wo: number,
  fh: number, fw: number, sh: number, sw: number, top: number, left: number): Float32Array {
  const acc = new Float64Array(N * H * W * C);
  for (let n = 0; n < N; n++) for (let oy = 0; oy < Ho; oy++) for (let ox = 0; ox < Wo; ox++) for (let c = 0; c < C; c++) {
    for (let y = Math.max(0, oy * sh - top); y < Math.min(H, oy * sh - top + fh); y++) {
      for (let xx = Math.max(0, ox * sw - left); xx < Math.min(W, ox * sw - left + fw); xx++) {
        acc[((n * H + y) * W + xx) * C + c] += dy[((n * Ho + oy) * Wo + ox) * C + c];
      }
    }
  }
  return Float32Array.from(acc, (v) => v * (1 / (fh * fw)));
}

// [N, H, W, C, fh, fw, sh, sw, top, left(, Ho, Wo)]: overlapping, padded, non-square, tiling and whole-axis windows, channel tails.
const poolCases: number[][] = [
  [2, 9, 9, 8, 3, 3, 2, 2, 0, 0],
  [3, 8, 7, 5, 3, 3, 2, 2, 1, 1],
  [2, 8, 6, 3, 4, 1, 4, 1, 0, 0],
  [2, 4, 9, 9, 1, 3, 1, 3, 0, 0],
  [1, 5, 5, 4, 1, 1, 1, 1, 0, 0],
  [2, 7, 5, 6, 2, 2, 2, 2, 0, 0],
  [2, 6, 6, 12, 3, 3, 1, 1, 1, 1],
  [2, 8, 3, 4, 8, 1, 8, 1, 0, 0],
  [2, 9, 7, 8, 2, 3, 2, 3, 0, 0], // tiling windows, a row and a column left uncovered
  [2, 7, 9, 8, 2, 2, 2, 2, 0, 0, 4, 5], // 'same' on odd sizes: padding after only, the last windows cut
];
const poolOut = (H: number, f: number, s: number, pad: number) => Math.floor((H + 2 * pad - f) / s) + 1;

for (const { shared, relaxed } of BUILDS) {
  const label = buildLabel({ shared, relaxed });
  test(`${label}: max_pool_grad and avg_pool_grad equal JavaScript loops bit for bit (split ranges) and write only dx`, () => {
    for (const [N, H, W, C, fh, fw, sh, sw, top, left, outH, outW] of poolCases) {
      const arena = new Arena(shared);
      const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
      const Ho = outH ?? poolOut(H, fh, sh, top);
      const Wo = outW ?? poolOut(W, fw, sw, left);
      // Ties, all-negative windows and a NaN.
      const xv = Float32Array.from(randn(N * H * W * C), (v, i) => (i % 11 === 0 ? Math.round(v) : i % 17 === 0 ? -Math.abs(v) - 5 : v));
      xv[5] = NaN;
      const dyv = Float32Array.from(randn(N * Ho * Wo * C), (v, i) => (i % 7 === 3 ? -0 : v)); // 0 + (−0) is +0
      const x = arena.alloc(xv.length, xv, false);
      const dy = arena.alloc(dyv.length, dyv, false);
      const dx = arena.alloc(xv.length);
      new Float32Array(arena.memory.buffer, dx, xv.length).fill(7); // overwritten, not accumulated into
      const geometry = [H, W, C, Ho, Wo, fh, fw, sh, sw, top, left] as const;
      const what = `${N},${H},${W},${C} window ${fh}×${fw} stride ${sh},${sw} pad ${top},${left}`;
      const half = Math.ceil(N / 2);
      k.max_pool_grad(dy, x, dx, 0, half, ...geometry);
      k.max_pool_grad(dy, x, dx, half, N, ...geometry);
      assert.deepEqual(arena.f32(dx, xv.length), jsMaxPoolGrad(xv, dyv, N, H, W, C, Ho, Wo, fh, fw, sh, sw, top, left), `${what}: max`);
      const rows = N * H;
      const mid = Math.ceil(rows / 2) + 1;
      new Float32Array(arena.memory.buffer, dx, xv.length).fill(7);
      k.avg_pool_grad(dy, dx, 0, mid, ...geometry, 1 / (fh * fw));
      k.avg_pool_grad(dy, dx, mid, rows, ...geometry, 1 / (fh * fw));
      assert.deepEqual(arena.f32(dx, xv.length), jsAvgPoolGrad(dyv, N, H, W, C, Ho, Wo, fh, fw, sh, sw, top, left), `${what}: avg`);
      assert.equal(arena.strayWrites([[x, x + 4 * xv.length], [dy, dy + 4 * dyv.length]]), 0, what);
    }
  });

  test(`${label}: clip_grad, slice_rows and pad_rows equal JavaScript loops (odd sizes, split ranges) and write only their outputs`, () => {
    const arena = new Arena(shared);
    const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
    // clip_grad: x on and beyond both bounds, NaN; odd length, two ranges.
    const n = 39;
    const xv = Float32Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 0 : i % 7 === 1 ? 6 : i === 20 ? NaN : 4 * rng.normal() + 3));
    const dyv = randn(n);
    const x = arena.alloc(n, xv, false);
    const dy = arena.alloc(n, dyv, false);
    const dx = arena.alloc(n);
    k.clip_grad(dy, x, 17, 0, 6, dx);
    k.clip_grad(dy + 68, x + 68, n - 17, 0, 6, dx + 68);
    assert.deepEqual(arena.f32(dx, n), Float32Array.from(xv, (v, i) => (v >= 0 && v <= 6 ? dyv[i] : 0)));
    // slice_rows: [2, 3, 4, 5] → rows of 3 from begin [1, 1, 0, 2], size [1, 2, 4, 3], viewed as [1, 2, 4, 3].
    const sv = randn(120);
    const src = arena.alloc(120, sv, false);
    const out = arena.alloc(24);
    const off = 60 + 20 + 2;
    k.slice_rows(src + 4 * off, out, 0, 3, 2, 4, 3, 0, 20, 5);
    k.slice_rows(src + 4 * off, out, 3, 8, 2, 4, 3, 0, 20, 5);
    const ref: number[] = [];
    for (let b = 1; b < 3; b++) for (let c = 0; c < 4; c++) for (let d = 2; d < 5; d++) ref.push(sv[60 + b * 20 + c * 5 + d]);
    assert.deepEqual(arena.f32(out, 24), Float32Array.from(ref));
    // pad_rows: x [2, 3, 2, 5] padded by [1,0], [0,2], [1,1], [2,3] with 1.5 → [3, 5, 4, 10], in two row ranges.
    const pv = randn(60);
    const px = arena.alloc(60, pv, false);
    const pout = arena.alloc(600);
    const bits = new Uint32Array(Float32Array.of(1.5).buffer)[0];
    const args = [5, 4, 10, 2, 3, 2, 5, 1, 0, 1, 2, bits] as const;
    k.pad_rows(px, pout, 0, 29, ...args);
    k.pad_rows(px, pout, 29, 60, ...args);
    const pref = new Float32Array(600).fill(1.5);
    for (let a = 0; a < 2; a++) for (let b = 0; b < 3; b++) for (let c = 0; c < 2; c++) for (let d = 0; d < 5; d++) {
      pref[(((a + 1) * 5 + b) * 4 + c + 1) * 10 + d + 2] = pv[((a * 3 + b) * 2 + c) * 5 + d];
    }
    assert.deepEqual(arena.f32(pout, 600), pref);
    assert.equal(arena.strayWrites([[x, x + 4 * n], [dy, dy + 4 * n], [src, src + 480], [px, px + 240]]), 0);
  });

  test(`${label}: relu_f32, neg_f32 and abs_f32 equal JavaScript (±0, NaN, ±∞, odd sizes, split ranges) and write only y`, () => {
    const arena = new Arena(shared);
    const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
    const special = [0, -0, NaN, Infinity, -Infinity];
    const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.buffer));
    const refs = {
      relu_f32: (v: number) => (v > 0 || Number.isNaN(v) ? v : 0),
      neg_f32: (v: number) => -v,
      abs_f32: (v: number) => Math.abs(v),
    } as const;
    const inputs: Array<[number, number]> = [];
    for (const n of [1, 3, 4, 39]) {
      const xv = Float32Array.from({ length: n }, (_, i) => (i % 4 === 1 ? special[i % special.length] : rng.normal()));
      const x = arena.alloc(n, xv, false);
      inputs.push([x, x + 4 * n]);
      for (const [name, f] of Object.entries(refs) as Array<[keyof typeof refs, (v: number) => number]>) {
        const y = arena.alloc(n);
        const h = n >> 1;
        k[name](x, h, y);
        k[name](x + 4 * h, n - h, y + 4 * h);
        const want = Float32Array.from(xv, f);
        // NaN's sign: neg flips it, abs clears it (as the stock XNNPACK kernels).
        if (name !== 'relu_f32') assert.deepEqual(bitsOf(arena.f32(y, n)), bitsOf(want), `${name} ${n}: bits`);
        else assert.deepEqual(arena.f32(y, n), want, `${name} ${n}`);
      }
      assert.equal(arena.strayWrites(inputs), 0, `${n}: stray writes`);
    }
  });

  test(`${label}: repeat_channels equals a JavaScript loop (1 to 4 channels, odd pixel counts, split ranges) and writes only out`, () => {
    const arena = new Arena(shared);
    const k = trainKernelsOnMemory(arena.memory, relaxed) as TrainKernelExports;
    const inputs: Array<[number, number]> = [];
    for (const pixels of [1, 5, 13, 64]) {
      const xv = randn(pixels);
      const x = arena.alloc(pixels, xv, false);
      inputs.push([x, x + 4 * pixels]);
      for (const channels of [1, 2, 3, 4]) {
        const out = arena.alloc(pixels * channels);
        const h = Math.min(pixels, 3);
        k.repeat_channels(x, 0, h, channels, out);
        k.repeat_channels(x, h, pixels, channels, out);
        assert.deepEqual(arena.f32(out, pixels * channels), Float32Array.from({ length: pixels * channels }, (_, i) => xv[Math.floor(i / channels)]),
          `${pixels} pixels × ${channels}`);
      }
      assert.equal(arena.strayWrites(inputs), 0, `${pixels}: stray writes`);
    }
  });
}
