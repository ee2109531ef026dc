import { UsageError, defineCommand } from './command';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { membersPath, mergeSubmissions, readSubmissionMembers, runIdentity, writeMergedSubmission } from '../infer/mergeSubmissions';
import { readRunInfo, runInfoPath } from '../run/runFolder';
import { checkOutputFile, SUBMISSION_CSV, type OutputRules } from '../util/outputPath';

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
    out: {
      type: 'string', arg: '<csv>', required: 'the merged submission',
      help: "the merged submission: a new file or a submission; its folder must exist; not one of the parts; in a run folder only the parts' own run's submission*.csv",
    },
  },
  positionals: 'any',
  examples: ['fat2019 merge weights/full/part-a.csv weights/full/part-b.csv --out weights/full/submission.csv'],
  async run(o, positionals) {
    if (positionals.length < 2) throw new UsageError(`give at least two submissions to merge, got ${positionals.length}`);
    const out = o.out;
    // The output rule, before any work. The run folder of the parts' run is the merge's own
    // place for submission*.csv, as it is infer's.
    const runId = readSubmissionMembers(positionals[0]).runId;
    const folder = dirname(out);
    const ownRun = existsSync(runInfoPath(folder)) && runIdentity(readRunInfo(folder)) === runId;
    const rules: OutputRules = { option: '--out', kind: SUBMISSION_CSV, inputs: positionals.flatMap((p) => [p, membersPath(p)]) };
    if (ownRun) rules.ownedIn = { dir: folder, names: /^submission[^/]*\.csv$/, what: 'submission*.csv' };
    checkOutputFile(out, rules);
    const merged = mergeSubmissions(positionals);
    writeMergedSubmission(out, merged);
    process.stdout.write(`wrote ${out}: ${merged.fnames.length} clips × ${merged.vocabulary.length} classes, ${merged.members.members.length} model(s) ` +
      `from ${positionals.length} parts (${merged.members.ensembleMean} mean)\n`);
    return 0;
  },
});
