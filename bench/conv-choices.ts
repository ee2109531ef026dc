/**
 * A/B of the convolution kernels' per-shape choices (lib/runtime/kernels/trainWasm.ts), through
 * the tfjs kernels on the wasm backend (2 threads, helper thread on): forward (f), input gradient
 * (i) and filter gradient (g) of ResNet/XResNet's full-width layers at micro-batch 8 and of
 * ResNet's width-1/8 layers at batch 32, each op under each value of one environment switch
 * (read per call), interleaved round by round in one process; best wall ms / best CPU ms (both threads) of --rounds. CPU time is the steadier
 * figure on a shared VM.
 *
 *   node --import tsx bench/conv-choices.ts [--var FAT2019_WINOGRAD] [--modes 0,all,] [--ops f,i,g]
 *     [--layers 0,3,5] [--rounds 5]
 *
 * e.g. --var FAT2019_FILTER_GRAD --modes taps,rows --ops g: the filter gradient's two kernels;
 * --var FAT2019_WINOGRAD --modes all,0 --ops f,i: Winograd against the direct kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/runtime/backend';
import { trainContext } from '../lib/runtime/kernels/trainWasm';
import { machineLoad } from './_common';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/** [N, H (= W), Ci, Co, filter size, stride, padding]. */
const LAYERS: Array<[number, number, number, number, number, number, 'same' | 'valid']> = [
  // ResNet-18/34: 3×3 stride 1 per stage, the stride-2 3×3 (explicitly padded) and 1×1 shortcuts, the 7×7 stem.
  [8, 32, 64, 64, 3, 1, 'same'], [8, 16, 128, 128, 3, 1, 'same'], [8, 8, 256, 256, 3, 1, 'same'], [8, 4, 512, 512, 3, 1, 'same'],
  [8, 34, 64, 128, 3, 2, 'valid'], [8, 18, 128, 256, 3, 2, 'valid'], [8, 10, 256, 512, 3, 2, 'valid'],
  [8, 32, 64, 128, 1, 2, 'valid'], [8, 16, 128, 256, 1, 2, 'valid'], [8, 8, 256, 512, 1, 2, 'valid'],
  [8, 134, 3, 64, 7, 2, 'valid'],
  // XResNet-50's 1×1 bottleneck layers, XResNet's stem.
  [8, 8, 256, 1024, 1, 1, 'valid'], [8, 8, 1024, 256, 1, 1, 'valid'], [8, 4, 512, 2048, 1, 1, 'valid'], [8, 4, 2048, 512, 1, 1, 'valid'],
  [8, 16, 128, 512, 1, 1, 'valid'], [8, 16, 512, 128, 1, 1, 'valid'], [8, 32, 64, 256, 1, 1, 'valid'], [8, 32, 256, 64, 1, 1, 'valid'],
  [8, 64, 32, 64, 3, 1, 'same'],
  // ResNet-18/34's 3×3 layers at width 1/8, batch 32 (the default of bench:train at that width).
  [32, 32, 8, 8, 3, 1, 'same'], [32, 16, 16, 16, 3, 1, 'same'], [32, 8, 32, 32, 3, 1, 'same'], [32, 4, 64, 64, 3, 1, 'same'],
];

async function main(): Promise<void> {
  const envVar = arg('var', 'FAT2019_WINOGRAD');
  const modes = arg('modes', '0,all,').split(',');
  const ops = arg('ops', 'f,i,g').split(',');
  const rounds = Number(arg('rounds', '5'));
  const picked = arg('layers', '') ? arg('layers', '').split(',').map(Number) : LAYERS.map((_, i) => i);
  await initBackend({ verbose: false });
  console.log(`helper thread: ${Boolean(trainContext(tf.backend() as never)?.helper)}; ${envVar} = ${modes.map((m) => `'${m}'`).join(' | ')}`);
  console.log(`load before: ${machineLoad()}`);
  for (const idx of picked) {
    const [N, S, Ci, Co, k, st, pad] = LAYERS[idx];
    const So = pad === 'same' ? Math.ceil(S / st) : Math.floor((S - k) / st) + 1;
    const x = tf.randomNormal([N, S, S, Ci]) as tf.Tensor4D;
    const w = tf.randomNormal([k, k, Ci, Co]) as tf.Tensor4D;
    const dy = tf.randomNormal([N, So, So, Co]) as tf.Tensor4D;
    const run: Record<string, () => tf.Tensor> = {
      f: () => tf.conv2d(x, w, st, pad),
      i: () => tf.conv2dTranspose(dy, w, [N, S, S, Ci], st, pad),
      g: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy },
        { strides: [st, st], pad, dataFormat: 'NHWC', filterShape: [k, k, Ci, Co] } as never) as tf.Tensor,
    };
    const best: Record<string, [number, number]> = {};
    const once = (op: string, mode: string, keep: boolean) => {
      process.env[envVar] = mode;
      const c = process.cpuUsage();
      const t = performance.now();
      const y = run[op]();
      y.dataSync();
      const wall = performance.now() - t;
      const cu = process.cpuUsage(c);
      y.dispose();
      if (!keep) return;
      const key = `${op}:${mode}`;
      const cpu = (cu.user + cu.system) / 1000;
      best[key] = best[key] ? [Math.min(best[key][0], wall), Math.min(best[key][1], cpu)] : [wall, cpu];
    };
    for (const op of ops) for (const m of modes) once(op, m, false);
    for (let r = 0; r < rounds; r++) for (const op of ops) for (const m of modes) once(op, m, true);
    const mflop = (2 * N * So * So * k * k * Ci * Co) / 1e6;
    const cells = ops.map((op) => `${op} ` + modes.map((m) => `'${m}' ${best[`${op}:${m}`][0].toFixed(2)}/${best[`${op}:${m}`][1].toFixed(2)}`).join(', '));
    console.log(`[${N},${S},${S},${Ci}] ${k}×${k} s${st} →${Co} (${mflop.toFixed(0)} MFLOP): ${cells.join(' | ')}`);
    tf.dispose([x, w, dy]);
  }
  console.log(`load after: ${machineLoad()}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
