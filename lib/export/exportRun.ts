/**
 * `model.onnx` for every member of a run's ensemble (lib/run/runFolder layout), next to the
 * member's model.json. Files already exported from the same tfjs files with the same output are
 * kept unless `force`.
 */
import { existsSync, statSync } from 'node:fs';
import type { Architecture } from '../config';
import { findRunMembers, readRunInfo, type MemberFilter } from '../run/runFolder';
import { exportModelDir, onnxPath, readOnnxFile, tfjsModelChecksum } from './onnxFile';
import type { OnnxOutputActivation } from './onnxGraph';
import { makeTask } from '../task/task';

export interface ExportRunOptions {
  archs?: readonly Architecture[];
  /** Default: the run's `pipeline.ensembleStages`. */
  stages?: readonly number[];
  folds?: readonly number[];
  /** Output of the files (default 'none': logits, what inference reads; 'task': the run's task's activation). */
  activation?: OnnxOutputActivation | 'task';
  /** Export again even when the file is up to date. */
  force?: boolean;
  /** Called after each member. */
  onFile?: (r: ExportedFile) => void;
}

export interface ExportedFile {
  file: string;
  /** 'exported' (written now) or 'up to date' (kept). */
  status: 'exported' | 'up to date';
  bytes: number;
}

function upToDate(modelDir: string, output: string): boolean {
  const file = onnxPath(modelDir);
  if (!existsSync(file)) return false;
  try {
    const info = readOnnxFile(file);
    return info.source === tfjsModelChecksum(modelDir) && info.output === output;
  } catch {
    return false; // corrupt: export again
  }
}

/** Exports every matching finished member; throws naming the run when none matches. */
export async function exportRun(runDir: string, options: ExportRunOptions = {}): Promise<ExportedFile[]> {
  const info = readRunInfo(runDir);
  const filter: MemberFilter = { archs: options.archs, stages: options.stages ?? info.config.pipeline?.ensembleStages, folds: options.folds };
  const members = findRunMembers(runDir, filter);
  if (members.length === 0) {
    throw new Error(`${runDir}: no finished ensemble member to export (stages ${filter.stages?.join(',') ?? 'any'}${filter.archs ? `, arch ${filter.archs.join(',')}` : ''}${filter.folds ? `, folds ${filter.folds.join(',')}` : ''})`);
  }
  // 'task': what the run's task (lib/task) applies at prediction time, softmax or sigmoid.
  const activation = options.activation === 'task' ? makeTask(info.config.task ?? {}).activation : options.activation ?? 'none';
  const output = activation === 'none' ? 'logits' : activation;
  const out: ExportedFile[] = [];
  for (const m of members) {
    let status: ExportedFile['status'] = 'up to date';
    if (options.force || !upToDate(m.modelDir, output)) {
      await exportModelDir(m.modelDir, { activation, classes: info.vocabulary, arch: m.arch });
      status = 'exported';
    }
    const file = onnxPath(m.modelDir);
    const r: ExportedFile = { file, status, bytes: statSync(file).size };
    options.onFile?.(r);
    out.push(r);
  }
  return out;
}
