/**
 * The page's Web Worker: decoding, the log-mel image and the ensemble run here, off the main
 * thread, so a 10-minute file leaves the page responsive. The code is the CLI's: lib/audio
 * decodes and resamples, lib/features builds the image, lib/infer's windows feed the models.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
// Registers the project's custom layers (Mish) so model.json files that use them load.
import '../../models/layers';
import { audioToMono, decodeAudio } from '../../audio/load';
import { imageFromTrimmed, melPowerEngine } from '../../features/logmel';
import { trimSilence } from '../../features/trim';
import type { ClipImage } from '../../features/types';
import { BROWSER_BACKENDS, type AudioInput, type BrowserBackend, type FromWorker, type Phase, type PreviewImage, type SiteManifest, type ToWorker } from '../protocol';
import { buildTimeline, padLeft, tagResult, type ImagePlacement } from '../timeline';
import { scoreClipWindows } from '../windowScores';

/** The worker's global scope, typed as far as this file uses it (the DOM lib lacks worker types). */
const scope = self as unknown as {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  navigator: Navigator & { gpu?: unknown };
};

/** Widest preview image sent to the page: enough for a screen, small for 10-minute files. */
const PREVIEW_MAX_FRAMES = 2400;

let manifest: SiteManifest | null = null;
let models: tf.LayersModel[] = [];

const post = (message: FromWorker, transfer: Transferable[] = []): void => scope.postMessage(message, transfer);

/** The WebGL renderer's name ('' when unknown). */
function webglRenderer(): string {
  try {
    const canvas = new OffscreenCanvas(1, 1);
    const gl = (canvas.getContext('webgl2') ?? canvas.getContext('webgl')) as WebGLRenderingContext | null;
    if (!gl) return '';
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    return String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  } catch {
    return '';
  }
}

/**
 * Picks the first backend of `order` that initialises and computes; returns it and why others
 * failed. Unless it was asked for (`forced`), WebGL on a software renderer (a machine without a
 * usable GPU: SwiftShader, llvmpipe) is passed over: it is many times slower than wasm.
 */
async function chooseBackend(order: readonly BrowserBackend[], forced: boolean): Promise<{ backend: string; reasons: string[] }> {
  const reasons: string[] = [];
  for (const name of order) {
    try {
      if (name === 'webgpu' && !scope.navigator.gpu) throw new Error('navigator.gpu is absent');
      if (name === 'webgl' && !forced) {
        const renderer = webglRenderer();
        if (/swiftshader|llvmpipe|softpipe|software/i.test(renderer)) throw new Error(`software renderer (${renderer}), slower than wasm`);
      }
      if (!(await tf.setBackend(name))) throw new Error('failed to initialise');
      await tf.ready();
      // A backend can initialise and still fail on first use (lost or software-blocked GPU context).
      const check = tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)).dataSync()[0]);
      if (check !== 3) throw new Error(`computes 1 + 2 = ${check}`);
      return { backend: name, reasons };
    } catch (err) {
      reasons.push(`${name}: ${(err as Error).message}`);
    }
  }
  throw new Error(`no tfjs backend works in this browser (${reasons.join('; ')})`);
}

async function init(siteUrl: string, site: SiteManifest, preferred: BrowserBackend | null): Promise<void> {
  // The wasm binaries are copied into the site: no network beyond it.
  setWasmPaths(new URL('wasm/', siteUrl).href);
  const order = preferred ? [preferred] : BROWSER_BACKENDS;
  const { backend, reasons } = await chooseBackend(order, preferred !== null);
  const loaded: tf.LayersModel[] = [];
  for (const member of site.members) {
    const url = new URL(member.modelUrl, siteUrl).href;
    try {
      loaded.push(await tf.loadLayersModel(url));
    } catch (err) {
      throw new Error(`cannot load model ${member.name} (${url}): ${(err as Error).message}`);
    }
  }
  manifest = site;
  models = loaded;
  post({ type: 'ready', backend, reasons, members: loaded.length, featureEngine: melPowerEngine(site.preprocess) });
}

/** Mono samples at the run's sample rate, exactly as `fat2019 tag` loads a file. */
async function decodeInput(input: AudioInput, sampleRate: number): Promise<Float32Array> {
  if (input.kind === 'file') {
    const audio = await decodeAudio(new Uint8Array(input.bytes), input.name);
    return audioToMono(audio, input.name, sampleRate);
  }
  if (input.samples.length === 0) throw new Error(`${input.name}: no audio was recorded`);
  return audioToMono({ sampleRate: input.sampleRate, channelData: [input.samples] }, input.name, sampleRate);
}

/** A dB matrix (preprocess output 'db') as 0..255 grey levels: its range mapped linearly. */
function dbPreview(db: Float32Array): Uint8Array {
  let lo = Infinity, hi = -Infinity;
  for (const v of db) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  return Uint8Array.from(db, (v) => Math.round((v - lo) * scale));
}

/** The image shrunk to at most {@link PREVIEW_MAX_FRAMES} columns (each the maximum of the columns it covers). */
function previewOf(image: ClipImage, startSeconds: number, endSeconds: number): PreviewImage {
  const { nMels, frames } = image;
  const data = image.data instanceof Uint8Array ? image.data : dbPreview(image.data);
  const width = Math.min(frames, PREVIEW_MAX_FRAMES);
  const out = new Uint8Array(nMels * width);
  for (let x = 0; x < width; x++) {
    const a = Math.floor((x * frames) / width);
    const b = Math.max(a + 1, Math.floor(((x + 1) * frames) / width));
    for (let m = 0; m < nMels; m++) {
      let v = 0;
      for (let t = a; t < b; t++) v = Math.max(v, data[m * frames + t]);
      out[m * width + x] = v;
    }
  }
  return { nMels, frames: width, data: out, startSeconds, endSeconds };
}

async function tag(id: number, input: AudioInput, topK: number): Promise<void> {
  if (!manifest || models.length === 0) throw new Error('the models are not loaded yet');
  const cfg = manifest.preprocess;
  const ms = { decoding: 0, features: 0, inference: 0 } as Record<Phase, number>;
  const phase = (name: Phase, done: number, total: number): void => post({ type: 'progress', id, phase: name, done, total });
  let t0 = performance.now();
  phase('decoding', 0, 1);
  const samples = await decodeInput(input, cfg.sampleRate);
  const seconds = samples.length / cfg.sampleRate;
  ms.decoding = performance.now() - t0;

  t0 = performance.now();
  phase('features', 0, 1);
  // trimSilence + imageFromTrimmed = lib/features clipImageFromSamples, keeping where the trim starts.
  const trim = cfg.trim === false
    ? { start: 0, trimmed: samples }
    : trimSilence(samples, { topDb: cfg.trimTopDb, frameLength: cfg.trimFrameLength, hopLength: cfg.trimHopLength });
  let image: ClipImage;
  try {
    image = imageFromTrimmed(trim.trimmed, cfg);
  } catch (err) {
    throw new Error(`${input.name}: ${(err as Error).message}`);
  }
  const placement: ImagePlacement = { trimStart: trim.start, trimmedLength: trim.trimmed.length };
  ms.features = performance.now() - t0;

  t0 = performance.now();
  const runNormalization = manifest.inputNormalization;
  const scores = await scoreClipWindows(models, image, manifest.infer, manifest.vocabulary.length, {
    activation: manifest.activation,
    normalization: manifest.members.map((m) => (m.inputNormalization !== undefined ? m.inputNormalization : runNormalization)),
    onProgress: (p) => phase('inference', p.done, p.total),
  });
  ms.inference = performance.now() - t0;

  const tags = [tagResult(input.name, seconds, scores, manifest.vocabulary, topK)];
  const timeline = buildTimeline(input.name, seconds, scores, manifest.vocabulary, placement, cfg, manifest.infer.windowFrames);
  const origin = (trim.start - padLeft(trim.trimmed.length, cfg.minSamples)) / cfg.sampleRate;
  const frameSec = cfg.hopLength / cfg.sampleRate;
  // Column f is centred at f · hop: the image spans half a hop either side of its first and last centres.
  const preview = previewOf(image, origin - frameSec / 2, origin + (image.frames - 0.5) * frameSec);
  post({ type: 'result', id, tags, timeline, image: preview, ms }, [preview.data.buffer]);
}

// One job at a time, in the order they arrive.
let queue: Promise<void> = Promise.resolve();

scope.onmessage = (event) => {
  const message = event.data;
  queue = queue.then(async () => {
    try {
      if (message.type === 'init') await init(message.siteUrl, message.manifest, message.backend);
      else await tag(message.id, message.input, message.topK);
    } catch (err) {
      post({ type: 'error', id: message.type === 'tag' ? message.id : null, message: (err as Error).message });
    }
  });
};
