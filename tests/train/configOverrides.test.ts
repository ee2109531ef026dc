/**
 * Every setting on the command line (lib/util/configPath, lib/train/pipeline/configOverrides):
 * `--set path=value` typed against CONFIG_DEFAULTS, "did you mean", the shortcuts,
 * `--show-config` with each value's origin; and the data rules (lib/train/pipeline/dataRules):
 * chosen only for fields nobody set, never for --quick or the reference recipe. Bad paths and
 * values exit 2 and write nothing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeWavPcm16 } from '../../lib/audio/index';
import { CONFIG_DEFAULTS, withDefaults } from '../../lib/config';
import { trainCommand } from '../../lib/cli/train';
import { detectLayout } from '../../lib/data/layout';
import { QUICK_OVERRIDES } from '../../lib/train/pipeline/presets';
import { configChoices, flagOverrides } from '../../lib/train/pipeline/configOverrides';
import { dataRules, MIN_STAGE_STEPS } from '../../lib/train/pipeline/dataRules';
import { formatResolvedConfig, resolveTrainConfig } from '../../lib/train/pipeline/trainConfig';
import { leafPaths, parseAssignments, suggestPaths } from '../../lib/util/configPath';
import { UsageError } from '../../lib/util/options';
import { writeTinyData } from '../support/pipelineFixture';
import { runCli } from '../support/runCli';

let root = '';
let folders = '';
let kaggle = '';

/** `<dir>/train/<label>/*.wav`: `perClass` short 8 kHz tones per class. */
function writeFolders(dir: string, perClass: number): void {
  for (const [label, f] of [['low', 300], ['high', 1800]] as const) {
    for (let i = 0; i < perClass; i++) {
      const x = new Float32Array(4000);
      for (let j = 0; j < x.length; j++) x[j] = 0.3 * Math.sin((2 * Math.PI * f * j) / 8000 + i);
      fs.mkdirSync(path.join(dir, 'train', label), { recursive: true });
      fs.writeFileSync(path.join(dir, 'train', label, `${label}${i}.wav`), encodeWavPcm16(x, 8000));
    }
  }
}

const train = (argv: string[]) => runCli(trainCommand, argv);

before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fat2019-overrides-'));
  folders = path.join(root, 'folders');
  writeFolders(folders, 30);
  kaggle = path.join(root, 'kaggle');
  writeTinyData(kaggle, 12, 16);
});

after(() => fs.rmSync(root, { recursive: true, force: true }));

test('parseAssignments: types from the defaults, lists, choices, JSON for null fields', () => {
  const a = parseAssignments(CONFIG_DEFAULTS, [
    'train.batchSize=32', 'augment.mixup.enabled=false', 'pipeline.stageEpochs=5,10', 'pipeline.stageMaxLr=[0.01,0.003]',
    'task.name=singleLabel', 'augment.specAugment.fill=0.5', 'model.inputNormalization={"mean":[0.5,0.5,0.5],"std":[0.2,0.2,0.2]}',
  ], configChoices());
  assert.deepEqual(a.map((x) => x.value), [32, false, [5, 10], [0.01, 0.003], 'singleLabel', 0.5, { mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2] }]);
  const bad: [string, RegExp][] = [
    ['train.batchSize=many', /train\.batchSize takes a number, got "many"/],
    ['augment.mixup.enabled=maybe', /takes true or false, got "maybe"/],
    ['pipeline.stageEpochs=a,b', /takes a list of numbers/],
    ['task.name=multi', /takes one of multiLabel, singleLabel/],
    ['augment.mixup=false', /augment\.mixup is a section, not a field; set its fields, e\.g\. augment\.mixup\.enabled/],
    ['train.batchsize=3', /unknown setting "train\.batchsize"; did you mean train\.batchSize/],
    ['augment.mixp.alpha=1', /did you mean augment\.mixup\.alpha/],
    ['batchSize', /takes path=value/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseAssignments(CONFIG_DEFAULTS, [text], configChoices()), (e: Error) => e instanceof UsageError && re.test(e.message), text);
  assert.throws(() => parseAssignments(CONFIG_DEFAULTS, ['train.seed=1', 'train.seed=2']), /given twice/);
  assert.deepEqual(suggestPaths(CONFIG_DEFAULTS, 'batchSize'), ['train.batchSize', 'infer.batchSize']);
  assert.deepEqual(suggestPaths(CONFIG_DEFAULTS, 'zzzzzzzzzzzzzzzzzzzzzz'), []);
  // Every leaf of the config is reachable (the paths --show-config prints).
  assert.ok(leafPaths(CONFIG_DEFAULTS).includes('augment.waveform.noise.color'));
});

test('flagOverrides: shortcuts, ranges, contradictions, per-stage fields', () => {
  const o = flagOverrides({ 'batch-size': '32', lr: '0.005', seed: '7', 'no-mixup': true, specmix: true, set: ['augment.zoom.enabled=false'] });
  assert.deepEqual(o.map((x) => [x.path, x.value]), [
    ['train.batchSize', 32], ['pipeline.stageMaxLr', [0.005, 0.005, 0.005, 0.005]], ['train.seed', 7],
    ['augment.mixup.enabled', false], ['augment.specMix.enabled', true], ['augment.zoom.enabled', false],
  ]);
  assert.throws(() => flagOverrides({ 'batch-size': '0' }), /train\.batchSize must be an integer >= 1, got 0/);
  assert.throws(() => flagOverrides({ 'batch-size': '8.5' }), /must be an integer >= 1/);
  assert.throws(() => flagOverrides({ lr: 'fast' }), /--lr must be a number, got "fast"/);
  assert.throws(() => flagOverrides({ lr: '-1' }), /pipeline\.stageMaxLr must be > 0/);
  assert.throws(() => flagOverrides({ set: ['augment.zoom.p=1.5'] }), /probability in \[0, 1\]/);
  assert.throws(() => flagOverrides({ mixup: true, 'no-mixup': true }), /--mixup and --no-mixup contradict/);
  assert.throws(() => flagOverrides({ 'batch-size': '8', set: ['train.batchSize=16'] }), /contradicts --batch-size 8/);
  assert.equal(flagOverrides({ 'batch-size': '8', set: ['train.batchSize=8'] }).length, 1, 'the same value twice is fine');
  assert.throws(() => flagOverrides({ set: ['train.epochs=5'] }), /pipeline\.stageEpochs \(or --epochs\)/);
  assert.throws(() => flagOverrides({ set: ['optimizer.maxLr=0.1'] }), /pipeline\.stageMaxLr \(or --lr\)/);
});

test('resolveTrainConfig: layers and origins; a --set contradicting a named flag is an error', () => {
  const layout = detectLayout(folders);
  const r = resolveTrainConfig(path.join(root, 'none'), folders, { epochs: '10', 'batch-size': '4', set: ['augment.zoom.enabled=false', 'model.headUnits=64'] }, layout);
  assert.equal(r.config.train.batchSize, 4);
  assert.equal(r.config.model.headUnits, 64);
  assert.equal(r.config.augment.zoom.enabled, false);
  assert.deepEqual(r.origins.get('train.batchSize'), { source: 'flag', detail: '--batch-size 4' });
  assert.deepEqual(r.origins.get('augment.zoom.enabled'), { source: 'flag', detail: '--set augment.zoom.enabled=false' });
  assert.deepEqual(r.origins.get('pipeline.stageEpochs'), { source: 'flag', detail: '--epochs 10' });
  assert.equal(r.origins.get('model.numClasses')?.source, 'data');
  assert.equal(r.origins.get('preprocess.sampleRate')?.source, 'data');
  assert.equal(r.origins.get('optimizer.beta2')?.source, 'default');
  assert.equal(r.origins.get('augment.mixup.enabled')?.source, 'data rule');
  const text = formatResolvedConfig(r);
  assert.match(text, /\n {2}train\.batchSize = 4 +flag: --batch-size 4\n/);
  assert.match(text, /augment\.mixup\.enabled = false +data rule: mixup off: 10 epochs per stage/);
  assert.throws(() => resolveTrainConfig(path.join(root, 'none'), folders, { epochs: '10', set: ['pipeline.stageEpochs=5,5,5,5'] }, layout), /contradicts --epochs 10/);
  assert.throws(() => resolveTrainConfig(path.join(root, 'none'), folders, { preset: 'fast' }, layout), /--preset must be one of reference, quick/);
});

test('data rules: batch from clips × epochs, short runs without mixup/SpecMix/dropout; flags and presets win', () => {
  const layout = detectLayout(folders); // 60 clips
  const none = path.join(root, 'none');
  // 60 clips, folds 1, 10 epochs: no batch reaches MIN_STAGE_STEPS, so the smallest (8).
  let r = resolveTrainConfig(none, folders, { epochs: '10', folds: '1' }, layout);
  assert.equal(r.config.train.batchSize, 8);
  assert.match(r.ruleChoices[0].reason, /^batch 8: 60 training clips × 10 epochs → 7 steps per epoch, 70 steps \(the smallest batch/);
  assert.equal(r.config.augment.mixup.enabled, false);
  assert.equal(r.config.augment.specMix.enabled, false);
  assert.equal(r.config.model.headDropout1, 0);
  assert.equal(r.config.pipeline.stageMaxLr[0], 1e-2);
  // An oracle of the batch rule: the largest of 128..8 with epochs × ceil(n / b) ≥ MIN_STAGE_STEPS.
  for (const epochs of [10, 60, 100, 400]) {
    r = resolveTrainConfig(none, folders, { epochs: String(epochs), folds: '1' }, layout);
    const expected = [128, 64, 32, 16, 8].find((b) => epochs * Math.max(1, Math.floor(60 / Math.min(b, 60))) >= MIN_STAGE_STEPS) ?? 8;
    assert.equal(r.config.train.batchSize, expected, `${epochs} epochs`);
    // Long runs keep the reference's regularisation.
    assert.equal(r.config.augment.mixup.enabled, epochs < 30 ? false : true);
  }
  // 5 folds: a stage trains on 4/5 of the clips.
  assert.match(dataRules(layout, withDefaults(r.config, { pipeline: { folds: 5, stageEpochs: [10, 10, 10, 10] } }), new Set())[0].reason, /48 training clips/);
  // Flags win over the rules; --no-mixup is kept as given, --mixup too.
  r = resolveTrainConfig(none, folders, { epochs: '10', 'batch-size': '32', mixup: true, lr: '0.002' }, layout);
  assert.equal(r.config.train.batchSize, 32);
  assert.equal(r.config.augment.mixup.enabled, true);
  assert.equal(r.config.pipeline.stageMaxLr[0], 0.002);
  assert.equal(r.config.augment.specMix.enabled, false, 'SpecMix still chosen by the rule');
  // --quick and --preset reference: no rules.
  r = resolveTrainConfig(none, folders, { quick: true }, layout);
  assert.equal(r.ruleChoices.length, 0);
  assert.deepEqual(r.config.train, withDefaults(CONFIG_DEFAULTS, QUICK_OVERRIDES).train);
  r = resolveTrainConfig(none, folders, { preset: 'reference', epochs: '10' }, layout);
  assert.equal(r.ruleChoices.length, 0);
  assert.equal(r.config.train.batchSize, 128);
  assert.equal(r.config.augment.mixup.enabled, true);
});

test('the reference recipe on the Kaggle layout is untouched by the rules', () => {
  const layout = detectLayout(kaggle);
  const r = resolveTrainConfig(path.join(root, 'none'), kaggle, {}, layout);
  assert.equal(r.config.pipeline.recipe, 'warmup');
  assert.equal(r.ruleChoices.length, 0);
  for (const section of ['train', 'augment', 'optimizer'] as const) assert.deepEqual(r.config[section], withDefaults(CONFIG_DEFAULTS)[section]);
  assert.deepEqual(r.config.pipeline.stageMaxLr, CONFIG_DEFAULTS.pipeline.stageMaxLr);
  assert.equal(r.config.model.headDropout1, CONFIG_DEFAULTS.model.headDropout1);
  // Another recipe on the same data gets the rules.
  assert.ok(resolveTrainConfig(path.join(root, 'none'), kaggle, { recipe: 'single', epochs: '5' }, layout).ruleChoices.length > 0);
  // A recipe whose first stage trains on the noisy set counts those clips (16, 9 of 10 folds).
  assert.match(resolveTrainConfig(path.join(root, 'none'), kaggle, { recipe: 'noisyThenCurated', epochs: '5' }, layout).ruleChoices[0].reason, /^batch 8: 14 training clips × 5 epochs/);
});

test('fat2019 train: bad --set paths and values exit 2 and write nothing; --show-config prints and writes nothing', async () => {
  const cases: [string[], RegExp][] = [
    [['--set', 'train.batchsize=3'], /unknown setting "train\.batchsize"; did you mean train\.batchSize/],
    [['--set', 'augment.mixup.enabled=maybe'], /takes true or false/],
    [['--batch-size', '0'], /must be an integer >= 1/],
    [['--batch-size', '8', '--set', 'train.batchSize=16'], /contradicts --batch-size 8/],
    [['--specmix', '--no-specmix'], /contradict each other/],
    [['--set', 'model.arch=foo'], /model\.arch takes one of cnnModel1/],
  ];
  for (const [extra, re] of cases) {
    const run = path.join(root, `bad-${extra.join('_').replace(/[^\w]/g, '')}`);
    const r = await train(['--run', run, '--data', folders, '--cache', path.join(root, 'cache'), '--quiet', ...extra]);
    assert.equal(r.code, 2, extra.join(' '));
    assert.match(r.err, re, extra.join(' '));
    assert.equal(fs.existsSync(run), false, `${extra.join(' ')}: nothing written`);
  }
  const run = path.join(root, 'show');
  const r = await train(['--run', run, '--data', folders, '--cache', path.join(root, 'cache'), '--epochs', '10', '--seed', '5', '--show-config']);
  assert.equal(r.code, 0);
  assert.match(r.out, /train\.seed = 5 +flag: --seed 5/);
  assert.match(r.out, /train\.batchSize = 8 +data rule: batch 8/);
  assert.match(r.out, /optimizer\.beta1Max = 0\.95 +default/);
  assert.equal(fs.existsSync(run), false, '--show-config writes nothing');
  assert.equal(fs.existsSync(path.join(root, 'cache')), false);
});

test('notebooks: SET settings go through the same checks and win over the notebook setting', async () => {
  const { ownDataConfig } = await import('../../lib/notebook/ownData');
  const { trainingConfig } = await import('../../lib/notebook/pipeline');
  const { withSettings } = await import('../../lib/train/pipeline/configOverrides');
  const setting = { folds: 2, holdout: 0, stageEpochs: [8, 8, 4, 4], batchSize: 8, widthMultiplier: 1 / 8, headDropout: [0, 0] };
  const layout = detectLayout(folders);
  const c = ownDataConfig(path.join(root, 'nb-none'), layout, setting, { task: 'auto', recipe: 'auto', set: ['train.batchSize=4', 'augment.lighting.enabled=false'] });
  assert.equal(c.train.batchSize, 4, 'SET wins over the setting');
  assert.equal(c.augment.lighting.enabled, false);
  assert.equal(ownDataConfig(path.join(root, 'nb-none'), layout, setting, { task: 'auto', recipe: 'auto' }).train.batchSize, 8);
  assert.throws(() => ownDataConfig(path.join(root, 'nb-none'), layout, setting, { task: 'auto', recipe: 'auto', set: ['train.batchsize=4'] }), /did you mean train\.batchSize/);
  const t = trainingConfig('cnnModel1', { ...setting, stages: [1, 2, 3, 4], stageMaxLr: [1e-2, 5e-3, 3e-3, 3e-3] }, { dataDir: kaggle, set: ['train.seed=11'] });
  assert.equal(t.train.seed, 11);
  assert.equal(t.train.batchSize, 8);
  assert.throws(() => withSettings(t, ['augment.zoom.p=2']), /probability/);
});
