import { defineCommand } from './command';
import { ARCH_OPTION, CACHE_OPTION, DATA_OPTION, QUIET_OPTION } from './options';
import { SEED_OPTION, SIZE_OPTION } from './generate';
import type { Architecture } from '../config';
import { QUICK_OVERRIDES } from '../train/pipeline/index';
import { formatMainJobSummary, runMainJob } from '../job/mainJob';

/** `fat2019 demo`: the main job. */
export const demoCommand = defineCommand({
  name: 'demo',
  summary: 'The main job: data → preprocess → 4-stage training → inference → submission → score',
  usage: 'demo [options]',
  description: `Runs the whole pipeline on one data folder and prints a summary: backend, time per phase,
cross-validated lwlrap per warm-up stage, and the test lwlrap of the ensemble next to a
trivial baseline (every clip gets each class's training frequency).

Without options it uses the built-in demo dataset (generated into data/demo from CC0 Sonic Pi
recordings on first use) and the quick CPU setting: about 1 minute on 2 cores. Everything
resumes: rerunning reuses the data, the feature cache and each finished (stage, fold).`,
  options: {
    data: {
      ...DATA_OPTION, default: 'data/demo',
      help: 'Kaggle-layout data folder, generated when absent; point it at data/fsdkaggle2019 once the Kaggle audio is there',
    },
    run: { type: 'string', arg: '<dir>', help: 'run folder', default: 'weights/demo' },
    cache: CACHE_OPTION,
    arch: { ...ARCH_OPTION, default: 'cnnModel1' as Architecture },
    full: {
      type: 'boolean', default: false,
      help: 'the reference configuration (full-width models, 10 folds, 100 epochs per stage, batch 128): days on a CPU, meant for tfjs-node-gpu',
    },
    size: { ...SIZE_OPTION, help: 'demo data size when generating: tiny or small' },
    seed: { ...SEED_OPTION, help: 'demo data seed' },
    quiet: { ...QUIET_OPTION, help: 'no training progress bars' },
  },
  positionals: 'none',
  examples: ['fat2019 demo --data data/fsdkaggle2019 --run weights/fsd-quick'],
  async run(o) {
    const summary = await runMainJob({
      dataDir: o.data,
      runDir: o.run,
      cacheDir: o.cache,
      arch: o.arch,
      overrides: o.full ? {} : QUICK_OVERRIDES,
      demoSize: o.size,
      seed: o.seed,
      progress: !o.quiet && process.stderr.isTTY === true,
    });
    process.stdout.write(formatMainJobSummary(summary));
    return 0;
  },
});
