import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng';

/**
 * PyTorch `kaiming_normal_` (mode fan_in, gain √2): weights ~ N(0, 2 / fanIn), drawn from a
 * seeded {@link Rng} so a model built with the same seed is bit-identical on every backend.
 * fanIn: conv kernel `[kh, kw, inCh, outCh]` → kh·kw·inCh; dense kernel `[in, out]` → in.
 * Biases 0 (fastai `init_default` and the reference ConvBlock zero them); BatchNorm γ = 1,
 * β = 0, moving mean 0, moving variance 1 (the layers' own initialisers already give those).
 *
 * tfjs's `heNormal` draws from a *truncated* normal, which is not what PyTorch does; that is
 * why the layers are built with zero kernels and filled here.
 */
export function kaimingNormalInit(model: tf.LayersModel, seed: number | Rng = 0): void {
  const rng = typeof seed === 'number' ? new Rng(seed) : seed;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls !== 'Conv2D' && cls !== 'Dense') continue;
    const kernel = layer.getWeights()[0];
    const shape = kernel.shape;
    const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const std = Math.sqrt(2 / fanIn);
    const values = new Float32Array(kernel.size);
    for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
    const rest = layer.getWeights().slice(1);
    const newKernel = tf.tensor(values, shape, 'float32');
    layer.setWeights([newKernel, ...rest]);
    newKernel.dispose();
  }
}
