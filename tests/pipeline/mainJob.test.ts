import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatMainJobSummary, runMainJob } from '../../lib/job/index';
import { QUICK_OVERRIDES } from '../../lib/train/pipeline/presets';
import { readSubmission } from '../../lib/data/submission';
import { readVocabulary } from '../../lib/data/labels';
import { runCommand } from '../../lib/cli/command';
import { inferCommand } from '../../lib/cli/infer';
import { loadOnnxRuntime } from '../../lib/runtime/onnxRuntime';

// The main job (`npm start`) end to end on the tiny demo set: data generated, preprocessed,
// all 4 stages trained (1 epoch each, a 1/16-wide model), ensemble inference, scores.
test('main job: generate → preprocess → 4 stages → submission → scores, then a rerun resumes everything', { timeout: 10 * 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-main-'));
  try {
    const overrides = {
      ...QUICK_OVERRIDES,
      model: { widthMultiplier: 1 / 16, headDropout1: 0, headDropout2: 0 },
      train: { batchSize: 16 },
      pipeline: { folds: 2, stageEpochs: [1, 1, 1, 1], stageMaxLr: [1e-2, 5e-3, 3e-3, 3e-3] },
    };
    const lines: string[] = [];
    const options = {
      dataDir: join(dir, 'demo'),
      runDir: join(dir, 'run'),
      cacheDir: join(dir, 'features'),
      arch: 'cnnModel1' as const,
      overrides,
      demoSize: 'tiny' as const,
      seed: 7,
      log: (l: string) => lines.push(l),
    };
    const summary = await runMainJob(options);
    assert.deepEqual(summary.phases.map((p) => p.name), ['data', 'preprocess', 'train (warm-up stages 1-4)', 'infer', 'score']);
    assert.deepEqual(summary.stages.map((s) => s.stage), [1, 2, 3, 4]);
    for (const s of summary.stages) assert.ok(s.cvCurated !== null && s.cvCurated > 0 && s.cvCurated <= 1, `stage ${s.stage} CV ${s.cvCurated}`);
    assert.match(summary.ensemble, /^6 models: cnnModel1 stages 2, 3, 4 × 2 folds$/);

    // A valid submission over every test clip, in sample_submission order and columns.
    const vocabulary = readVocabulary(join(options.dataDir, 'sample_submission.csv'));
    const sub = readSubmission(summary.submissionPath, vocabulary);
    const expected = readFileSync(join(options.dataDir, 'sample_submission.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[0]);
    assert.deepEqual(sub.fnames, expected);

    // Scores on both splits for the model and the baseline; the saved summary matches.
    assert.ok(summary.test, 'test labels present in the demo set');
    for (const r of [summary.test!.model, summary.test!.baseline]) {
      assert.deepEqual(Object.keys(r.perSplit).sort(), ['Private', 'Public']);
      assert.ok(r.overall > 0 && r.overall <= 1);
    }
    assert.deepEqual(JSON.parse(readFileSync(join(options.runDir, 'summary.json'), 'utf8')), JSON.parse(JSON.stringify(summary)));
    const text = formatMainJobSummary(summary);
    assert.match(text, /stage 4 \(\+\d+ noisy clips\)/);
    assert.match(text, /baseline \(classes by training frequency\)/);

    // Rerun: data, features and every (stage, fold) are reused; the results are identical.
    const trainLines = lines.filter((l) => /training on/.test(l)).length;
    assert.equal(trainLines, 8, '4 stages × 2 folds trained');
    lines.length = 0;
    const again = await runMainJob(options);
    assert.equal(lines.filter((l) => /training on/.test(l)).length, 0, 'nothing retrained');
    assert.ok(lines.some((l) => l.startsWith('using the data in')), 'data not regenerated');
    assert.deepEqual(again.stages, summary.stages);
    assert.deepEqual(again.test, summary.test);
    assert.ok(existsSync(join(options.runDir, 'baseline_submission.csv')));

    // The trained run on both engines (issue 13): ONNX Runtime and tfjs submissions agree.
    if (loadOnnxRuntime().ort) {
      const subs = [];
      for (const engine of ['ort', 'tfjs']) {
        const out = join(dir, `sub-${engine}.csv`);
        const code = await runCommand(inferCommand, ['--run', options.runDir, '--data', options.dataDir, '--cache', options.cacheDir, '--engine', engine, '--out', out, '--quiet']);
        assert.equal(code, 0, `infer --engine ${engine}`);
        subs.push(readSubmission(out, vocabulary));
      }
      assert.deepEqual(subs[0].fnames, subs[1].fnames);
      const a = subs[0].scores;
      const b = subs[1].scores;
      let maxDiff = 0;
      for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
      assert.ok(maxDiff <= 1e-4, `ort vs tfjs submissions differ by ${maxDiff}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('main job: a data folder of other files without the Kaggle CSVs is an error, not overwritten', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fat2019-main-'));
  try {
    const dataDir = join(dir, 'fsd');
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'train_curated_post_competition.csv'), 'fname,labels\n');
    await assert.rejects(
      runMainJob({ dataDir, runDir: join(dir, 'run'), cacheDir: join(dir, 'f'), arch: 'cnnModel1', overrides: {}, demoSize: 'tiny', seed: 1, log: () => undefined }),
      /fsd: no train_curated\.csv \(Kaggle layout/,
    );
    assert.deepEqual(readdirSync(dataDir), ['train_curated_post_competition.csv']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
