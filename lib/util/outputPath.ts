import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isInside } from './paths';

/** What an output must not overwrite: the run's input files and its data folders. */
export interface OutputRules {
  /** The option that named the output, for the message (e.g. `--out`). */
  option: string;
  /** Files the command reads (label files, truth, run.json): the output may not be one of them. */
  inputs?: readonly string[];
  /** Folders the output may not lie in (the data folder: its label files and audio). */
  protectedDirs?: readonly string[];
}

/** `path` with symlinks of its existing part resolved, so two spellings of one file compare equal. */
function canonical(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : resolve(canonical(parent), abs.slice(parent.length + 1));
  }
}

/**
 * Checks an output file before any work starts (so a mistake costs nothing): it may not be
 * one of the run's inputs nor lie inside a protected folder, it may not be a folder, and its
 * folder must already exist (a typo in a folder name is not silently created). Throws an Error
 * naming the option, the path and the problem.
 */
export function checkOutputPath(out: string, rules: OutputRules): void {
  const what = `${rules.option} ${out}`;
  const target = canonical(out);
  for (const input of rules.inputs ?? []) {
    if (canonical(input) === target) throw new Error(`${what}: that is an input of this run (${input}); writing there would destroy it: choose another file`);
  }
  for (const dir of rules.protectedDirs ?? []) {
    if (isInside(canonical(dir), target)) throw new Error(`${what}: inside the data folder ${dir}; outputs never go there (they could replace its label files): choose a file elsewhere`);
  }
  if (existsSync(out) && statSync(out).isDirectory()) throw new Error(`${what}: is a folder; give a file name`);
  const parent = dirname(resolve(out));
  if (!existsSync(parent)) throw new Error(`${what}: its folder ${dirname(out)} does not exist; create it first or fix the path`);
  if (!statSync(parent).isDirectory()) throw new Error(`${what}: ${dirname(out)} is not a folder`);
}
