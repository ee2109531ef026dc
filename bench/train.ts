/**
 * Training throughput (samples/s) of CNN-model-1 and VGG16-BN on the active backend.
 *
 *   npm run bench:train -- [--quick] [--models cnnModel1,vgg16bn] [--batch 32] [--micro 8]
 *                          [--steps 2] [--warmup 1] [--width 1] [--size 128]
 *                          [--stock | --stock-input | --stock-bn | --stock-reduce]  (tfjs' own kernels, A/B)
 *   FAT2019_BACKEND=wasm|cpu  FAT2019_THREADS=1|2  select the backend / wasm threads.
 *
 * One step = forward + backward of the whole batch as `batch / micro` micro-batches (gradient
 * accumulation: the wasm heap is capped at 4 GiB, and full-width batches of 16+ abort) and one
 * Adam update. Inputs are 3×size×size (NHWC), targets multi-hot over 80 classes; BCE-with-logits
 * loss. The last line of output is one JSON object.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, describeBackend } from '../lib/runtime/backend';
import { restoreStockKernels, installedCustomKernels } from '../lib/runtime/kernels';
import { buildBenchModel, parseBenchOptions, machineLoad, benchData, median, PYTORCH_RECORDED, BenchArch } from './_common';

interface TrainResult {
  model: BenchArch;
  mode: 'train';
  batch: number;
  microBatch: number;
  width: number;
  size: number;
  stepSeconds: number[];
  samplesPerSecond: number;
  ratioVsPyTorch: number | null;
  modelSource: string;
  heapMiB?: number;
}

function wasmHeapMiB(): number | undefined {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8 ? Math.round(b.wasm.HEAPU8.buffer.byteLength / 2 ** 20) : undefined;
}

async function main(): Promise<void> {
  const opts = parseBenchOptions(process.argv.slice(2), { batch: 32, micro: 8, steps: 2 });
  const info = await initBackend({ verbose: false });
  if (opts.stock) restoreStockKernels();
  if (process.argv.includes('--stock-input')) restoreStockKernels({ batchNormGrad: false, reductions: false });
  if (process.argv.includes('--stock-bn')) restoreStockKernels({ conv2dBackpropInput: false, reductions: false });
  if (process.argv.includes('--stock-reduce')) restoreStockKernels({ conv2dBackpropInput: false, batchNormGrad: false });
  console.log(describeBackend({ ...info, customKernels: installedCustomKernels() }));
  console.log(`load before: ${machineLoad()}`);
  const results: TrainResult[] = [];
  for (const arch of opts.models) {
    const { model, source } = buildBenchModel({
      arch, numClasses: opts.numClasses, inputMels: opts.size, inputFrames: opts.size, widthMultiplier: opts.width,
    });
    const optimizer = tf.train.adam(1e-3);
    const nMicro = opts.batch / opts.micro;
    const xs: tf.Tensor4D[] = [];
    const ys: tf.Tensor2D[] = [];
    for (let m = 0; m < nMicro; m++) {
      xs.push(tf.tensor4d(benchData(opts.micro * opts.size * opts.size * 3, 1 + m), [opts.micro, opts.size, opts.size, 3]));
      ys.push(tf.tidy(() => tf.cast(tf.greater(tf.tensor2d(benchData(opts.micro * opts.numClasses, 101 + m),
        [opts.micro, opts.numClasses]), 0.95), 'float32') as tf.Tensor2D));
    }
    const step = (): number => {
      let acc: Record<string, tf.Tensor> | null = null;
      let lossSum = 0;
      for (let m = 0; m < nMicro; m++) {
        const { value, grads } = tf.variableGrads(() => {
          const logits = model.apply(xs[m], { training: true }) as tf.Tensor;
          return tf.losses.sigmoidCrossEntropy(ys[m], logits) as tf.Scalar;
        });
        lossSum += value.dataSync()[0];
        value.dispose();
        if (acc === null) {
          acc = grads;
        } else {
          for (const k of Object.keys(grads)) {
            const sum = tf.add(acc[k], grads[k]);
            acc[k].dispose();
            grads[k].dispose();
            acc[k] = sum;
          }
        }
      }
      const scaled = tf.tidy(() => {
        const out: Record<string, tf.Tensor> = {};
        for (const k of Object.keys(acc!)) out[k] = nMicro === 1 ? acc![k].clone() : tf.div(acc![k], nMicro);
        return out;
      });
      tf.dispose(Object.values(acc!));
      optimizer.applyGradients(scaled as unknown as Parameters<typeof optimizer.applyGradients>[0]);
      tf.dispose(Object.values(scaled));
      return lossSum / nMicro;
    };
    for (let i = 0; i < opts.warmup; i++) step();
    const times: number[] = [];
    let loss = 0;
    for (let i = 0; i < opts.steps; i++) {
      const t0 = performance.now();
      loss = step();
      times.push((performance.now() - t0) / 1000);
    }
    const sps = opts.batch / median(times);
    const comparable = opts.width === 1 && opts.size === 128 && arch === 'cnnModel1';
    const r: TrainResult = {
      model: arch, mode: 'train', batch: opts.batch, microBatch: opts.micro, width: opts.width, size: opts.size,
      stepSeconds: times.map((t) => Number(t.toFixed(3))), samplesPerSecond: Number(sps.toFixed(3)),
      ratioVsPyTorch: comparable ? Number((sps / PYTORCH_RECORDED.trainSamplesPerSecond).toFixed(3)) : null,
      modelSource: source, heapMiB: wasmHeapMiB(),
    };
    results.push(r);
    console.log(`${arch} train: batch ${opts.batch} as ${nMicro}×${opts.micro} (gradient accumulation), ` +
      `width ${opts.width}, ${opts.size}×${opts.size}: ${r.samplesPerSecond} samples/s ` +
      `(steps ${r.stepSeconds.join(', ')} s, loss ${loss.toFixed(4)}` +
      `${r.ratioVsPyTorch !== null ? `, ${r.ratioVsPyTorch}× PyTorch` : ''}${r.heapMiB ? `, wasm heap ${r.heapMiB} MiB` : ''}) [${source}]`);
    tf.dispose([...xs, ...ys]);
    optimizer.dispose();
    model.dispose();
  }
  console.log(`load after: ${machineLoad()}`);
  console.log(`PyTorch ratios use the ${PYTORCH_RECORDED.source}: train ${PYTORCH_RECORDED.trainSamplesPerSecond} samples/s ` +
    `at batch ${PYTORCH_RECORDED.trainBatch}; only full-size cnnModel1 is compared. python3 torch is not installed here.`);
  console.log(JSON.stringify({
    bench: 'train', backend: info.flavour, threads: info.threads, cores: require('node:os').cpus().length,
    customKernels: installedCustomKernels(), pytorchReference: PYTORCH_RECORDED.source, results,
  }));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
