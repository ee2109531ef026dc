import { basename, join, resolve } from 'node:path';
import { UsageError, defineCommand } from './command';
import { ARCH_LIST_OPTION, FOLDS_OPTION, RUN_OPTION, STAGES_OPTION, TOP_OPTION } from './options';
import { parseInteger } from '../util/options';
import { buildSite, checkSiteFolder } from '../web/site';
import { serveFolder } from '../web/serve';

/** Default port of `fat2019 web --serve`. */
const DEFAULT_WEB_PORT = 8019;

/** `fat2019 web`: the static site that tags audio in the browser, optionally served locally. */
export const webCommand = defineCommand({
  name: 'web',
  summary: "Write (and serve) an offline web page that tags audio with a run's ensemble",
  usage: 'web --run weights/<run> [--out <dir>] [--serve [--port <n>]] [options]',
  description: `Writes a static site that tags audio in the browser: drop or choose a WAV/FLAC file, or record
from the microphone; it shows the log-mel image, the top tags with their probabilities and a
timeline (heat map) of the sliding-window scores with a cursor that follows playback. The
run's models (tfjs layers format), its preprocessing and inference settings are copied in,
with tfjs and its wasm binaries: the page fetches nothing from elsewhere, so any static file
server can host the folder. Decoding, the log-mel image and inference use the same code as
\`fat2019 tag\`, in a Web Worker; the page shows which tfjs backend runs (WebGPU, WebGL, wasm).

Automation: <url>/?audio=<relative url>&autorun=1 tags that file on load and writes the
result into #tags (the \`fat2019 tag --json\` format) and the window scores into #timeline.
Other parameters: backend=webgpu|webgl|wasm|cpu, top=<k>.`,
  options: {
    run: RUN_OPTION,
    out: { type: 'string', arg: '<dir>', help: "site folder: a new or empty folder or an earlier 'web' site; never inside a run's or dataset's folders", defaultText: 'work/web/<run name>' },
    serve: { type: 'boolean', default: false, help: 'serve the site on http://127.0.0.1:<port>/ until interrupted' },
    port: {
      type: 'string', arg: '<n>', help: 'port for --serve; 0 = any free port', defaultText: String(DEFAULT_WEB_PORT),
      parse: (raw, flag) => parseInteger(raw, flag, { min: 0, max: 65535 }),
    },
    top: { ...TOP_OPTION, help: 'tags listed by default' },
    stages: STAGES_OPTION,
    arch: ARCH_LIST_OPTION,
    folds: FOLDS_OPTION,
    partial: { type: 'boolean', default: false, help: 'use the finished models while other jobs of the run still train' },
  },
  positionals: 'none',
  examples: ['fat2019 web --run weights/demo --out site/', 'fat2019 web --run weights/demo --serve'],
  async run(o) {
    if (o.port !== undefined && !o.serve) throw new UsageError('--port needs --serve');
    const outDir = o.out ?? join('work', 'web', basename(resolve(o.run)));
    checkSiteFolder(outDir, o.run, '--out');
    const report = await buildSite({ runDir: o.run, outDir, topK: o.top, archs: o.arch, stages: o.stages, folds: o.folds, partial: o.partial });
    process.stdout.write(`wrote ${report.outDir} (${report.members.length} model${report.members.length === 1 ? '' : 's'}: ${report.members.join(', ')}; ${(report.bytes / 1e6).toFixed(1)} MB)\n`);
    if (!o.serve) return 0;
    const site = await serveFolder(report.outDir, o.port ?? DEFAULT_WEB_PORT);
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
});
