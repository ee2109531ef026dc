import { UsageError, defineCommand } from './command';
import { initCliBackend } from './infer';
import { BACKEND_OPTIONS, QUIET_OPTION, RUN_OPTION, backendChoice, parseArchitecture } from './options';
import { audioFilesOf, embedFiles, embeddingNamesPath, writeEmbeddings } from '../infer/embed';
import { parseInteger } from '../util/options';
import { checkOutputFile, type OutputKind } from '../util/outputPath';
import { existsSync, readFileSync, statSync } from 'node:fs';

/** An embeddings file this command wrote: CSV with the header `file,e0,...`, or a .npy. */
const EMBEDDINGS_FILE: OutputKind = {
  name: 'an embeddings file',
  isOwn(path) {
    try {
      if (!statSync(path).isFile()) return false;
      const head = readFileSync(path).subarray(0, 16);
      return path.toLowerCase().endsWith('.npy') ? head.subarray(1, 6).toString('latin1') === 'NUMPY' : /^file,e0(,|\n|$)/.test(head.toString('utf8'));
    } catch {
      return false;
    }
  },
};

/** `fat2019 embed`: each clip's penultimate-layer embedding from a run's network. */
export const embedCommand = defineCommand({
  name: 'embed',
  summary: 'Write each clip\'s embedding (the network\'s penultimate layer) to a CSV or .npy file',
  usage: 'embed --run <dir> --out <emb.csv | emb.npy> <files or folders>...',
  description: `Runs one network of the run (default: the first member of its ensemble) on each audio file
(folders are walked recursively), with the run's preprocessing and inference windows, and
writes the input of its last Dense layer (PANNs: fc1; the fastai head: its hidden layer),
averaged over the clip's windows. CSV: one row per clip, the file then e0, e1, ...; .npy:
float32 [clips, dims] with the file names in <out>.files.txt.`,
  options: {
    run: RUN_OPTION,
    out: {
      type: 'string', arg: '<file>', help: 'the embeddings: .csv or .npy', required: 'a .csv or .npy file',
      parse: (raw: string, flag: string) => {
        if (!/\.(csv|npy)$/i.test(raw)) throw new UsageError(`${flag} must end in .csv or .npy, got "${raw}"`);
        return raw;
      },
    },
    arch: { type: 'string', arg: '<name>', help: "the member's network", defaultText: "the first of the run's ensemble", parse: parseArchitecture },
    stage: { type: 'string', arg: '<k>', help: "the member's stage", parse: (raw: string, flag: string) => parseInteger(raw, flag, { min: 0 }) },
    fold: { type: 'string', arg: '<f>', help: "the member's fold", parse: (raw: string, flag: string) => parseInteger(raw, flag, { min: 0 }) },
    ...BACKEND_OPTIONS,
    quiet: QUIET_OPTION,
  },
  positionals: 'any',
  examples: ['fat2019 embed --run weights/panns-cnn14 --out work/emb.csv data/my-sounds/'],
  async run(o, positionals) {
    if (positionals.length === 0) throw new UsageError('no audio file or folder given');
    // The one output rule (lib/util/outputPath): a new file or one of ours, never inside the run.
    checkOutputFile(o.out, { option: '--out', kind: EMBEDDINGS_FILE, inputs: positionals });
    // A .npy's file list beside it obeys the same rule: new, or the list of an earlier .npy of ours.
    const names = embeddingNamesPath(o.out);
    if (names !== null) checkOutputFile(names, { option: '--out (its file list)', kind: { name: 'the file list of an embeddings .npy', isOwn: (p) => existsSync(p) && EMBEDDINGS_FILE.isOwn(o.out) }, inputs: positionals });
    const files = audioFilesOf(positionals);
    if (files.length === 0) throw new UsageError(`no audio files in ${positionals.join(', ')}`);
    await initCliBackend(backendChoice(o), o.quiet);
    const r = await embedFiles(o.run, files, {
      arch: o.arch, stage: o.stage, fold: o.fold,
      onFile: o.quiet ? undefined : (done, total) => { if (done === total || done % 50 === 0) process.stderr.write(`decoded ${done}/${total}\n`); },
    });
    const written = writeEmbeddings(o.out, files, r.dims, r.values);
    process.stdout.write(`${files.length} clip(s) × ${r.dims} dims from ${r.member} → ${written.join(', ')}\n`);
    return 0;
  },
});
