/**
 * Inference throughput (samples/s) of CNN-model-1 and VGG16-BN on the active backend.
 *
 *   npm run bench:infer -- [--quick] [--models cnnModel1,vgg16bn] [--batch 64] [--micro 32]
 *                          [--steps 3] [--warmup 1] [--width 1] [--size 128]
 *   FAT2019_BACKEND=wasm|cpu  FAT2019_THREADS=1|2  select the backend / wasm threads.
 *
 * One step = logits for a batch of `batch` inputs 3×size×size, run as `batch / micro`
 * micro-batches (the wasm heap is capped at 4 GiB), read back to JS. The last line of output
 * is one JSON object.
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend, describeBackend } from '../lib/runtime/backend';
import { buildBenchModel, parseBenchOptions, machineLoad, benchData, median, PYTORCH_RECORDED, BenchArch } from './_common';

interface InferResult {
  model: BenchArch;
  mode: 'infer';
  batch: number;
  microBatch: number;
  width: number;
  size: number;
  stepSeconds: number[];
  samplesPerSecond: number;
  ratioVsPyTorch: number | null;
  modelSource: string;
}

async function main(): Promise<void> {
  const opts = parseBenchOptions(process.argv.slice(2), { batch: 64, micro: 32, steps: 3 });
  const info = await initBackend();
  console.log(describeBackend(info));
  console.log(`load before: ${machineLoad()}`);
  const results: InferResult[] = [];
  for (const arch of opts.models) {
    const { model, source } = buildBenchModel({
      arch, numClasses: opts.numClasses, inputMels: opts.size, inputFrames: opts.size, widthMultiplier: opts.width,
    });
    const nMicro = opts.batch / opts.micro;
    const xs: tf.Tensor4D[] = [];
    for (let m = 0; m < nMicro; m++) {
      xs.push(tf.tensor4d(benchData(opts.micro * opts.size * opts.size * 3, 7 + m), [opts.micro, opts.size, opts.size, 3]));
    }
    const step = (): Float32Array[] => xs.map((x) => tf.tidy(() =>
      (model.apply(x, { training: false }) as tf.Tensor).dataSync() as Float32Array));
    for (let i = 0; i < opts.warmup; i++) step();
    const times: number[] = [];
    for (let i = 0; i < opts.steps; i++) {
      const t0 = performance.now();
      step();
      times.push((performance.now() - t0) / 1000);
    }
    const sps = opts.batch / median(times);
    const comparable = opts.width === 1 && opts.size === 128 && arch === 'cnnModel1';
    const r: InferResult = {
      model: arch, mode: 'infer', batch: opts.batch, microBatch: opts.micro, width: opts.width, size: opts.size,
      stepSeconds: times.map((t) => Number(t.toFixed(3))), samplesPerSecond: Number(sps.toFixed(3)),
      ratioVsPyTorch: comparable ? Number((sps / PYTORCH_RECORDED.inferSamplesPerSecond).toFixed(3)) : null,
      modelSource: source,
    };
    results.push(r);
    console.log(`${arch} infer: batch ${opts.batch} as ${nMicro}×${opts.micro}, width ${opts.width}, ` +
      `${opts.size}×${opts.size}: ${r.samplesPerSecond} samples/s (steps ${r.stepSeconds.join(', ')} s` +
      `${r.ratioVsPyTorch !== null ? `, ${r.ratioVsPyTorch}× PyTorch` : ''}) [${source}]`);
    tf.dispose(xs);
    model.dispose();
  }
  console.log(`load after: ${machineLoad()}`);
  console.log(`PyTorch ratios use the ${PYTORCH_RECORDED.source}: inference ${PYTORCH_RECORDED.inferSamplesPerSecond} samples/s ` +
    `at batch ${PYTORCH_RECORDED.inferBatch}; only full-size cnnModel1 is compared. python3 torch is not installed here.`);
  console.log(JSON.stringify({
    bench: 'infer', backend: info.flavour, threads: info.threads, cores: os.cpus().length,
    customKernels: info.customKernels, pytorchReference: PYTORCH_RECORDED.source, results,
  }));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
