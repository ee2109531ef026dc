/**
 * A tiny data folder for the pipeline tests (Kaggle layout, 4 classes of distinguishable
 * sounds at 8 kHz, 1–3 s), and a matching config small enough to train in about a second per
 * (stage, fold) on the cpu backend.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeWavPcm16 } from '../../lib/audio/index';
import { CONFIG_DEFAULTS, withDefaults, type DeepPartial, type Fat2019Config } from '../../lib/config';
import { Rng } from '../../lib/util/rng';

export const TINY_CLASSES = ['Chirp', 'High_tone', 'Low_tone', 'Noise'];
const SR = 8000;

function synth(labels: string[], seconds: number, rng: Rng): Float32Array {
  const n = Math.round(seconds * SR);
  const out = new Float32Array(n);
  for (const label of labels) {
    const phase = rng.uniform() * 2 * Math.PI;
    for (let i = 0; i < n; i++) {
      const t = i / SR;
      let v = 0;
      if (label === 'Low_tone') v = Math.sin(2 * Math.PI * 200 * t + phase);
      else if (label === 'High_tone') v = Math.sin(2 * Math.PI * 2500 * t + phase);
      else if (label === 'Chirp') v = Math.sin(2 * Math.PI * (400 * t + (1300 * t * t) / seconds) + phase);
      else v = (rng.uniform() * 2 - 1) * (Math.floor(t * 8) % 2 === 0 ? 1 : 0.1);
      out[i] += 0.3 * v;
    }
  }
  return out;
}

/** Writes the folder; `curated` and `noisy` clip counts. Labels: one class each, every 4th clip two. */
export function writeTinyData(dir: string, curated = 12, noisy = 16, seed = 7): void {
  const rng = new Rng(seed);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'sample_submission.csv'), `fname,${TINY_CLASSES.join(',')}\n`);
  const make = (set: 'curated' | 'noisy', count: number) => {
    const folder = path.join(dir, `train_${set}`);
    fs.mkdirSync(folder, { recursive: true });
    const rows = ['fname,labels'];
    for (let i = 0; i < count; i++) {
      const labels = [TINY_CLASSES[i % 4]];
      if (i % 4 === 3) labels.push(TINY_CLASSES[(i + 1) % 4]);
      // Noisy set: every 3rd clip's audio does not match its label (as Flickr tags).
      const audioLabels = set === 'noisy' && i % 3 === 2 ? [TINY_CLASSES[(i + 2) % 4]] : labels;
      const fname = `${set[0]}${String(i).padStart(3, '0')}.wav`;
      fs.writeFileSync(path.join(folder, fname), encodeWavPcm16(synth(audioLabels, 1 + (i % 5) * 0.5, rng), SR));
      rows.push(`${fname},"${labels.join(',')}"`);
    }
    fs.writeFileSync(path.join(dir, `train_${set}.csv`), rows.join('\n') + '\n');
  };
  make('curated', curated);
  make('noisy', noisy);
}

/** Config for the tiny data: 8 kHz, 32 mel bands × 32-frame windows, width 1/16, 2 folds, 1 epoch per stage. */
export const TINY_OVERRIDES: DeepPartial<Fat2019Config> = {
  preprocess: { sampleRate: SR, minSamples: 2 * SR, nFft: 256, hopLength: 516, nMels: 32, fMin: 20, fMax: 4000, trimFrameLength: 512, trimHopLength: 128 },
  model: { numClasses: 4, inputMels: 32, inputFrames: 32, widthMultiplier: 0.0625 },
  train: { batchSize: 8, seed: 3 },
  pipeline: { folds: 2, stageEpochs: [1, 1, 1, 1], stageMaxLr: [1e-2, 3e-3, 3e-3, 3e-3], stage3MinScore: 0.3, stage4MinScore: 0.5 },
  infer: { windowFrames: 32, windowShift: 12, batchSize: 32 },
};

export function tinyConfig(over: DeepPartial<Fat2019Config> = {}): Fat2019Config {
  return withDefaults(withDefaults(CONFIG_DEFAULTS, TINY_OVERRIDES), over);
}
