/**
 * The helper thread of the C training kernels (lib/runtime/kernels/trainPool.ts) on a shared
 * memory of our own: a pair of calls and a range shared in chunks give the very bits of one
 * call on this thread, for ranges that do and do not divide into chunks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WASM_BASE64 as SHARED, EXPORTS } from '../../lib/runtime/kernels/wasm/trainKernelsShared.wasm';
import { helperFor, runPair, runShared } from '../../lib/runtime/kernels/trainPool';
import type { TrainKernelExports } from '../../lib/runtime/kernels/trainWasm';
import { Rng } from '../../lib/util/rng';

const rng = new Rng(23);

/** The shared build on a fresh shared memory, with its helper thread and a bump allocator. */
function setUp() {
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 1024, shared: true } as WebAssembly.MemoryDescriptor);
  const module = new WebAssembly.Module(Buffer.from(SHARED, 'base64'));
  const k = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as TrainKernelExports;
  const helper = helperFor(memory, module, EXPORTS);
  let next = 1024;
  const alloc = (n: number, init?: Float32Array): number => {
    const off = next;
    next += 4 * n + 64;
    if (init) new Float32Array(memory.buffer, off, n).set(init);
    return off;
  };
  const read = (off: number, n: number) => new Float32Array(memory.buffer, off, n).slice();
  return { k, helper, alloc, read };
}

const randn = (n: number) => Float32Array.from({ length: n }, () => rng.normal());

test('the helper thread starts on a shared memory', () => {
  assert.ok(setUp().helper, 'helperFor returned no helper');
});

test('runShared: a conv forward in chunks taken by both threads equals one call here, bit for bit', () => {
  const { k, helper, alloc, read } = setUp();
  // [N, H, W, Ci] → Co, 3×3 stride 1 'same': N·Ho rows, shared in chunks of one or more rows.
  for (const [N, H, W, Ci, Co] of [[4, 9, 7, 8, 16], [3, 5, 5, 4, 8], [1, 17, 3, 12, 8]]) {
    const x = alloc(N * H * W * Ci, randn(N * H * W * Ci));
    const w = alloc(9 * Ci * Co, randn(9 * Ci * Co));
    const bias = alloc(Co, randn(Co));
    const zeros = alloc(Ci, new Float32Array(Ci));
    const size = N * H * W * Co;
    const [yShared, yOne] = [alloc(size), alloc(size)];
    const geometry = [H, W, Ci, H, W, Co, 3, 3, 1, 1, 1, 1, 1];
    const rows = N * H;
    for (let rep = 0; rep < 20; rep++) {
      const args = [x, w, 0, bias, zeros, yShared, 0, rows, ...geometry];
      runShared(k, helper, 'conv2d_forward', args, args.slice(), 6, rows, 1);
    }
    k.conv2d_forward(x, w, 0, bias, zeros, yOne, 0, rows, ...(geometry as [number, number, number, number, number, number, number, number, number, number, number, number, number]));
    assert.deepEqual(read(yShared, size), read(yOne, size), `[${N},${H},${W},${Ci}]→${Co}`);
  }
});

test('runShared: per-thread scratch and a grain (Winograd tiles in whole blocks) give one call\'s bits', () => {
  const { k, helper, alloc, read } = setUp();
  const [N, H, W, Ci, Co] = [5, 14, 10, 8, 16];
  const tiles = N * Math.ceil(H / 2) * Math.ceil(W / 2);
  const x = alloc(N * H * W * Ci, randn(N * H * W * Ci));
  const w = alloc(9 * Ci * Co, randn(9 * Ci * Co));
  const U = alloc(16 * Ci * Co);
  k.wino_weights_blocks(w, Ci, Co, 0, Co / 8, U);
  const scratch = () => alloc(16 * 32 * (Ci + Co));
  const [s0, s1, s2] = [scratch(), scratch(), scratch()];
  const size = N * H * W * Co;
  const [yShared, yOne] = [alloc(size), alloc(size)];
  for (let rep = 0; rep < 20; rep++) {
    runShared(k, helper, 'conv2d_wino', [x, U, 0, yShared, s0, 0, tiles, H, W, Ci, Co, 1], [x, U, 0, yShared, s1, 0, tiles, H, W, Ci, Co, 1], 5, tiles, 32);
  }
  k.conv2d_wino(x, U, 0, yOne, s2, 0, tiles, H, W, Ci, Co, 1);
  assert.deepEqual(read(yShared, size), read(yOne, size));
});

test('runPair: the helper\'s half and this thread\'s half together equal one call', () => {
  const { k, helper, alloc, read } = setUp();
  const n = 10_001;
  const [dy, xs] = [alloc(n, randn(n)), alloc(n, randn(n))];
  const [dxPair, dxOne] = [alloc(n), alloc(n)];
  const h = 4 * Math.ceil(n / 8);
  runPair(k, helper, ['relu_grad', [dy, xs, h, dxPair]], ['relu_grad', [dy + 4 * h, xs + 4 * h, n - h, dxPair + 4 * h]]);
  k.relu_grad(dy, xs, n, dxOne);
  assert.deepEqual(read(dxPair, n), read(dxOne, n));
});

test('without a helper, runShared runs the whole range on this thread', () => {
  const { k, alloc, read } = setUp();
  const n = 64;
  const xv = randn(n);
  const x = alloc(n, xv);
  // A 1×1 convolution of one pixel row: 64 rows × 1 channel → 1 channel, weight 2.
  const w = alloc(1, Float32Array.of(2));
  const zeros = alloc(1, new Float32Array(1));
  const y = alloc(n);
  const args = [x, w, 0, 0, zeros, y, 0, 0, 1, n, 1, 1, n, 1, 1, 1, 1, 1, 0, 0, 0];
  runShared(k, null, 'conv2d_forward', args, args.slice(), 6, 1, 1);
  assert.deepEqual(read(y, n), Float32Array.from(xv, (v) => Math.fround(2 * v)));
});
