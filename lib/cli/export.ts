import { UsageError, type Command } from './command';
import { exportRun } from '../export/exportRun';
import { checkOutputFolder, RUN_FOLDER } from '../util/outputPath';
import type { OnnxOutputActivation } from '../export/onnxGraph';
import { archOption, initCliBackend, intListOption } from './infer';

/** `fat2019 export`: model.onnx next to every ensemble member of a run. */
export const exportCommand: Command = {
  name: 'export',
  summary: "Export a run's ensemble members to ONNX (model.onnx beside each model.json)",
  help: `Usage: fat2019 export --run weights/<run> [options]

Writes <arch>/stage<k>/fold<f>/<best|last>/model.onnx for every finished member of the run's
ensemble: standard ONNX (opset 17, IR 8), BatchNorm folded into the convolutions, dynamic batch.
Input "input": NCHW float32 [batch, 3, mel bands, frames], the log-mel image / 255 (0..1) on
each of the 3 channels. Output "output": [batch, classes] in the run's class order (stored in
the file's metadata as fat2019.classes). Files already up to date are kept.

infer and tag use these files with ONNX Runtime and export missing ones on first use; they need
logits (--activation none).

Options:
  --run <dir>          run folder (required)
  --activation <a>     none | sigmoid | softmax: appended to the output (default: none, logits)
  --stages <list>      stages (default: the run's pipeline.ensembleStages)
  --arch <list>        architectures (default: all trained)
  --folds <list>       folds (default: all finished)
  --force              export again even when up to date
  --quiet              only errors

Example:
  fat2019 export --run weights/demo
  python3 -c "import onnxruntime as ort; s = ort.InferenceSession('weights/demo/cnnModel1/stage2/fold0/best/model.onnx'); print(s.get_inputs()[0].shape)"
`,
  options: {
    run: { type: 'string' },
    activation: { type: 'string' },
    stages: { type: 'string' },
    arch: { type: 'string', multiple: true },
    folds: { type: 'string' },
    force: { type: 'boolean' },
    quiet: { type: 'boolean' },
  },
  async run(values, positionals) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (typeof values.run !== 'string') throw new UsageError('--run <dir> is required (a run folder, e.g. weights/demo)');
    checkOutputFolder(values.run, { option: '--run', kind: RUN_FOLDER });
    const activation = (values.activation ?? 'none') as OnnxOutputActivation;
    if (!['none', 'sigmoid', 'softmax'].includes(activation)) throw new UsageError(`--activation must be none, sigmoid or softmax, got "${String(values.activation)}"`);
    const quiet = values.quiet === true;
    const stages = intListOption(values, 'stages');
    const folds = intListOption(values, 'folds');
    const archs = archOption(values);
    // The tfjs model is read and its weights copied out; the cpu backend is enough.
    await initCliBackend({ backend: 'cpu' }, true);
    const files = await exportRun(values.run, {
      archs, stages, folds, activation, force: values.force === true,
      onFile: (r) => {
        if (!quiet) process.stdout.write(`${r.status === 'exported' ? 'wrote' : 'kept '} ${r.file} (${(r.bytes / 1e6).toFixed(1)} MB${r.status === 'up to date' ? ', up to date' : ''})\n`);
      },
    });
    if (!quiet) process.stdout.write(`${files.length} ONNX file(s), ${files.filter((f) => f.status === 'exported').length} exported\n`);
    return 0;
  },
};
