/**
 * `fat2019 web`: writes the static site that tags audio in the browser with a run's ensemble.
 *
 *   index.html, style.css, recorder-worklet.js   the page (lib/web/page)
 *   app.js, worker.js                            lib/web/page/app.ts and worker.ts bundled by esbuild
 *   wasm/*.wasm                                  the tfjs wasm backend's binaries
 *   site.json                                    {@link SiteManifest}: vocabulary, preprocess, infer, members
 *   models/<arch>-stage<k>-fold<f>/              each member's model.json + weights (tfjs layers format)
 *
 * Nothing is fetched from elsewhere at run time, so any static file server (or a USB stick
 * behind `python3 -m http.server`) serves it.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Plugin } from 'esbuild';
import type { Architecture, Fat2019Config } from '../config';
import { INFER_DEFAULTS, PREPROCESS_DEFAULTS } from '../config';
import { loadEnsemble } from '../infer/ensemble';
import { readModelArtifacts } from '../runtime/modelFile';
import { writeFileAtomicSync } from '../util/atomicWrite';
import { checkOutputFolder, type OutputKind } from '../util/outputPath';
import { readRunInfo } from '../run/runFolder';
import { SITE_MANIFEST_VERSION, type SiteManifest, type SiteMember } from './protocol';
import type { Activation } from './windowScores';
import { activationOf, TASK_NAMES } from '../task/task';

const PAGE_DIR = join(__dirname, 'page');
const STATIC_FILES = ['index.html', 'style.css', 'recorder-worklet.js'];
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

/** Options of {@link buildSite}; absent member filters mean the run's ensemble (as `fat2019 tag`). */
export interface BuildSiteOptions {
  runDir: string;
  outDir: string;
  /** Tags listed by default (default 5). */
  topK?: number;
  archs?: readonly Architecture[];
  stages?: readonly number[];
  folds?: readonly number[];
  /** Minify the bundles (default true). */
  minify?: boolean;
  /** Use the finished members while other jobs of the run still train (default: refuse). */
  partial?: boolean;
}

/** What {@link buildSite} wrote. */
export interface SiteReport {
  outDir: string;
  members: string[];
  /** Total bytes of the site. */
  bytes: number;
}

/**
 * The activation of the run's task (lib/task): 'softmax' for singleLabel runs, else 'sigmoid'
 * (multiLabel, the FAT2019 task; also runs made before tasks existed).
 */
export function runActivation(config: Fat2019Config): Activation {
  const name = (config as unknown as { task?: { name?: unknown } }).task?.name ?? 'multiLabel';
  if (!(TASK_NAMES as readonly unknown[]).includes(name)) throw new Error(`run.json: task.name must be one of ${TASK_NAMES.join(', ')}, got '${String(name)}'`);
  return activationOf(config);
}

/**
 * Replaces Node's built-in modules with stand-ins that throw when called: lib/audio and
 * lib/infer import node:fs for their file-reading functions, which the page never calls.
 * Each stand-in exports the real module's names, so named imports still resolve.
 */
const nodeBuiltinsUnavailable: Plugin = {
  name: 'node-builtins-unavailable',
  setup(build) {
    build.onResolve({ filter: /^(node:)?(fs|fs\/promises|path|os|url|util|child_process|worker_threads|crypto)$/ }, (args) => ({
      path: args.path.replace(/^node:/, ''),
      namespace: 'node-builtin',
    }));
    build.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (args) => {
      const names = Object.keys(require(`node:${args.path}`) as object).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== 'default');
      const lines = [
        `const unavailable = (name) => function () { throw new Error('node:${args.path} ' + name + ' is not available in the browser'); };`,
        ...names.map((n) => `export const ${n} = unavailable(${JSON.stringify(n)});`),
        'export default {};',
      ];
      return { contents: lines.join('\n'), loader: 'js' };
    });
  },
};

/** Bundles lib/web/page/app.ts and worker.ts into `outDir` (app.js, worker.js). */
async function bundlePage(outDir: string, minify: boolean): Promise<void> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: { app: join(PAGE_DIR, 'app.ts'), worker: join(PAGE_DIR, 'worker.ts') },
    outdir: outDir,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify,
    legalComments: 'none',
    logLevel: 'silent',
    plugins: [nodeBuiltinsUnavailable],
    define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
  });
  if (result.errors.length > 0) throw new Error(`bundling the page failed: ${result.errors.map((e) => e.text).join('; ')}`);
}

/** The tfjs wasm backend's dist folder (the binaries the page loads). */
function wasmDistDir(): string {
  return dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
}

function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    total += entry.isDirectory() ? folderBytes(p) : statSync(p).size;
  }
  return total;
}

/** Copies a member's model.json and weight shards (checked against the manifest) into `dest`. */
function copyModel(modelDir: string, dest: string): void {
  readModelArtifacts(modelDir); // throws, naming the file, on a truncated or corrupt model
  const json = JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8')) as { weightsManifest: Array<{ paths: string[] }> };
  mkdirSync(dest, { recursive: true });
  copyFileSync(join(modelDir, 'model.json'), join(dest, 'model.json'));
  for (const group of json.weightsManifest) for (const p of group.paths) copyFileSync(join(modelDir, p), join(dest, p));
}

/**
 * A folder `fat2019 web` wrote: site.json (complete), or a page whose index.html is this
 * toolkit's (half-written); only the site's own entries otherwise (wasm/, models/...).
 */
export const WEB_SITE_FOLDER: OutputKind = {
  name: "a site folder 'fat2019 web' wrote",
  isOwn(dir) {
    if (existsSync(join(dir, 'site.json'))) return true;
    const index = join(dir, 'index.html');
    return existsSync(index) && readFileSync(index, 'utf8') === readFileSync(join(PAGE_DIR, 'index.html'), 'utf8');
  },
  entries: ['wasm', 'models', 'style.css', 'recorder-worklet.js', 'app.js', 'worker.js', 'app.js.map', 'worker.js.map'],
};

/**
 * The output rule for a site folder (lib/util/outputPath): new, empty or an earlier site; never
 * inside a run's or dataset's folders (the run's data folder included). Call before any work.
 */
export function checkSiteFolder(outDir: string, runDir: string, option = 'outDir'): void {
  const dataDir = existsSync(join(runDir, 'run.json')) ? readRunInfo(runDir).dataDir : undefined;
  checkOutputFolder(outDir, { option, kind: WEB_SITE_FOLDER, protectedDirs: dataDir ? [dataDir] : [] });
}

/** Writes the static site of `runDir`'s ensemble into `outDir` (see the module comment). */
export async function buildSite(options: BuildSiteOptions): Promise<SiteReport> {
  const topK = options.topK ?? 5;
  if (!Number.isInteger(topK) || topK < 1) throw new Error(`topK must be an integer >= 1, got ${topK}`);
  checkSiteFolder(options.outDir, options.runDir);
  // lazy: only the member list and run.json; the models are copied, not loaded. tfjs: the page
  // runs the tfjs layers files, so no model.onnx is exported for it.
  const ensemble = await loadEnsemble(options.runDir, { archs: options.archs, stages: options.stages, folds: options.folds, lazy: true, engine: 'tfjs', partial: options.partial });
  const outDir = resolve(options.outDir);
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new Error(`${outDir} exists and is not a folder`);
  rmSync(join(outDir, 'site.json'), { force: true });
  rmSync(join(outDir, 'models'), { recursive: true, force: true });
  mkdirSync(join(outDir, 'wasm'), { recursive: true });

  const members: SiteMember[] = ensemble.members.map((m) => {
    const name = `${m.arch}-stage${m.stage}-fold${m.fold}`;
    copyModel(m.modelDir, join(outDir, 'models', name));
    const member: SiteMember = { name: `${m.arch}/stage${m.stage}/fold${m.fold}`, modelUrl: `models/${name}/model.json` };
    if (m.inputNormalization !== undefined) member.inputNormalization = m.inputNormalization;
    return member;
  });
  const config = ensemble.config;
  const manifest: SiteManifest = {
    version: SITE_MANIFEST_VERSION,
    run: basename(resolve(options.runDir)),
    vocabulary: ensemble.vocabulary,
    preprocess: { ...PREPROCESS_DEFAULTS, ...config.preprocess },
    infer: { ...INFER_DEFAULTS, ...config.infer },
    activation: runActivation(config),
    inputNormalization: config.model.inputNormalization ?? null,
    topK: Math.min(topK, ensemble.vocabulary.length),
    members,
  };
  for (const f of STATIC_FILES) copyFileSync(join(PAGE_DIR, f), join(outDir, f));
  const wasmDir = wasmDistDir();
  for (const f of WASM_FILES) copyFileSync(join(wasmDir, f), join(outDir, 'wasm', f));
  await bundlePage(outDir, options.minify ?? true);
  // Written last: a site with site.json is complete.
  writeFileAtomicSync(join(outDir, 'site.json'), JSON.stringify(manifest, null, 2) + '\n');
  return { outDir, members: members.map((m) => m.name), bytes: folderBytes(outDir) };
}
