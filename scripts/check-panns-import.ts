/**
 * Checks the import of a full-size PANNs Cnn14 written by `scripts/make-panns-fixtures.py --full
 * DIR` (not committed: 327 MB, the real checkpoints' layout with real-size STFT and mel tensors,
 * random weights): the project's logits against PyTorch's on the fixture clip's log-mel. Prints
 * one JSON object on its last line; exits 1 when a difference exceeds 1e-4.
 *
 * Usage: node --import tsx scripts/check-panns-import.ts DIR
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTorchFile } from '../lib/io/torchFile';
import { readCheckpoint } from '../lib/models/import/torchCheckpoint';
import { networkFromCheckpoint } from '../lib/models/import/toNetwork';
import { countTrainableParams } from '../lib/models/index';

const TOL = 1e-4;

async function main(): Promise<number> {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node --import tsx scripts/check-panns-import.ts DIR\n');
    return 2;
  }
  await tf.setBackend('cpu');
  const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { file: string; arch: string; mels: number; frames: number; logits: number[] };
  const bytes = readFileSync(join(dir, 'logmel.f32'));
  const db = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const t0 = Date.now();
  const { model, config } = networkFromCheckpoint(readCheckpoint(loadTorchFile(join(dir, expected.file))), expected.arch, expected.file);
  const seconds = (Date.now() - t0) / 1000;
  const got = tf.tidy(() => (model.predict(tf.tensor4d(db, [1, expected.mels, expected.frames, 1])) as tf.Tensor).dataSync());
  const params = countTrainableParams(model);
  model.dispose();
  let d = 0;
  for (let i = 0; i < got.length; i++) d = Math.max(d, Math.abs(got[i] - expected.logits[i]));
  const result = { arch: expected.arch, widthMultiplier: config.widthMultiplier, numClasses: config.numClasses, params, maxAbsLogitDiff: d, importSeconds: seconds, ok: d <= TOL };
  process.stdout.write(JSON.stringify(result) + '\n');
  return result.ok ? 0 : 1;
}

main().then((code) => { process.exitCode = code; }, (err) => { process.stderr.write(`${(err as Error).stack}\n`); process.exitCode = 1; });
