import { defineCommand } from './command';
import { exportRun } from '../export/exportRun';
import type { OnnxOutputActivation } from '../export/onnxGraph';
import { initCliBackend } from './infer';
import { ARCH_LIST_OPTION, FOLDS_OPTION, QUIET_OPTION, RUN_OPTION, STAGES_OPTION } from './options';
import { parseChoice } from '../util/options';
import { checkOutputFolder, RUN_FOLDER } from '../util/outputPath';

const ACTIVATIONS: readonly (OnnxOutputActivation | 'task')[] = ['none', 'task', 'sigmoid', 'softmax'];

/** `fat2019 export`: model.onnx next to every ensemble member of a run. */
export const exportCommand = defineCommand({
  name: 'export',
  summary: "Export a run's ensemble members to ONNX (model.onnx beside each model.json)",
  usage: 'export --run weights/<run> [options]',
  description: `Writes <arch>/stage<k>/fold<f>/<best|last>/model.onnx for every finished member of the run's
ensemble: standard ONNX (opset 17, IR 8), BatchNorm folded into the convolutions, dynamic batch.
Input "input": NCHW float32 [batch, 3, mel bands, frames], the log-mel image / 255 (0..1) on
each of the 3 channels. Output "output": [batch, classes] in the run's class order (stored in
the file's metadata as fat2019.classes). Files already up to date are kept.

infer and tag use these files with ONNX Runtime and export missing ones on first use; they need
logits (--activation none).`,
  options: {
    run: RUN_OPTION,
    activation: {
      type: 'string', arg: '<a>', help: "none | task | sigmoid | softmax: appended to the output; task = the run's task's activation (softmax for singleLabel, sigmoid for multiLabel)",
      default: 'none', defaultText: 'none, logits',
      parse: (raw, flag) => parseChoice(raw, flag, ACTIVATIONS, 'none, sigmoid or softmax'),
    },
    stages: { ...STAGES_OPTION, help: 'stages' },
    arch: ARCH_LIST_OPTION,
    folds: FOLDS_OPTION,
    force: { type: 'boolean', default: false, help: 'export again even when up to date' },
    quiet: { ...QUIET_OPTION, help: 'only errors' },
  },
  positionals: 'none',
  examples: [
    'fat2019 export --run weights/demo',
    `python3 -c "import onnxruntime as ort; s = ort.InferenceSession('weights/demo/cnnModel1/stage2/fold0/best/model.onnx'); print(s.get_inputs()[0].shape)"`,
  ],
  async run(o) {
    checkOutputFolder(o.run, { option: '--run', kind: RUN_FOLDER });
    const { quiet } = o;
    // The tfjs model is read and its weights copied out; the cpu backend is enough.
    await initCliBackend({ prefer: 'cpu' }, true);
    const files = await exportRun(o.run, {
      archs: o.arch, stages: o.stages, folds: o.folds, activation: o.activation, force: o.force,
      onFile: (r) => {
        if (!quiet) process.stdout.write(`${r.status === 'exported' ? 'wrote' : 'kept '} ${r.file} (${(r.bytes / 1e6).toFixed(1)} MB${r.status === 'up to date' ? ', up to date' : ''})\n`);
      },
    });
    if (!quiet) process.stdout.write(`${files.length} ONNX file(s), ${files.filter((f) => f.status === 'exported').length} exported\n`);
    return 0;
  },
});
