import { UsageError, numberOption, type Command } from './command';
import { initCliBackend } from './infer';
import { audioFilesOf, embedFiles, writeEmbeddings } from '../infer/embed';

/** `fat2019 embed`: each clip's penultimate-layer embedding from a run's network. */
export const embedCommand: Command = {
  name: 'embed',
  summary: 'Write each clip\'s embedding (the network\'s penultimate layer) to a CSV or .npy file',
  help: `Usage: fat2019 embed --run <dir> --out <emb.csv | emb.npy> <files or folders>...

Runs one network of the run (default: the first member of its ensemble) on each audio file
(folders are walked recursively), with the run's preprocessing and inference windows, and
writes the input of its last Dense layer (PANNs: fc1; the fastai head: its hidden layer),
averaged over the clip's windows. CSV: one row per clip, the file then e0, e1, ...; .npy:
float32 [clips, dims] with the file names in <out>.files.txt.

Options:
  --run <dir>          run folder (required)
  --out <file>         .csv or .npy (required)
  --arch <name>        the member's network (default: the first of the run's ensemble)
  --stage <k>          the member's stage
  --fold <f>           the member's fold
  --backend, --threads as for tag
  --quiet              no progress

Example:
  fat2019 embed --run weights/panns-cnn14 --out work/emb.csv data/my-sounds/
`,
  options: {
    run: { type: 'string' },
    out: { type: 'string' },
    arch: { type: 'string' },
    stage: { type: 'string' },
    fold: { type: 'string' },
    backend: { type: 'string' },
    threads: { type: 'string' },
    quiet: { type: 'boolean' },
  },
  async run(values, positionals) {
    if (typeof values.run !== 'string') throw new UsageError('--run <dir> is required');
    if (typeof values.out !== 'string' || !/\.(csv|npy)$/i.test(values.out)) throw new UsageError('--out <file.csv | file.npy> is required');
    if (positionals.length === 0) throw new UsageError('no audio file or folder given');
    const int = (name: string) => {
      if (values[name] === undefined) return undefined;
      const n = numberOption(values, name, 0);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be an integer >= 0`);
      return n;
    };
    const quiet = values.quiet === true;
    const files = audioFilesOf(positionals);
    if (files.length === 0) throw new UsageError(`no audio files in ${positionals.join(', ')}`);
    await initCliBackend(values, quiet);
    const r = await embedFiles(values.run, files, {
      arch: typeof values.arch === 'string' ? values.arch : undefined, stage: int('stage'), fold: int('fold'),
      onFile: quiet ? undefined : (done, total) => { if (done === total || done % 50 === 0) process.stderr.write(`decoded ${done}/${total}\n`); },
    });
    const written = writeEmbeddings(values.out, files, r.dims, r.values);
    process.stdout.write(`${files.length} clip(s) × ${r.dims} dims from ${r.member} → ${written.join(', ')}\n`);
    return 0;
  },
};
