import * as tf from '@tensorflow/tfjs';
import { releaseUnbiasedRunningVariance, requestUnbiasedRunningVariance } from '../runtime/kernels/batchNormTraining';

/**
 * PyTorch updates BatchNorm's running variance with the *unbiased* batch variance
 * (× n / (n − 1), n = values per channel in the batch); tfjs-layers uses the biased one. The
 * difference is negligible for conv layers (n = B·H·W) but large for the head's BatchNorm1d at
 * small (micro-)batches (n = B: ×4/3 at B = 4). This corrects the tfjs update after a training
 * forward pass, exactly: with tfjs's new = m·old + (1 − m)·v_biased,
 *     pytorch = m·old + (new − m·old) · n / (n − 1).
 * Usage: `const fix = snapshotRunningVariances(model)` before the forward pass, then
 * `fix.apply(batchSize)` after it (and `fix.dispose()` if not applied).
 *
 * Where the project's batch-norm training path is installed (lib/runtime/kernels/
 * batchNormTraining), the layers are asked to make PyTorch's update themselves during the forward
 * pass (one C call per layer on wasm, the same float32 operations; n = the values per channel
 * of that call's input) and nothing is snapshot or corrected here.
 */
export interface RunningVarianceFix {
  apply(batchSize: number): void;
  dispose(): void;
}

interface BnEntry {
  variable: tf.LayerVariable;
  old: tf.Tensor;
  momentum: number;
  /** Values per channel per sample (H·W for conv features, 1 for dense). */
  perSample: number;
}

/** Snapshot of every BatchNormalization layer's moving variance (see {@link RunningVarianceFix}). */
export function snapshotRunningVariances(model: tf.LayersModel): RunningVarianceFix {
  const entries: BnEntry[] = [];
  const asked: tf.layers.Layer[] = [];
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const weights = layer.weights;
    const variable = weights.find((w) => w.originalName.endsWith('/moving_variance'));
    if (!variable) continue;
    if (requestUnbiasedRunningVariance(layer)) {
      asked.push(layer);
      continue;
    }
    const shape = (layer.input as tf.SymbolicTensor).shape;
    const perSample = shape.slice(1, -1).reduce((a: number, b) => a * (b ?? 1), 1);
    const { momentum } = layer.getConfig() as { momentum: number };
    entries.push({ variable, old: tf.clone(variable.read()), momentum, perSample });
  }
  const dispose = () => {
    for (const e of entries) e.old.dispose();
    entries.length = 0;
    for (const layer of asked) releaseUnbiasedRunningVariance(layer);
    asked.length = 0;
  };
  return {
    apply(batchSize: number) {
      for (const e of entries) {
        const n = batchSize * e.perSample;
        if (n > 1) {
          const c = n / (n - 1);
          tf.tidy(() => {
            const base = e.old.mul(e.momentum);
            e.variable.write(base.add(e.variable.read().sub(base).mul(c)));
          });
        }
      }
      dispose();
    },
    dispose,
  };
}
