import { UsageError, defineCommand } from './command';
import { membersPath, mergeSubmissions, writeMergedSubmission } from '../infer/mergeSubmissions';
import { checkOutputPath } from '../util/outputPath';

/** `fat2019 merge`: the submissions of parts of one run's ensemble → the whole ensemble's (lib/infer/mergeSubmissions). */
export const mergeCommand = defineCommand({
  name: 'merge',
  summary: "Average the submissions of parts of a run's ensemble (split inference) into one",
  usage: 'merge <a.csv> <b.csv> [more.csv...] --out <submission.csv>',
  description: `Split inference: parts of a run's ensemble predicted on several machines, e.g.
  fat2019 infer --run R --folds 0,1 --out a.csv      (machine 1)
  fat2019 infer --run R --folds 2,3 --out b.csv      (machine 2)
  fat2019 merge a.csv b.csv --out submission.csv
The result equals one fat2019 infer of all their models (within float32 rounding, 1e-6): the
parts are averaged weighted by their model counts, arithmetically or geometrically as they were
inferred. Each part's <csv>.members.json (written by infer) says which models it holds; merge
refuses parts of other runs, other vocabularies or inference settings, other clips, and parts
that share a model. The output gets its own .members.json, so merged files merge again.`,
  options: {
    out: { type: 'string', arg: '<csv>', help: 'the merged submission; its folder must exist, and it may not be one of the parts', required: 'the merged submission' },
  },
  positionals: 'any',
  examples: ['fat2019 merge weights/full/part-a.csv weights/full/part-b.csv --out weights/full/submission.csv'],
  async run(o, positionals) {
    if (positionals.length < 2) throw new UsageError(`give at least two submissions to merge, got ${positionals.length}`);
    const out = o.out;
    checkOutputPath(out, { option: '--out', inputs: positionals.flatMap((p) => [p, membersPath(p)]) });
    const merged = mergeSubmissions(positionals);
    writeMergedSubmission(out, merged);
    process.stdout.write(`wrote ${out}: ${merged.fnames.length} clips × ${merged.vocabulary.length} classes, ${merged.members.members.length} model(s) ` +
      `from ${positionals.length} parts (${merged.members.ensembleMean} mean)\n`);
    return 0;
  },
});
