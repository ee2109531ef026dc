/**
 * Importing PyTorch / fastai v1 weights: the safe unpickler (lib/io/pickle), torch.load without
 * Python (lib/io/torchFile), the layer mapping (lib/models/import) and the run folder it fills
 * (lib/run/importWeights, `fat2019 import-weights`). Oracle: PyTorch's logits and pickles from
 * scripts/make-torch-fixtures.py (Debian python3-torch), committed in tests/fixtures/torchimport.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { unpickle, PyObject, PyGlobal, type NdArray } from '../../lib/io/pickle';
import { loadTorchBytes, loadTorchFile, tensorToFloat32, TorchStorage, TorchTensor } from '../../lib/io/torchFile';
import { readCheckpoint } from '../../lib/models/import/torchCheckpoint';
import { networkFromCheckpoint } from '../../lib/models/import/toNetwork';
import { toModelInput } from '../../lib/runtime/modelInput';
import { importWeights, stageFoldFromName } from '../../lib/run/importWeights';
import { readRunInfo } from '../../lib/run/runFolder';
import { loadEnsemble, predictImages } from '../../lib/infer/index';
import { encodeWavPcm16 } from '../../lib/audio/wav';
import { importWeightsCommand } from '../../lib/cli/importWeights';
import { tagCommand } from '../../lib/cli/tag';
import { runCommand } from '../../lib/cli/command';
import { loadOnnxRuntime } from '../../lib/runtime/onnxRuntime';
import { scoreClipWindows } from '../../lib/web/windowScores';
import { INFER_DEFAULTS } from '../../lib/config';

const DIR = join(__dirname, '..', 'fixtures', 'torchimport');
const fixture = (name: string) => join(DIR, name);
interface Expected {
  inputs: { file: string; count: number; height: number; width: number };
  widthMultiplier: number;
  classes: string[];
  normalization: { mean: number[]; std: number[] };
  cnnModel1: { logitsNormalized: number[][]; logitsRaw: number[][] };
  vgg16bn: { logitsNormalized: number[][]; logitsRaw: number[][] };
}
const EXPECTED = JSON.parse(readFileSync(fixture('expected.json'), 'utf8')) as Expected;
const { count: N, height: H, width: W } = EXPECTED.inputs;
const INPUT_U8 = readFileSync(fixture(EXPECTED.inputs.file));
const INPUT = Float32Array.from(INPUT_U8, (v) => v / 255);
const ARCHS = ['cnnModel1', 'vgg16bn'] as const;
const KINDS = [
  { file: 'export.pkl', kind: 'export', format: 'legacy', normalized: true },
  { file: 'learnsave.pth', kind: 'learn.save', format: 'legacy', normalized: false },
  { file: 'state_dict.pt', kind: 'state_dict', format: 'zip', normalized: false },
] as const;
/** Logits tolerance (the issue's): float32 sums in another order. */
const TOL = 1e-4;

let root = '';
before(async () => {
  await tf.setBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'fat2019-torchimport-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function maxDiff(a: ArrayLike<number>, b: number[][]): number {
  const flat = b.flat();
  assert.equal(a.length, flat.length);
  let m = 0;
  for (let i = 0; i < flat.length; i++) m = Math.max(m, Math.abs(a[i] - flat[i]));
  return m;
}

/** Plain JSON of unpickled values, for comparison with what Python wrote. */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return [...v];
  if (v instanceof Set) return [...v].map(plain).sort();
  if (v instanceof Map) return [...v].map(([k, x]) => [plain(k), plain(x)]);
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof PyObject && v.qualifiedName === 'functools.partial') return (v.args[0] as PyGlobal).qualifiedName;
  if (v && typeof v === 'object' && (v as NdArray).kind === 'ndarray') return { shape: (v as NdArray).shape, data: (v as NdArray).data };
  return v;
}

test('unpickler: every protocol 0–5 gives the values Python pickled', () => {
  const expected = JSON.parse(readFileSync(fixture('protocols.json'), 'utf8')) as Record<string, unknown>;
  for (let proto = 0; proto <= 5; proto++) {
    const name = `protocol${proto}.pkl`;
    const bytes = readFileSync(fixture(name));
    const { value, end } = unpickle(bytes, { source: name });
    assert.equal(end, bytes.length, `${name}: STOP at the end`);
    assert.ok(value instanceof Map);
    for (const [key, want] of Object.entries(expected)) {
      if (key === 'strided') continue; // strided.pth's values (test below)
      assert.deepEqual(plain(value.get(key)), want, `${name}: ${key}`);
    }
    // a list pickled twice is one object (memo)
    const shared = value.get('shared') as unknown[][];
    assert.equal(shared[0], shared[1], `${name}: memoised object shared`);
  }
});

test('unpickler: refuses calls outside the allow-list, naming them, and executes nothing', () => {
  assert.throws(() => loadTorchFile(fixture('hostile_os_system.pkl')), (e: Error) => /hostile_os_system\.pkl/.test(e.message) && /posix\.system/.test(e.message) && /refused/.test(e.message));
  assert.throws(() => loadTorchFile(fixture('hostile_eval.pkl')), (e: Error) => /builtins\.eval/.test(e.message) && /refused/.test(e.message));
  assert.equal(existsSync('/tmp/fat2019-pwned'), false);
  // REDUCE of an unknown function (not a data class namespace) is refused too
  const enc = new TextEncoder();
  const evil = new Uint8Array([0x80, 0x02, ...enc.encode('cnumpy\nload\n'), ...enc.encode('X'), 1, 0, 0, 0, ...enc.encode('f'), 0x85, 0x52, 0x2e]);
  assert.throws(() => unpickle(evil, { source: 'evil' }), /refused: the pickle calls numpy\.load/);
  // GLOBAL of subprocess is refused even without a call
  assert.throws(() => unpickle(new Uint8Array([...enc.encode('csubprocess\nPopen\n.')]), { source: 'g' }), /subprocess\.Popen/);
  // a fastai class via REDUCE becomes a record (data), not a call
  const rec = unpickle(new Uint8Array([0x80, 0x02, ...enc.encode('cfastai.basic_data\nDatasetType\n'), 0x4b, 1, 0x85, 0x52, 0x2e])).value;
  assert.ok(rec instanceof PyObject);
  assert.equal(rec.qualifiedName, 'fastai.basic_data.DatasetType');
  assert.deepEqual(rec.args, [1]);
});

test('torch files: legacy (cuda:0 storages) and zip formats load on the CPU', () => {
  for (const arch of ARCHS) {
    for (const k of KINDS) {
      const f = loadTorchFile(fixture(`${arch}_${k.file}`));
      assert.equal(f.format, k.format, `${arch}_${k.file}`);
    }
  }
  const exp = loadTorchFile(fixture('cnnModel1_export.pkl')).value as Map<string, unknown>;
  const mean = (exp.get('data') as Map<string, unknown>).get('normalize') as Map<string, unknown>;
  const t = mean.get('mean') as TorchTensor;
  assert.ok(t instanceof TorchTensor);
  assert.equal(t.storage.location, 'cuda:0');
  assert.ok(t.storage instanceof TorchStorage && t.storage.data !== null);
});

for (const arch of ARCHS) {
  for (const k of KINDS) {
    test(`${arch} ${k.kind} (${k.format}): logits equal PyTorch's within ${TOL}`, () => {
      const ckpt = readCheckpoint(loadTorchFile(fixture(`${arch}_${k.file}`)));
      assert.equal(ckpt.kind, k.kind);
      const { model, config } = networkFromCheckpoint(ckpt, arch, k.file);
      try {
        assert.equal(config.widthMultiplier, EXPECTED.widthMultiplier);
        assert.equal(config.numClasses, EXPECTED.classes.length);
        if (k.normalized) {
          assert.deepEqual(ckpt.classes, EXPECTED.classes);
          assert.ok(config.inputNormalization);
          assert.ok(maxDiff(config.inputNormalization.mean, [EXPECTED.normalization.mean]) < 1e-7);
          assert.ok(maxDiff(config.inputNormalization.std, [EXPECTED.normalization.std]) < 1e-7);
        } else {
          assert.equal(ckpt.classes, null);
          assert.equal(config.inputNormalization, null);
        }
        const logits = tf.tidy(() => (model.predict(toModelInput(INPUT, N, H, W, 3, config.inputNormalization)) as tf.Tensor).dataSync());
        const want = k.normalized ? EXPECTED[arch].logitsNormalized : EXPECTED[arch].logitsRaw;
        const d = maxDiff(logits, want);
        assert.ok(d < TOL, `max |logit difference| ${d}`);
      } finally {
        model.dispose();
      }
    });
  }
}

test('hostile files: truncated legacy and zip files, a storage shorter than its tensor', () => {
  const legacy = readFileSync(fixture('cnnModel1_export.pkl'));
  for (const cut of [10, 200, Math.floor(legacy.length * 0.5), legacy.length - 3]) {
    assert.throws(() => loadTorchBytes(legacy.subarray(0, cut), 'cut.pkl'), (e: Error) => /^cut\.pkl/.test(e.message) && /truncated/.test(e.message), `cut at ${cut}`);
  }
  const zip = readFileSync(fixture('cnnModel1_state_dict.pt'));
  assert.throws(() => loadTorchBytes(zip.subarray(0, zip.length - 30), 'cut.pt'), (e: Error) => /^cut\.pt/.test(e.message));
  assert.throws(() => loadTorchFile(fixture('hostile_short_storage.pt')), (e: Error) =>
    /hostile_short_storage\.pt/.test(e.message) && /tensor \[8,4\] needs 128 bytes of storage 0 but the storage holds 64/.test(e.message));
  assert.throws(() => loadTorchBytes(new TextEncoder().encode('hello world'), 'text.bin'), /text\.bin: not a PyTorch file/);
});

test('a network that is not the architecture: the first differing layer is named', () => {
  const ckpt = readCheckpoint(loadTorchFile(fixture('mismatch_export.pkl')));
  assert.throws(() => networkFromCheckpoint(ckpt, 'cnnModel1', 'mismatch_export.pkl'), (e: Error) =>
    /mismatch_export\.pkl: not cnnModel1/.test(e.message) && /parametric layer 9: the file has Conv2d '0\.0\.2\.conv1\.0' weight \[12, 8, 3, 3\], cnnModel1 expects conv2d 'block3_1_conv' weight \[16, 8, 3, 3\]/.test(e.message));
  const cnn = readCheckpoint(loadTorchFile(fixture('cnnModel1_export.pkl')));
  assert.throws(() => networkFromCheckpoint(cnn, 'vgg16bn', 'cnn.pkl'), /not vgg16bn.*parametric layer 13.*8 conv2d.*13 conv2d/);
  const vgg = readCheckpoint(loadTorchFile(fixture('vgg16bn_export.pkl')));
  assert.throws(() => networkFromCheckpoint(vgg, 'cnnModel1', 'vgg.pkl'), /MaxPool2d, which cnnModel1 does not have/);
});

test('stage and fold from the author\'s file names', () => {
  assert.deepEqual(stageFoldFromName('models/stage-2_fold-7.pkl'), { stage: 2, fold: 7 });
  assert.deepEqual(stageFoldFromName('stage4_fold0.pth'), { stage: 4, fold: 0 });
  assert.equal(stageFoldFromName('export.pkl'), null);
});

test('import-weights: run folder with classes and normalisation; infer and tag use the imported ensemble', async () => {
  const src = join(root, 'src');
  const runDir = join(root, 'run');
  rmSync(src, { recursive: true, force: true });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(src, { recursive: true });
  copyFileSync(fixture('cnnModel1_export.pkl'), join(src, 'stage-2_fold-0.pkl'));
  copyFileSync(fixture('vgg16bn_export.pkl'), join(src, 'stage-3_fold-1.pkl'));
  const silent = { log: () => {} };
  const a = await importWeights(runDir, [{ file: join(src, 'stage-2_fold-0.pkl'), stage: 2, fold: 0 }], { arch: 'cnnModel1', ...silent });
  assert.equal(a.length, 1);
  // the CLI extends the run with the other architecture
  const code = await runCommand(importWeightsCommand, ['--arch', 'vgg16bn', '--run', runDir, '--quiet', join(src, 'stage-3_fold-1.pkl')]);
  assert.equal(code, 0);
  const info = readRunInfo(runDir);
  assert.deepEqual(info.vocabulary, EXPECTED.classes);
  assert.ok(info.config.model.inputNormalization);
  assert.equal(info.config.model.widthMultiplier, EXPECTED.widthMultiplier);
  // an existing member is not overwritten silently
  await assert.rejects(importWeights(runDir, [{ file: join(src, 'stage-2_fold-0.pkl'), stage: 2, fold: 0 }], { arch: 'cnnModel1', ...silent }), /already a member/);
  // (a member with another input normalisation keeps its own: tests/cli/safety.test.ts)

  // Inference on the fixture images (one 128-frame window each) = PyTorch's sigmoid(logits).
  const images = Array.from({ length: N }, (_, i) => ({ nMels: H, frames: W, data: INPUT_U8.subarray(i * H * W, (i + 1) * H * W) }));
  // Both engines: tfjs, and ONNX Runtime (model.onnx exported on first use) where it loads.
  const engines = loadOnnxRuntime().ort ? (['tfjs', 'ort'] as const) : (['tfjs'] as const);
  for (const engine of engines) {
    for (const arch of ARCHS) {
      const ensemble = await loadEnsemble(runDir, { archs: [arch], engine });
      try {
        assert.equal(ensemble.members.length, 1);
        assert.equal(ensemble.engine.engine, engine);
        const probs = await predictImages(ensemble, images);
        const want = EXPECTED[arch].logitsNormalized.map((row) => row.map((z) => 1 / (1 + Math.exp(-z))));
        assert.ok(maxDiff(probs, want) < 1e-5, `${arch} on ${engine}: ${maxDiff(probs, want)}`);
      } finally {
        ensemble.dispose();
      }
    }
  }

  // `fat2019 tag` on a short WAV with the imported two-architecture ensemble
  const wav = join(root, 'clip.wav');
  const samples = Float32Array.from({ length: 44100 }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / 44100));
  writeFileSync(wav, encodeWavPcm16(samples, 44100));
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => { out.push(String(chunk)); return true; }) as typeof process.stdout.write;
  let tagCode: number;
  try {
    tagCode = await runCommand(tagCommand, ['--run', runDir, '--stages', '2,3', '--backend', 'cpu', '--quiet', '--json', wav]);
  } finally {
    process.stdout.write = write;
  }
  assert.equal(tagCode, 0);
  const tagged = JSON.parse(out.join('')) as Array<{ labels: Array<{ label: string; probability: number }> }>;
  assert.equal(tagged[0].labels.length, 5);
  assert.ok(tagged[0].labels.every((l) => EXPECTED.classes.includes(l.label)));
});

test('import-weights: classes put in the vocabulary\'s order; files without classes need --vocabulary', async () => {
  const runDir = join(root, 'run-permuted');
  const reversed = [...EXPECTED.classes].reverse();
  await importWeights(runDir, [{ file: fixture('cnnModel1_export.pkl'), stage: 2, fold: 0 }], { arch: 'cnnModel1', vocabulary: reversed, log: () => {} });
  assert.deepEqual(readRunInfo(runDir).vocabulary, reversed);
  const images = Array.from({ length: N }, (_, i) => ({ nMels: H, frames: W, data: INPUT_U8.subarray(i * H * W, (i + 1) * H * W) }));
  const ensemble = await loadEnsemble(runDir, { engine: 'tfjs' });
  try {
    const probs = await predictImages(ensemble, images);
    const want = EXPECTED.cnnModel1.logitsNormalized.map((row) => [...row].reverse().map((z) => 1 / (1 + Math.exp(-z))));
    assert.ok(maxDiff(probs, want) < 1e-5);
  } finally {
    ensemble.dispose();
  }
  await assert.rejects(importWeights(join(root, 'run-sd'), [{ file: fixture('cnnModel1_state_dict.pt'), stage: 2, fold: 0 }], { arch: 'cnnModel1', log: () => {} }), /--vocabulary/);
  const code = await runCommand(importWeightsCommand, ['--arch', 'cnnModel1', '--run', join(root, 'run-sd'), '--quiet', '--stage', '2', '--fold', '0',
    '--vocabulary', join(__dirname, '..', '..', 'data', 'fsdkaggle2019', 'vocabulary.csv'), fixture('cnnModel1_state_dict.pt')]);
  assert.equal(code, 0);
  assert.equal(readRunInfo(join(root, 'run-sd')).config.model.inputNormalization, null);
});

test('torch files: strided views of one storage, float16 and float64 tensors', () => {
  const want = (JSON.parse(readFileSync(fixture('protocols.json'), 'utf8')) as { strided: Record<string, number[]> }).strided;
  const value = loadTorchFile(fixture('strided.pth')).value as Map<string, TorchTensor>;
  for (const [name, values] of Object.entries(want)) {
    const t = value.get(name)!;
    assert.ok(t instanceof TorchTensor, name);
    assert.deepEqual([...tensorToFloat32(t)], values, name);
  }
  assert.equal(value.get('x')!.storage, value.get('xt')!.storage, 'views share the storage');
});

test('import-weights CLI: usage errors exit 2, bad files exit 1 before writing anything', async () => {
  const err = process.stderr.write.bind(process.stderr);
  const lines: string[] = [];
  process.stderr.write = ((chunk: string) => { lines.push(String(chunk)); return true; }) as typeof process.stderr.write;
  const runDir = join(root, 'run-cli');
  try {
    assert.equal(await runCommand(importWeightsCommand, ['--run', runDir, fixture('cnnModel1_export.pkl')]), 2);
    assert.equal(await runCommand(importWeightsCommand, ['--arch', 'resnet18', '--run', runDir, fixture('cnnModel1_export.pkl')]), 2);
    // several files whose names carry no stage/fold (one such file is the run's stage 1, fold 0: tests/models/panns.test.ts)
    assert.equal(await runCommand(importWeightsCommand, ['--arch', 'cnnModel1', '--run', runDir, fixture('cnnModel1_export.pkl'), fixture('cnnModel1_learnsave.pth')]), 2);
    assert.match(lines.join(''), /does not say its stage and fold/);
    assert.equal(await runCommand(importWeightsCommand, ['--arch', 'cnnModel1', '--run', runDir, '--stage', '2', fixture('cnnModel1_export.pkl')]), 2);
    lines.length = 0;
    assert.equal(await runCommand(importWeightsCommand, ['--arch', 'cnnModel1', '--run', runDir, '--stage', '2', '--fold', '0', fixture('hostile_os_system.pkl')]), 1);
    assert.match(lines.join(''), /posix\.system/);
    assert.equal(existsSync(runDir), false, 'nothing written');
  } finally {
    process.stderr.write = err;
  }
});

test('unpickler: POP of an empty frame removes the MARK, as Python does', () => {
  // MARK, POP (the mark), BININT1 5, STOP
  assert.equal(unpickle(new Uint8Array([0x28, 0x30, 0x4b, 5, 0x2e])).value, 5);
});

test('browser page scorer (lib/web/windowScores) applies the imported input normalisation', async () => {
  const ckpt = readCheckpoint(loadTorchFile(fixture('cnnModel1_export.pkl')));
  const { model, config } = networkFromCheckpoint(ckpt, 'cnnModel1', 'cnnModel1_export.pkl');
  try {
    const image = { nMels: H, frames: W, data: INPUT_U8.subarray(0, H * W) };
    const scores = await scoreClipWindows([model], image, { ...INFER_DEFAULTS }, EXPECTED.classes.length, { normalization: config.inputNormalization });
    const want = [EXPECTED.cnnModel1.logitsNormalized[0].map((z) => 1 / (1 + Math.exp(-z)))];
    assert.ok(maxDiff(scores.clip, want) < 1e-5);
  } finally {
    model.dispose();
  }
});

test('unpickler: type annotations (typing generics, NoneType, Python 2 builtin names) are records', () => {
  const { value } = unpickle(readFileSync(fixture('annotations.pkl')), { source: 'annotations.pkl' });
  const m = value as Map<string, unknown>;
  const size = m.get('size') as PyObject;
  assert.ok(size instanceof PyObject);
  assert.equal(size.qualifiedName, 'operator.getitem');
  assert.equal((size.args[0] as PyGlobal).qualifiedName, 'typing.Union');
  const types = m.get('types') as unknown[];
  assert.deepEqual(types.slice(0, 2).map((t) => (t as PyGlobal).qualifiedName), ['builtins.int', 'builtins.str']);
  assert.equal((types[2] as PyObject).qualifiedName, 'builtins.type');
  // the operator module's call gadgets stay refused
  const enc = new TextEncoder();
  const gadget = new Uint8Array([0x80, 0x02, ...enc.encode('c_operator\nmethodcaller\n'), ...enc.encode('X'), 6, 0, 0, 0, ...enc.encode('system'), 0x85, 0x52, 0x2e]);
  assert.throws(() => unpickle(gadget, { source: 'gadget' }), /refused: the pickle calls operator\.methodcaller/);
});
