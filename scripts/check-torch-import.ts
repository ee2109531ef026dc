/**
 * Checks the import of full-size networks written by `scripts/make-torch-fixtures.py --full DIR`
 * (not committed: ~60 MB for VGG16-BN): the project's logits against PyTorch's for both
 * architectures and every file kind. Prints one JSON object on its last line; exits 1 when a
 * difference exceeds 1e-4.
 *
 * Usage: node --import tsx scripts/check-torch-import.ts DIR
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTorchFile } from '../lib/io/torchFile';
import { readCheckpoint } from '../lib/models/import/torchCheckpoint';
import { networkFromCheckpoint } from '../lib/models/import/toNetwork';
import { toModelInput } from '../lib/runtime/modelInput';

const TOL = 1e-4;

async function main(): Promise<number> {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node --import tsx scripts/check-torch-import.ts DIR\n');
    return 2;
  }
  await tf.setBackend('cpu');
  const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
  const { count, height, width, file } = expected.inputs;
  const x = Float32Array.from(readFileSync(join(dir, file)), (v) => v / 255);
  const results: Record<string, { maxAbsLogitDiff: number; seconds: number }> = {};
  let ok = true;
  for (const arch of ['cnnModel1', 'vgg16bn'] as const) {
    for (const kind of ['export.pkl', 'learnsave.pth', 'state_dict.pt']) {
      const t0 = Date.now();
      const ckpt = readCheckpoint(loadTorchFile(join(dir, `${arch}_${kind}`)));
      const { model, config } = networkFromCheckpoint(ckpt, arch, kind);
      const seconds = (Date.now() - t0) / 1000;
      const got = tf.tidy(() => (model.predict(toModelInput(x, count, height, width, 3, config.inputNormalization)) as tf.Tensor).dataSync());
      model.dispose();
      const want = (expected[arch][config.inputNormalization ? 'logitsNormalized' : 'logitsRaw'] as number[][]).flat();
      let d = 0;
      for (let i = 0; i < want.length; i++) d = Math.max(d, Math.abs(got[i] - want[i]));
      results[`${arch}/${ckpt.kind}`] = { maxAbsLogitDiff: d, seconds };
      process.stderr.write(`${arch} ${ckpt.kind}: width ${config.widthMultiplier}, max |logit diff| ${d.toExponential(2)}, import ${seconds.toFixed(1)} s\n`);
      if (!(d < TOL)) ok = false;
    }
  }
  process.stdout.write(JSON.stringify({ dir, widthMultiplier: expected.widthMultiplier, tolerance: TOL, ok, results }) + '\n');
  return ok ? 0 : 1;
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
