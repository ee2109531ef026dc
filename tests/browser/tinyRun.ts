/**
 * A run folder made in seconds for the web tests: untrained networks at 1/16 width (random
 * weights, so the probabilities still depend on the audio) and run.json. Members: cnnModel1
 * stage 2 folds 0 and 1, and an xresnet18 with Mish activations (a custom layer that the page
 * must register to load the model).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CONFIG_DEFAULTS, withDefaults } from '../../lib/config';
import { encodeWavPcm16 } from '../../lib/audio/wav';
import { buildModel } from '../../lib/models/index';
import { saveModel } from '../../lib/runtime/modelFile';
import { writeFoldDone, writeRunInfo } from '../../lib/run/runFolder';
import { Rng } from '../../lib/util/rng';

export const TINY_VOCABULARY = ['Bark', 'Bell', 'Meow', 'Purr', 'Siren', 'Whistle'];

/** Writes the run to `runDir`. */
export async function writeTinyRun(runDir: string): Promise<void> {
  await tf.setBackend('cpu');
  const config = withDefaults(CONFIG_DEFAULTS, { model: { numClasses: TINY_VOCABULARY.length, widthMultiplier: 0.0625 } });
  writeRunInfo(runDir, { version: 1, config, vocabulary: TINY_VOCABULARY, dataDir: 'data/none', createdAt: new Date(0).toISOString() });
  for (const fold of [0, 1]) {
    const model = buildModel(config.model, { seed: 11 + fold });
    await saveModel(model, join(runDir, 'cnnModel1', 'stage2', `fold${fold}`, 'best'));
    model.dispose();
    writeFoldDone(runDir, { arch: 'cnnModel1', stage: 2, fold, epochs: 1, bestValidLwlrap: null, trainClips: 1, validClips: 1, seconds: 1, finishedAt: '' });
  }
  const mish = buildModel({ ...config.model, arch: 'xresnet18', xresnetActivation: 'mish' }, { seed: 13 });
  await saveModel(mish, join(runDir, 'xresnet18', 'stage2', 'fold0', 'best'));
  mish.dispose();
  writeFoldDone(runDir, { arch: 'xresnet18', stage: 2, fold: 0, epochs: 1, bestValidLwlrap: null, trainClips: 1, validClips: 1, seconds: 1, finishedAt: '' });
}

/** A test clip: `seconds` of a chirp with bursts of noise, 16-bit PCM WAV at `sampleRate`. */
export function writeTestClip(file: string, seconds: number, sampleRate = 44100, seed = 1): void {
  const rng = new Rng(seed);
  const n = Math.round(seconds * sampleRate);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / sampleRate;
    const burst = Math.floor(t * 2) % 3 === 0 ? 0.3 * (rng.uniform() - 0.5) : 0;
    x[i] = 0.4 * Math.sin(2 * Math.PI * (300 + 400 * t) * t) + burst;
  }
  writeFileSync(file, encodeWavPcm16(x, sampleRate));
}
