import { basename, join, resolve } from 'node:path';
import { UsageError, numberOption, type Command } from './command';
import { archOption, intListOption } from './infer';
import { buildSite, checkSiteFolder } from '../web/site';
import { serveFolder } from '../web/serve';

/** Default port of `fat2019 web --serve`. */
export const DEFAULT_WEB_PORT = 8019;

/** `fat2019 web`: the static site that tags audio in the browser, optionally served locally. */
export const webCommand: Command = {
  name: 'web',
  summary: "Write (and serve) an offline web page that tags audio with a run's ensemble",
  help: `Usage: fat2019 web --run weights/<run> [--out <dir>] [--serve [--port <n>]] [options]

Writes a static site that tags audio in the browser: drop or choose a WAV/FLAC file, or record
from the microphone; it shows the log-mel image, the top tags with their probabilities and a
timeline (heat map) of the sliding-window scores with a cursor that follows playback. The
run's models (tfjs layers format), its preprocessing and inference settings are copied in,
with tfjs and its wasm binaries: the page fetches nothing from elsewhere, so any static file
server can host the folder. Decoding, the log-mel image and inference use the same code as
\`fat2019 tag\`, in a Web Worker; the page shows which tfjs backend runs (WebGPU, WebGL, wasm).

Automation: <url>/?audio=<relative url>&autorun=1 tags that file on load and writes the
result into #tags (the \`fat2019 tag --json\` format) and the window scores into #timeline.
Other parameters: backend=webgpu|webgl|wasm|cpu, top=<k>.

Options:
  --run <dir>          run folder (required), e.g. weights/demo
  --out <dir>          site folder (default: work/web/<run name>): a new or empty folder or an
                       earlier 'web' site; never inside a run's or dataset's folders
  --serve              serve the site on http://127.0.0.1:<port>/ until interrupted
  --port <n>           port for --serve (default: ${DEFAULT_WEB_PORT}; 0 = any free port)
  --top <k>            tags listed by default (default: 5)
  --stages <list>      stages whose models vote (default: the run's pipeline.ensembleStages)
  --arch <list>        architectures: cnnModel1, vgg16bn (default: all trained)
  --folds <list>       folds (default: all finished)
  --partial            use the finished models while other jobs of the run still train

Example:
  fat2019 web --run weights/demo --out site/
  fat2019 web --run weights/demo --serve
`,
  options: {
    run: { type: 'string' },
    out: { type: 'string' },
    serve: { type: 'boolean' },
    port: { type: 'string' },
    top: { type: 'string' },
    stages: { type: 'string' },
    arch: { type: 'string', multiple: true },
    folds: { type: 'string' },
    partial: { type: 'boolean' },
  },
  async run(values, positionals) {
    if (typeof values.run !== 'string') throw new UsageError('--run <dir> is required (a run folder, e.g. weights/demo)');
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const topK = numberOption(values, 'top', 5);
    if (!Number.isInteger(topK) || topK < 1) throw new UsageError(`--top must be an integer >= 1, got ${topK}`);
    const port = numberOption(values, 'port', DEFAULT_WEB_PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be an integer in 0..65535, got ${port}`);
    if (values.port !== undefined && values.serve !== true) throw new UsageError('--port needs --serve');
    const outDir = typeof values.out === 'string' ? values.out : join('work', 'web', basename(resolve(values.run)));
    checkSiteFolder(outDir, values.run, '--out');
    const report = await buildSite({
      runDir: values.run,
      outDir,
      topK,
      archs: archOption(values),
      stages: intListOption(values, 'stages'),
      folds: intListOption(values, 'folds'),
      partial: values.partial === true,
    });
    process.stdout.write(`wrote ${report.outDir} (${report.members.length} model${report.members.length === 1 ? '' : 's'}: ${report.members.join(', ')}; ${(report.bytes / 1e6).toFixed(1)} MB)\n`);
    if (values.serve !== true) return 0;
    const site = await serveFolder(report.outDir, port);
    process.stdout.write(`serving ${report.outDir} on ${site.url} (Ctrl-C to stop)\n`);
    await new Promise<void>((done) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        void site.close().then(done);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    return 0;
  },
};
