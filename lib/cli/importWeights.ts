import { UsageError, numberOption, type Command } from './command';
import { readVocabularyAny } from '../metrics/score';
import { importWeights, SINGLE_FILE_MEMBER, stageFoldFromName, type ImportSource } from '../run/importWeights';
import { archOption } from './infer';
import { IMPORTABLE_ARCHITECTURES } from '../models/import/toNetwork';

/** `fat2019 import-weights`: PyTorch / fastai v1 checkpoints → members of a run folder. */
export const importWeightsCommand: Command = {
  name: 'import-weights',
  summary: 'Import PyTorch / fastai v1 weights (e.g. the reference author\'s) into a run folder',
  help: `Usage: fat2019 import-weights <file>... --arch <name> --run weights/<run> [options]

Reads checkpoints written by torch.save (legacy or zip format, GPU-saved ones included) without
Python and without running any code from them: fastai v1 learn.export() pickles, fastai
learn.save() files and plain state_dicts. Their layers are matched by kind and shape, in order,
onto the project's network; a file that is not that network stops the job with the first
differing layer. Each file becomes the member <arch>/stage<k>/fold<f> of the run (k, f from
names like stage-2_fold-7.pkl), so 'fat2019 infer', 'tag' and the inference notebook use it.

Classes come from the export (data.y_proc[0].classes) and are put in the vocabulary's order;
files without them need --vocabulary. The export's input normalisation (mean/std) is stored in
run.json and applied at inference. A single file whose name carries no stage/fold becomes
stage 1, fold 0: the run's one member.

PANNs (Kong et al. 2020; pannsCnn14, pannsCnn10, pannsCnn6): a checkpoint of the paper's code
(torch.save({'model': state_dict, ...}), e.g. Cnn14_mAP=0.431.pth from zenodo.org/record/3987831)
is mapped by state_dict name. The new run gets the paper's front end (32 kHz, 64 mel bands
50-14000 Hz, dB input, no trimming), whole-clip inference (10 s windows 5 s apart for longer
files) and, for 527 outputs, the AudioSet class names.

Options:
  --arch <name>        cnnModel1 | vgg16bn | pannsCnn14 | pannsCnn10 | pannsCnn6 (required)
  --run <dir>          run folder to create or extend (required), e.g. weights/reference
  --vocabulary <csv>   class names in output order: a sample_submission.csv or a
                       vocabulary.csv (index,label) such as data/fsdkaggle2019/vocabulary.csv
  --data <dir>         data folder 'infer' reads for a new run (default data/fsdkaggle2019)
  --stage <k>          stage of a single file whose name has no stage-<k>_fold-<f>
  --fold <f>           fold of that file
  --replace            overwrite members that already exist

Example:
  fat2019 import-weights --arch cnnModel1 --run weights/reference models/cnn/stage-{2,3,4}_fold-*.pkl
  fat2019 import-weights --arch vgg16bn --run weights/reference models/vgg16/stage-{2,3,4}_fold-*.pkl
  fat2019 infer --run weights/reference --data data/fsdkaggle2019 --score
  fat2019 import-weights --arch pannsCnn14 --run weights/panns-cnn14 Cnn14_mAP=0.431.pth
  fat2019 tag --run weights/panns-cnn14 my-recording.wav
`,
  options: {
    arch: { type: 'string' },
    run: { type: 'string' },
    vocabulary: { type: 'string' },
    data: { type: 'string' },
    stage: { type: 'string' },
    fold: { type: 'string' },
    replace: { type: 'boolean' },
    quiet: { type: 'boolean' },
  },
  async run(values, positionals) {
    if (typeof values.run !== 'string') throw new UsageError('--run <dir> is required (the run folder to create or extend)');
    const archs = archOption(values);
    if (!archs || archs.length !== 1 || !IMPORTABLE_ARCHITECTURES.includes(archs[0])) {
      throw new UsageError(`--arch must name one architecture the import supports: ${IMPORTABLE_ARCHITECTURES.join(' or ')}`);
    }
    if (positionals.length === 0) throw new UsageError('no checkpoint file given');
    const explicit = values.stage !== undefined || values.fold !== undefined;
    if (explicit && (values.stage === undefined || values.fold === undefined)) throw new UsageError('--stage and --fold go together');
    if (explicit && positionals.length > 1) throw new UsageError('--stage/--fold name the member of a single file; with several files use names like stage-2_fold-0.pkl');
    const sources: ImportSource[] = positionals.map((file) => {
      if (explicit) {
        const stage = numberOption(values, 'stage', 0);
        const fold = numberOption(values, 'fold', 0);
        if (!Number.isInteger(stage) || stage < 0 || !Number.isInteger(fold) || fold < 0) throw new UsageError('--stage and --fold must be integers >= 0');
        return { file, stage, fold };
      }
      const sf = stageFoldFromName(file);
      if (sf) return { file, ...sf };
      // One file whose name carries no stage/fold (e.g. Cnn14_mAP=0.431.pth): the run's one member.
      if (positionals.length === 1) return { file, ...SINGLE_FILE_MEMBER };
      throw new UsageError(`${file}: the name does not say its stage and fold (stage-<k>_fold-<f>); with several files each name must`);
    });
    const vocabulary = typeof values.vocabulary === 'string' ? readVocabularyAny(values.vocabulary) : null;
    const quiet = values.quiet === true;
    const members = await importWeights(values.run, sources, {
      arch: archs[0], vocabulary, replace: values.replace === true,
      dataDir: typeof values.data === 'string' ? values.data : undefined,
      log: quiet ? undefined : (line) => process.stderr.write(line + '\n'),
    });
    process.stdout.write(`imported ${members.length} model(s) into ${values.run}: ${members.map((m) => `${archs[0]}/stage${m.stage}/fold${m.fold}`).join(', ')}\n`);
    return 0;
  },
};
