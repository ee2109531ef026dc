import { UsageError, defineCommand } from './command';
import { readVocabularyAny } from '../data/labels';
import { importWeights, SINGLE_FILE_MEMBER, stageFoldFromName, type ImportSource } from '../run/importWeights';
import { DATA_OPTION, QUIET_OPTION, RUN_OPTION, parseArchitecture } from './options';
import { IMPORTABLE_ARCHITECTURES } from '../models/import/toNetwork';
import { parseInteger } from '../util/options';
import type { Architecture } from '../config';
import { checkOutputFolder, RUN_FOLDER } from '../util/outputPath';

const importable = (): string => IMPORTABLE_ARCHITECTURES.join(' | ');

/** One registered architecture that the import supports, else a UsageError listing those. */
function parseImportableArch(raw: string, flag: string): Architecture {
  const arch = parseArchitecture(raw, flag);
  if (!IMPORTABLE_ARCHITECTURES.includes(arch)) throw new UsageError(`${flag} must name one architecture the import supports: ${IMPORTABLE_ARCHITECTURES.join(' or ')}`);
  return arch;
}

/** `fat2019 import-weights`: PyTorch / fastai v1 checkpoints → members of a run folder. */
export const importWeightsCommand = defineCommand({
  name: 'import-weights',
  summary: 'Import PyTorch / fastai v1 weights (e.g. the reference author\'s) into a run folder',
  usage: 'import-weights <file>... --arch <name> --run weights/<run> [options]',
  description: `Reads checkpoints written by torch.save (legacy or zip format, GPU-saved ones included) without
Python and without running any code from them: fastai v1 learn.export() pickles, fastai
learn.save() files and plain state_dicts. Their layers are matched by kind and shape, in order,
onto the project's network; a file that is not that network stops the job with the first
differing layer. Each file becomes the member <arch>/stage<k>/fold<f> of the run (k, f from
names like stage-2_fold-7.pkl), so 'fat2019 infer', 'tag' and the inference notebook use it.

Classes come from the export (data.y_proc[0].classes) and are put in the vocabulary's order;
files without them need --vocabulary; a later file with the same classes in another order is
reordered to the run's. The export's input normalisation (mean/std) is stored in run.json and
applied at inference; a member whose own differs (fastai computes it per training run) keeps
it in its done.json. A file that is another importable network is named (--arch <that one>).
A single file whose name carries no stage/fold becomes stage 1, fold 0: the run's one member.

PANNs (Kong et al. 2020; pannsCnn14, pannsCnn10, pannsCnn6): a checkpoint of the paper's code
(torch.save({'model': state_dict, ...}), e.g. Cnn14_mAP=0.431.pth from zenodo.org/record/3987831)
is mapped by state_dict name. The new run gets the paper's front end (32 kHz, 64 mel bands
50-14000 Hz, dB input, no trimming), whole-clip inference (10 s windows 5 s apart for longer
files) and, for 527 outputs, the AudioSet class names.`,
  options: {
    arch: { type: 'string', arg: '<name>', help: () => `${importable()}`, required: `one of ${importable()}`, parse: parseImportableArch },
    run: { ...RUN_OPTION, help: 'run folder to create or extend, e.g. weights/reference', required: 'the run folder to create or extend' },
    vocabulary: {
      type: 'string', arg: '<csv>',
      help: "class names in output order: a sample_submission.csv or a vocabulary.csv (index,label) such as data/fsdkaggle2019/vocabulary.csv",
    },
    data: { ...DATA_OPTION, help: "data folder 'infer' reads for a new run", defaultText: 'data/fsdkaggle2019' },
    stage: { type: 'string', arg: '<k>', help: 'stage of a single file whose name has no stage-<k>_fold-<f>', parse: (raw, flag) => parseInteger(raw, flag, { min: 0 }) },
    fold: { type: 'string', arg: '<f>', help: 'fold of that file', parse: (raw, flag) => parseInteger(raw, flag, { min: 0 }) },
    replace: { type: 'boolean', default: false, help: 'overwrite members that already exist' },
    quiet: { ...QUIET_OPTION, help: 'no log lines' },
  },
  positionals: 'any',
  examples: [
    'fat2019 import-weights --arch cnnModel1 --run weights/reference models/cnn/stage-{2,3,4}_fold-*.pkl',
    'fat2019 import-weights --arch vgg16bn --run weights/reference models/vgg16/stage-{2,3,4}_fold-*.pkl',
    'fat2019 infer --run weights/reference --data data/fsdkaggle2019 --score',
    'fat2019 import-weights --arch pannsCnn14 --run weights/panns-cnn14 Cnn14_mAP=0.431.pth',
    'fat2019 tag --run weights/panns-cnn14 my-recording.wav',
  ],
  async run(o, positionals) {
    const arch = o.arch;
    if (positionals.length === 0) throw new UsageError('no checkpoint file given');
    checkOutputFolder(o.run, { option: '--run', kind: RUN_FOLDER, inputs: positionals, protectedDirs: o.data !== undefined ? [o.data] : [] });
    const explicit = o.stage !== undefined || o.fold !== undefined;
    if (explicit && (o.stage === undefined || o.fold === undefined)) throw new UsageError('--stage and --fold go together');
    if (explicit && positionals.length > 1) throw new UsageError('--stage/--fold name the member of a single file; with several files use names like stage-2_fold-0.pkl');
    const sources: ImportSource[] = positionals.map((file) => {
      if (o.stage !== undefined && o.fold !== undefined) return { file, stage: o.stage, fold: o.fold };
      const sf = stageFoldFromName(file);
      if (sf) return { file, ...sf };
      // One file whose name carries no stage/fold (e.g. Cnn14_mAP=0.431.pth): the run's one member.
      if (positionals.length === 1) return { file, ...SINGLE_FILE_MEMBER };
      throw new UsageError(`${file}: the name does not say its stage and fold (stage-<k>_fold-<f>); with several files each name must`);
    });
    const vocabulary = o.vocabulary !== undefined ? readVocabularyAny(o.vocabulary) : null;
    const members = await importWeights(o.run, sources, {
      arch, vocabulary, replace: o.replace,
      dataDir: o.data,
      log: o.quiet ? undefined : (line) => process.stderr.write(line + '\n'),
    });
    process.stdout.write(`imported ${members.length} model(s) into ${o.run}: ${members.map((m) => `${arch}/stage${m.stage}/fold${m.fold}`).join(', ')}\n`);
    return 0;
  },
});
