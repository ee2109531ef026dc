/**
 * PANNs (Kong et al., "PANNs: Large-Scale Pretrained Audio Neural Networks for Audio Pattern
 * Recognition", IEEE/ACM TASLP 2020; code github.com/qiuqiangkong/audioset_tagging_cnn,
 * pytorch/models.py): the AudioSet taggers Cnn6, Cnn10 and Cnn14, in the paper's layout.
 *
 * Input NHWC `[B, 64 mel bands, frames, 1]`: the log-mel dB matrix itself (no uint8 image, no
 * z-score: preprocess output 'db', see {@link PANNS_PREPROCESS}); any number of frames (the
 * network pools globally), at least {@link pannsMinFrames}. Layers, named after PyTorch's
 * state_dict keys (`conv_block1.conv1.weight` → layer `conv_block1_conv1`):
 *   bn0            BatchNorm over the 64 mel bins (PyTorch transposes to put them on channels)
 *   conv_block<k>  Cnn10/Cnn14: conv1 3×3 → bn1 → ReLU → conv2 3×3 → bn2 → ReLU → avg pool 2×2;
 *                  Cnn6: conv 5×5 → bn → ReLU → avg pool 2×2 (no conv bias; pad k//2);
 *                  each followed by dropout 0.2. Cnn14's last block pools 1×1 (none).
 *   then mean over frequency, max + mean over time (x1 + x2), dropout (headDropout1; the
 *   paper's 0.5, set on import), fc1 (ReLU; its output is the embedding), dropout
 *   (headDropout2, the paper's 0.5), fc_audioset (logits; the paper's clipwise_output is their
 *   sigmoid). Dropout does nothing at inference.
 * PyTorch's layout is (batch, channels, time, mel); here mel is the height and time the width,
 * so a conv weight `[O, I, kt, kf]` becomes the kernel `[kf, kt, I, O]` (lib/models/import/panns).
 * Channels (and fc1's units) × the width multiplier (1 = the paper's checkpoints).
 * Initialisation as the paper's `init_layer` / `init_bn`: Xavier uniform kernels, zero biases,
 * BN γ = 1, β = 0.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config';
import { BN_EPSILON, BN_MOMENTUM, batchNorm, scaledWidth } from './head';
import { initModel } from './init';
import { registerArchitecture } from './registry';
import type { Rng } from '../util/rng';

type Sym = tf.SymbolicTensor;

/** One PANNs family member: conv kernel size, block widths (width 1), pool of each block. */
export interface PannsVariant {
  name: 'pannsCnn6' | 'pannsCnn10' | 'pannsCnn14';
  /** PyTorch class name in models.py. */
  torchClass: 'Cnn6' | 'Cnn10' | 'Cnn14';
  /** 5 (ConvBlock5x5, one conv per block) or 3 (ConvBlock, two convs). */
  kernel: 3 | 5;
  widths: readonly number[];
  /** Pool size of each block (2 = 2×2 average, 1 = none). */
  pools: readonly number[];
}

export const PANNS_VARIANTS: Readonly<Record<PannsVariant['name'], PannsVariant>> = Object.freeze({
  pannsCnn6: { name: 'pannsCnn6', torchClass: 'Cnn6', kernel: 5, widths: [64, 128, 256, 512], pools: [2, 2, 2, 2] },
  pannsCnn10: { name: 'pannsCnn10', torchClass: 'Cnn10', kernel: 3, widths: [64, 128, 256, 512], pools: [2, 2, 2, 2] },
  pannsCnn14: { name: 'pannsCnn14', torchClass: 'Cnn14', kernel: 3, widths: [64, 128, 256, 512, 1024, 2048], pools: [2, 2, 2, 2, 2, 1] },
});

/** Dropout before fc1 and before fc_audioset in the paper's networks (ModelConfig.headDropout1/2 of an imported run). */
export const PANNS_HEAD_DROPOUT = 0.5;

/** Mel bands of the PANNs front end (bn0 has one γ per band). */
export const PANNS_MELS = 64;

/** Fewest frames (and mel bands) a variant accepts: each 2×2 pool halves both axes (floor), down to 1. */
export function pannsMinFrames(v: PannsVariant): number {
  return 2 ** v.pools.filter((p) => p === 2).length;
}

function conv(x: Sym, filters: number, kernel: number, name: string): Sym {
  return tf.layers.conv2d({ name, filters, kernelSize: kernel, strides: 1, padding: 'same', useBias: false, kernelInitializer: 'zeros' }).apply(x) as Sym;
}

function bnRelu(x: Sym, bn: string): Sym {
  const y = batchNorm(bn).apply(x) as Sym;
  return tf.layers.reLU({ name: `${bn}_relu` }).apply(y) as Sym;
}

/** The network; input `[B, inputMels (64 for the paper's weights), frames (null = any), 1]` dB, output logits `[B, numClasses]`. */
export function panns(variant: PannsVariant, cfg: ModelConfig): tf.LayersModel {
  const input = tf.input({ name: 'input', shape: [cfg.inputMels, null, 1] as unknown as number[] });
  // bn0: one BatchNorm per mel band, as PyTorch's transpose(1, 3) → bn0 → transpose(1, 3):
  // the mel axis is moved to the channels and back (tfjs' BatchNormalization over axis 1 gives
  // wrong values in tfjs 4: its parameters are broadcast along the last axis).
  let x = tf.layers.permute({ name: 'bn0_to_channels', dims: [3, 2, 1] }).apply(input) as Sym;
  x = tf.layers.batchNormalization({ name: 'bn0', axis: -1, momentum: BN_MOMENTUM, epsilon: BN_EPSILON }).apply(x) as Sym;
  x = tf.layers.permute({ name: 'bn0_from_channels', dims: [3, 2, 1] }).apply(x) as Sym;
  let mels = cfg.inputMels;
  variant.widths.forEach((base, i) => {
    const block = `conv_block${i + 1}`;
    const width = scaledWidth(base, cfg.widthMultiplier);
    if (variant.kernel === 5) {
      x = bnRelu(conv(x, width, 5, `${block}_conv1`), `${block}_bn1`);
    } else {
      x = bnRelu(conv(x, width, 3, `${block}_conv1`), `${block}_bn1`);
      x = bnRelu(conv(x, width, 3, `${block}_conv2`), `${block}_bn2`);
    }
    const pool = variant.pools[i];
    if (pool > 1) {
      x = tf.layers.averagePooling2d({ name: `${block}_pool`, poolSize: pool, strides: pool, padding: 'valid' }).apply(x) as Sym;
      mels = Math.floor(mels / pool);
    }
    x = tf.layers.dropout({ name: `${block}_drop`, rate: 0.2 }).apply(x) as Sym;
  });
  // mean over frequency (all `mels` rows) → [B, 1, T, C]; then max + mean over time.
  x = tf.layers.averagePooling2d({ name: 'freq_mean', poolSize: [mels, 1], strides: [mels, 1], padding: 'valid' }).apply(x) as Sym;
  const x1 = tf.layers.globalMaxPooling2d({ name: 'time_max' }).apply(x) as Sym;
  const x2 = tf.layers.globalAveragePooling2d({ name: 'time_mean' }).apply(x) as Sym;
  x = tf.layers.add({ name: 'time_pool' }).apply([x1, x2]) as Sym;
  if (cfg.headDropout1 > 0) x = tf.layers.dropout({ name: 'fc1_drop', rate: cfg.headDropout1 }).apply(x) as Sym;
  const embeddingUnits = scaledWidth(variant.widths[variant.widths.length - 1], cfg.widthMultiplier);
  x = tf.layers.dense({ name: 'fc1', units: embeddingUnits, activation: 'relu', kernelInitializer: 'zeros' }).apply(x) as Sym;
  if (cfg.headDropout2 > 0) x = tf.layers.dropout({ name: 'embedding_drop', rate: cfg.headDropout2 }).apply(x) as Sym;
  const logits = tf.layers.dense({ name: 'fc_audioset', units: cfg.numClasses, kernelInitializer: 'zeros' }).apply(x) as Sym;
  return tf.model({ name: variant.name, inputs: input, outputs: logits });
}

/** The paper's init_layer: Xavier uniform kernels (fan = receptive field × channels), zero biases; BN γ 1, β 0. */
export function pannsInit(model: tf.LayersModel, rng: Rng): void {
  initModel(model, rng, { conv: 'fanIn', dense: 'kaiming' }); // BN, biases; kernels replaced below
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls !== 'Conv2D' && cls !== 'Dense') continue;
    const [kernel, ...rest] = layer.getWeights();
    const shape = kernel.shape;
    const receptive = shape.length === 4 ? shape[0] * shape[1] : 1;
    const fanIn = receptive * shape[shape.length - 2];
    const fanOut = receptive * shape[shape.length - 1];
    const bound = Math.sqrt(6 / (fanIn + fanOut));
    const values = new Float32Array(kernel.size);
    for (let i = 0; i < values.length; i++) values[i] = (2 * rng.uniform() - 1) * bound;
    const fresh = tf.tensor(values, shape, 'float32');
    layer.setWeights([fresh, ...rest]);
    fresh.dispose();
  }
}

for (const variant of Object.values(PANNS_VARIANTS)) {
  registerArchitecture({
    name: variant.name,
    description: `PANNs ${variant.torchClass} (Kong et al. 2020, AudioSet tagger; 64-band dB input at 32 kHz, any length)`,
    pools: variant.pools.filter((p) => p === 2).length,
    // bn0 has one weight per mel band: the paper's checkpoints need 64 (PANNS_MELS); a network
    // trained here may take any number of bands the pools allow.
    minInput: () => ({ mels: pannsMinFrames(variant), frames: pannsMinFrames(variant) }),
    inputChannels: () => 1,
    // fc_audioset is the classifier; fc1 (the embedding) is body, as in the paper's transfer models.
    isHeadLayer: (name) => name === 'fc_audioset',
    build: (cfg) => panns(variant, cfg),
    init: (model, rng) => pannsInit(model, rng),
  });
}
