/**
 * A PANNs checkpoint (`torch.save({'model': state_dict, ...})` of the paper's code, e.g.
 * Cnn14_mAP=0.431.pth) onto lib/models/panns, by name: every state_dict key maps to exactly one
 * weight of the network, and every weight of the network must be in the file.
 *
 *   bn0.{weight,bias,running_mean,running_var}           → bn0 γ, β, moving mean, moving variance
 *   conv_block<k>.conv<j>.weight [O, I, kt, kf]          → conv_block<k>_conv<j> kernel [kf, kt, I, O]
 *     (PyTorch's input is (batch, 1, time, mel); here mel is the height, time the width)
 *   conv_block<k>.bn<j>.*                                → conv_block<k>_bn<j>
 *   fc1.{weight [out, in], bias}, fc_audioset.*          → Dense kernel [in, out], bias
 *   spectrogram_extractor.*, logmel_extractor.*          the front end's fixed STFT and mel
 *     matrices: not weights of the network (lib/features computes the same front end,
 *     PANNS_PREPROCESS); melW's shape is checked ([513, 64]: n_fft 1024, 64 bands)
 *   *.num_batches_tracked                                ignored
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../../config';
import { MODEL_DEFAULTS } from '../../config';
import { tensorToFloat32, type TorchTensor } from '../../io/torchFile';
import { getArchitecture, validateModelConfig } from '../index';
import { PANNS_HEAD_DROPOUT, PANNS_MELS, PANNS_VARIANTS, type PannsVariant } from '../panns';
import type { TorchCheckpoint } from './torchCheckpoint';

/** True when `arch` is a registered PANNs network (pannsCnn6, pannsCnn10, pannsCnn14). */
export function isPannsArchitecture(arch: string): arch is PannsVariant['name'] {
  return Object.prototype.hasOwnProperty.call(PANNS_VARIANTS, arch);
}

const shapeText = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** Front-end tensors of the checkpoint: ignored by the import, their shapes checked. */
const FRONT_END_PREFIXES = ['spectrogram_extractor.', 'logmel_extractor.'];

/** Expected PyTorch shape of each tensor the network needs, by state_dict key. */
function expectedTensors(model: tf.LayersModel): Map<string, { layer: tf.layers.Layer; shape: number[] }> {
  const out = new Map<string, { layer: tf.layers.Layer; shape: number[] }>();
  for (const layer of model.layers) {
    const w = layer.getWeights();
    if (w.length === 0) continue;
    const key = layer.name.replace(/^(conv_block\d+)_/, '$1.');
    const cls = layer.getClassName();
    if (cls === 'BatchNormalization') {
      for (const s of ['weight', 'bias', 'running_mean', 'running_var']) out.set(`${key}.${s}`, { layer, shape: [w[0].shape[0]] });
    } else if (cls === 'Conv2D') {
      const [kf, kt, i, o] = w[0].shape;
      out.set(`${key}.weight`, { layer, shape: [o, i, kt, kf] });
    } else if (cls === 'Dense') {
      const [i, o] = w[0].shape;
      out.set(`${key}.weight`, { layer, shape: [o, i] });
      out.set(`${key}.bias`, { layer, shape: [o] });
    } else {
      throw new Error(`internal: layer ${layer.name} (${cls}) has weights the PANNs import does not set`);
    }
  }
  return out;
}

/** The checkpoint's tensors by full state_dict key (num_batches_tracked dropped). */
function tensorsByKey(ckpt: TorchCheckpoint): Map<string, TorchTensor> {
  const out = new Map<string, TorchTensor>();
  for (const l of ckpt.layers) for (const [name, t] of l.tensors) out.set(l.path === '(root)' ? name : `${l.path}.${name}`, t);
  return out;
}

/**
 * Builds `arch` (a PANNs network) at the checkpoint's width and class count and loads every
 * weight by name. Throws an Error naming `source` and the key at fault (missing, extra, or of
 * another shape: e.g. a Cnn10 file imported as pannsCnn14).
 */
export function pannsFromCheckpoint(ckpt: TorchCheckpoint, arch: string, source: string, base: Partial<ModelConfig> = {}): { model: tf.LayersModel; config: ModelConfig } {
  if (!isPannsArchitecture(arch)) throw new Error(`${source}: ${arch} is not a PANNs architecture (${Object.keys(PANNS_VARIANTS).join(', ')})`);
  if (ckpt.kind === 'export' || ckpt.kind === 'module') throw new Error(`${source}: a pickled module (${ckpt.kind}), not a PANNs checkpoint ({'model': state_dict})`);
  const variant = PANNS_VARIANTS[arch];
  const tensors = tensorsByKey(ckpt);
  const first = tensors.get('conv_block1.conv1.weight');
  const head = tensors.get('fc_audioset.weight');
  if (!first || !head) {
    throw new Error(`${source}: no ${!first ? 'conv_block1.conv1.weight' : 'fc_audioset.weight'} in the state_dict (keys: ${[...tensors.keys()].slice(0, 6).join(', ')}, ...): not a PANNs ${variant.torchClass} checkpoint`);
  }
  const melW = tensors.get('logmel_extractor.melW');
  if (melW && shapeText(melW.shape) !== shapeText([513, PANNS_MELS])) {
    throw new Error(`${source}: logmel_extractor.melW is ${shapeText(melW.shape)}, the PANNs front end here is n_fft 1024 with ${PANNS_MELS} mel bands ([513, ${PANNS_MELS}])`);
  }
  const widthMultiplier = first.shape[0] / variant.widths[0];
  const numClasses = head.shape[0];
  const config: ModelConfig = {
    ...MODEL_DEFAULTS, inputFrames: 1001, ...base, arch, inputMels: PANNS_MELS, widthMultiplier, numClasses,
    headUnits: MODEL_DEFAULTS.headUnits, headDropout1: PANNS_HEAD_DROPOUT, headDropout2: PANNS_HEAD_DROPOUT, inputNormalization: null,
  };
  validateModelConfig(config);
  const model = getArchitecture(arch).build(config); // every weight is set below
  try {
    const want = expectedTensors(model);
    const extra = [...tensors.keys()].filter((k) => !want.has(k) && !FRONT_END_PREFIXES.some((p) => k.startsWith(p)));
    if (extra.length > 0) {
      throw new Error(`${source}: ${extra.length} state_dict key(s) that ${arch} (${variant.torchClass}) does not have: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''} (another PANNs network? try --arch ${guessArch(tensors)})`);
    }
    for (const [key, { shape }] of want) {
      const t = tensors.get(key);
      if (!t) throw new Error(`${source}: no ${key} in the state_dict; ${arch} at width ${widthMultiplier} needs it ${shapeText(shape)} (another PANNs network? try --arch ${guessArch(tensors)})`);
      if (shapeText(t.shape) !== shapeText(shape)) throw new Error(`${source}: ${key} is ${shapeText(t.shape)}, ${arch} at width ${widthMultiplier} with ${numClasses} classes expects ${shapeText(shape)}`);
    }
    const byLayer = new Map<tf.layers.Layer, string>();
    for (const [key, { layer }] of want) if (!byLayer.has(layer)) byLayer.set(layer, key.slice(0, key.lastIndexOf('.')));
    for (const [layer, prefix] of byLayer) {
      const get = (s: string) => tf.tensor(tensorToFloat32(tensors.get(`${prefix}.${s}`)!), tensors.get(`${prefix}.${s}`)!.shape, 'float32');
      const weights = tf.tidy(() => {
        const cls = layer.getClassName();
        if (cls === 'Conv2D') return [get('weight').transpose([3, 2, 1, 0])];
        if (cls === 'Dense') return [get('weight').transpose([1, 0]), get('bias')];
        return ['weight', 'bias', 'running_mean', 'running_var'].map(get);
      });
      layer.setWeights(weights);
      tf.dispose(weights);
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, config };
}

/** The PANNs variant whose block layout the keys show (for error messages). */
function guessArch(tensors: Map<string, TorchTensor>): string {
  if (tensors.has('conv_block6.conv1.weight')) return 'pannsCnn14';
  if (tensors.has('conv_block1.conv2.weight')) return 'pannsCnn10';
  return 'pannsCnn6';
}
