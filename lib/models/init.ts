import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng';

/**
 * How a reference initialises its weights, per kind of layer. Values are drawn from a seeded
 * {@link Rng}, so a model built with the same seed is bit-identical on every backend. tfjs's
 * `heNormal` draws from a *truncated* normal, which is not what PyTorch does: that is why the
 * layers are built with zero kernels and filled here.
 */
export interface InitScheme {
  /**
   * Conv (and depthwise conv) kernels ~ N(0, 2 / fan), PyTorch `kaiming_normal_` with gain √2.
   * fan_in = kh·kw·inCh (fastai, the default); fan_out = kh·kw·outCh (torchvision ResNet and
   * MobileNetV2). A depthwise kernel `[kh, kw, C, m]` is PyTorch's `[C·m, 1, kh, kw]`: fan_in
   * kh·kw, fan_out kh·kw·C·m.
   */
  conv: 'fanIn' | 'fanOut';
  /**
   * Dense kernels: 'kaiming' = N(0, 2 / in) (fastai); 'normal0.01' = N(0, 0.01²)
   * (torchvision MobileNetV2); 'torchDefault' = nn.Linear's own U(±1/√in) for kernel and bias
   * (torchvision ResNet).
   */
  dense: 'kaiming' | 'normal0.01' | 'torchDefault';
  /** BatchNorm layers whose γ starts at 0 (fastai's BatchZero: last BN of a residual branch). */
  zeroGamma?: (layerName: string) => boolean;
}

/** fastai / the 12th-place reference: Kaiming normal fan_in for convs and dense layers. */
export const FASTAI_INIT: InitScheme = { conv: 'fanIn', dense: 'kaiming' };

/**
 * Fills every Conv2D, DepthwiseConv2D and Dense kernel of `model` per `scheme`. Biases are 0
 * (fastai `init_default`, torchvision) except Dense under 'torchDefault'. BatchNorm: γ = 1
 * (0 where `zeroGamma` says), β = 0, moving mean 0, moving variance 1.
 */
export function initModel(model: tf.LayersModel, seed: number | Rng, scheme: InitScheme): void {
  const rng = typeof seed === 'number' ? new Rng(seed) : seed;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === 'BatchNormalization') {
      const weights = layer.getWeights();
      const zero = scheme.zeroGamma?.(layer.name) ?? false;
      // Order: gamma, beta, moving mean, moving variance (all four: center and scale are on).
      const fresh = weights.map((w, i) => (i === 0 ? (zero ? tf.zeros(w.shape) : tf.ones(w.shape)) : i === 3 ? tf.ones(w.shape) : tf.zeros(w.shape)));
      layer.setWeights(fresh);
      fresh.forEach((t) => t.dispose());
      continue;
    }
    if (cls !== 'Conv2D' && cls !== 'DepthwiseConv2D' && cls !== 'Dense') continue;
    const [kernel, ...rest] = layer.getWeights();
    const shape = kernel.shape;
    const values = new Float32Array(kernel.size);
    let restValues: tf.Tensor[] = rest.map((w) => tf.zerosLike(w));
    if (cls === 'Dense') {
      const fanIn = shape[0];
      if (scheme.dense === 'torchDefault') {
        const bound = 1 / Math.sqrt(fanIn);
        for (let i = 0; i < values.length; i++) values[i] = (2 * rng.uniform() - 1) * bound;
        restValues.forEach((t) => t.dispose());
        restValues = rest.map((w) => {
          const b = new Float32Array(w.size);
          for (let i = 0; i < b.length; i++) b[i] = (2 * rng.uniform() - 1) * bound;
          return tf.tensor(b, w.shape, 'float32');
        });
      } else {
        const std = scheme.dense === 'kaiming' ? Math.sqrt(2 / fanIn) : 0.01;
        for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
      }
    } else {
      const [kh, kw, inCh, out] = shape; // Conv2D: out = filters; depthwise: out = multiplier
      const receptive = kh * kw;
      const depthwise = cls === 'DepthwiseConv2D';
      const fan = scheme.conv === 'fanIn'
        ? receptive * (depthwise ? 1 : inCh)
        : receptive * (depthwise ? inCh * out : out);
      const std = Math.sqrt(2 / fan);
      for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
    }
    const newKernel = tf.tensor(values, shape, 'float32');
    layer.setWeights([newKernel, ...restValues]);
    newKernel.dispose();
    restValues.forEach((t) => t.dispose());
  }
}

/**
 * PyTorch `kaiming_normal_` (mode fan_in, gain √2) for conv and dense kernels, zero biases,
 * BatchNorm at γ = 1, β = 0: the initialisation of the 12th-place reference (fastai).
 */
export function kaimingNormalInit(model: tf.LayersModel, seed: number | Rng = 0): void {
  initModel(model, seed, FASTAI_INIT);
}
