/**
 * Tensors whose channels are all copies of the first: the 1-channel model input repeated on 3
 * channels (./padSlice repeatChannels, for the networks that take 3) and spatial pads of it.
 *
 * Why: a convolution of such an input equals the 1-channel convolution with the filter summed
 * over its input channels, and its filter gradient is the 1-channel gradient on every input
 * channel: a third of the multiplications in the first layer. ResNet-18/34's 7×7 stride-2 stem
 * at width 1/8 (batch 32, 128×128, 3 → 8 channels) was ≈3.7 ms forward and ≈3.9 ms filter
 * gradient of a 50–90 ms step (2 threads, AMD EPYC VM). Rounding: the forward sums the filter's
 * channels before the products (outputs within ≈1e-6 of the largest |y|); the filter gradient is
 * one channel's, copied. FAT2019_FOLD_REPEATED_CHANNELS=0 turns this off (read per call, A/B).
 *
 * A tensor is known by its data (tfjs tensors are immutable; a reshape keeps the data, and is
 * still one only if it keeps the channel count, since the copies are consecutive in memory).
 */
import type * as tf from '@tensorflow/tfjs';
import { runPair, SPLIT_MIN_ELEMENTS } from './trainPool';
import { offsetOf, type TrainContext } from './trainWasm';

const repeated = new WeakMap<object, number>();

/** Marks a 4-D tensor's channels as copies of its first. */
export function markRepeatedChannels(t: tf.TensorInfo): void {
  if (t.shape.length === 4 && t.shape[3] > 1) repeated.set(t.dataId, t.shape[3]);
}

/** Whether `t`'s channels are known copies of its first (and folding is on). */
export function hasRepeatedChannels(t: tf.TensorInfo): boolean {
  if (t.shape.length !== 4 || t.shape[3] < 2 || repeated.get(t.dataId) !== t.shape[3]) return false;
  return !/^(0|false|off)$/i.test(typeof process !== 'undefined' ? process.env.FAT2019_FOLD_REPEATED_CHANNELS ?? '' : '');
}

/** The first channel of x [N, H, W, C] as a new [N, H, W, 1] tensor (./wasm/padSlice.c first_channel); dispose it after use. */
export function firstChannel(ctx: TrainContext, x: tf.TensorInfo): tf.TensorInfo {
  const [N, H, W, C] = x.shape;
  const pixels = N * H * W;
  const out = ctx.backend.makeOutput([N, H, W, 1], 'float32');
  const [src, dst] = [offsetOf(ctx.backend, x), offsetOf(ctx.backend, out)];
  const h = ctx.helper && pixels * C >= SPLIT_MIN_ELEMENTS ? 4 * Math.ceil(pixels / 8) : pixels;
  runPair(ctx.k, ctx.helper, ['first_channel', [src, 0, h, C, dst]], h < pixels ? ['first_channel', [src, h, pixels, C, dst]] : null);
  return out;
}
