/**
 * Per-layer micro-benchmark of the C convolution kernels (trainKernels.c) at CNN-model-1's
 * full-width shapes (3×3, stride 1, same padding), batch 8, one thread, plain-memory build on a
 * memory of its own: forward conv (direct, conv2d_forward with packed weights; Winograd,
 * wino_weights + conv2d_wino) and the filter gradient (direct, conv2d_filter_grad; Winograd,
 * conv2d_wino_fgrad + wino_fgrad_out), in GFLOP/s of the
 * direct convolution (2·N·H·W·9·Ci·Co), best of --reps.
 *
 *   node --import tsx bench/conv-layers.ts [--reps 3]
 */
import os from 'node:os';
import { trainKernelsOnMemory, type TrainKernelExports } from '../lib/runtime/kernels/trainWasm';

const reps = Number(process.argv[process.argv.indexOf('--reps') + 1]) || 3;
const layers: Array<[number, number, number]> = [
  [128, 3, 64], [128, 64, 64], [64, 64, 128], [64, 128, 128], [32, 128, 256], [32, 256, 256], [16, 256, 512], [16, 512, 512],
];
const N = 8;
const memory = new WebAssembly.Memory({ initial: 16384 }); // 1 GiB
const k = trainKernelsOnMemory(memory) as TrainKernelExports;
let top = 65536;
function alloc(n: number): number {
  const p = top;
  top += Math.ceil((4 * n) / 64) * 64;
  return p;
}
function time(f: () => void): number {
  f();
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = process.hrtime.bigint();
    f();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e6);
  }
  return best;
}
console.log(`load: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
console.log('| HxW Ci→Co | GFLOP | forward direct | forward Winograd (max rel diff) | filter grad direct | filter grad Winograd (max rel diff) |');
console.log('|---|---|---|---|---|---|');
for (const [S, Ci, Co] of layers) {
  top = 65536;
  const x = alloc(N * S * S * Ci);
  const dy = alloc(N * S * S * Co);
  const w = alloc(9 * Ci * Co);
  const wp = alloc(9 * Ci * Co);
  const U = alloc(16 * Ci * Co);
  const y = alloc(N * S * S * Co);
  const y2 = alloc(N * S * S * Co);
  const z = alloc(Ci);
  const dw1 = alloc(9 * Ci * Co);
  const scr = alloc(16 * 256 * (Ci + Co));
  const acc = alloc(16 * Ci * Co);
  const dw2 = alloc(9 * Ci * Co);
  const f32 = new Float32Array(memory.buffer);
  const fill = (p: number, n: number) => { for (let i = p / 4; i < p / 4 + n; i++) f32[i] = Math.random() - 0.5; };
  fill(x, N * S * S * Ci); fill(dy, N * S * S * Co); fill(w, 9 * Ci * Co);
  f32.fill(0, z / 4, z / 4 + Ci);
  const flop = 2 * N * S * S * 9 * Ci * Co;
  const geo = [S, S, Ci, S, S, Co, 3, 3, 1, 1, 1, 1] as const;
  const pack = 9 * Ci * 8 * 4 > 16384;
  const tf = time(() => {
    if (pack) k.pack_w8(w, 9, Ci, Co, wp);
    k.conv2d_forward(x, w, pack ? wp : 0, 0, z, y, 0, N * S, ...geo, 0);
  });
  let tw = NaN;
  let diff = NaN;
  if (Ci % 4 === 0) {
    const tiles = N * Math.ceil(S / 2) * Math.ceil(S / 2);
    tw = time(() => {
      k.wino_weights(w, Ci, Co, U);
      k.conv2d_wino(x, U, 0, y2, scr, 0, tiles, S, S, Ci, Co, 0);
    });
    diff = 0;
    let scale = 0;
    for (let i = 0; i < N * S * S * Co; i++) scale = Math.max(scale, Math.abs(f32[y / 4 + i]));
    for (let i = 0; i < N * S * S * Co; i++) diff = Math.max(diff, Math.abs(f32[y / 4 + i] - f32[y2 / 4 + i]) / scale);
  }
  const t1 = time(() => k.conv2d_filter_grad(x, dy, dw1, 0, N, ...geo));
  let tg = NaN;
  let gdiff = NaN;
  if (Ci % 4 === 0) {
    const tiles = N * Math.ceil(S / 2) * Math.ceil(S / 2);
    tg = time(() => {
      k.conv2d_wino_fgrad(x, dy, acc, scr, 0, tiles, S, S, Ci, Co);
      k.wino_fgrad_out(acc, Ci, Co, dw2);
    });
    gdiff = 0;
    let scale = 0;
    for (let i = 0; i < 9 * Ci * Co; i++) scale = Math.max(scale, Math.abs(f32[dw1 / 4 + i]));
    for (let i = 0; i < 9 * Ci * Co; i++) gdiff = Math.max(gdiff, Math.abs(f32[dw1 / 4 + i] - f32[dw2 / 4 + i]) / scale);
  }
  const g = (t: number) => `${(flop / t / 1e6).toFixed(1)} (${t.toFixed(0)} ms)`;
  console.log(`| ${S}×${S} ${Ci}→${Co} | ${(flop / 1e9).toFixed(2)} | ${g(tf)} | ${Number.isNaN(tw) ? '—' : `${g(tw)} (${diff.toExponential(1)})`} | ${g(t1)} | ${Number.isNaN(tg) ? '—' : `${g(tg)} (${gdiff.toExponential(1)})`} |`);
}
console.log(`load: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
