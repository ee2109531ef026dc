/**
 * The page's main thread: input (drop, file chooser, microphone, `?audio=`), progress and
 * results. Decoding, features and inference run in worker.js; this thread only draws.
 *
 * URL parameters: `audio=<relative url>` with `autorun=1` tags that file on load;
 * `backend=webgpu|webgl|wasm|cpu` forces a backend; `top=<k>` sets the number of tags.
 * `body[data-state]` is loading → ready → working → done | error, for tests and tools.
 */
import { encodeWavPcm16 } from '../../audio/wav';
import { BROWSER_BACKENDS, type AudioInput, type BrowserBackend, type FromWorker, type Phase, type PreviewImage, type SiteManifest, type ToWorker } from '../protocol';
import type { Timeline } from '../timeline';
import type { TagResult } from '../../infer/ranking';
import { drawHeatMap, drawLogMel, HEAT_ROW_PX } from './draw';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page element #${id} missing`);
  return el as T;
};

const body = document.body;
const runInfo = $('run-info');
const dropZone = $('drop-zone');
const fileInput = $<HTMLInputElement>('file-input');
const recordButton = $<HTMLButtonElement>('record');
const topKSelect = $<HTMLSelectElement>('top-k');
const statusBox = $('status');
const statusText = $('status-text');
const progress = $<HTMLProgressElement>('progress');
const errorBox = $('error');
const resultBox = $('result');
const player = $<HTMLAudioElement>('player');
const cursor = $('cursor');
const logmelCanvas = $<HTMLCanvasElement>('logmel');
const heatCanvas = $<HTMLCanvasElement>('heatmap');

/** Most classes drawn in the heat map (the most probable ones). */
const HEAT_MAX_ROWS = 16;
const PHASE_TEXT: Record<Phase, string> = { decoding: 'Decoding the audio', features: 'Computing the log-mel image', inference: 'Running the models' };

type State = 'loading' | 'ready' | 'working' | 'done' | 'error';
const setState = (state: State): void => {
  body.dataset.state = state;
};

const params = new URLSearchParams(location.search);
let manifest: SiteManifest | null = null;
let worker: Worker | null = null;
let jobId = 0;
let jobStarted = 0;
let playerUrl: string | null = null;
let shown: { timeline: Timeline; image: PreviewImage; rows: number[] } | null = null;

function showError(message: string): void {
  errorBox.textContent = message;
  errorBox.hidden = false;
  statusBox.hidden = true;
  // An earlier file's result would read as this file's.
  resultBox.hidden = true;
  shown = null;
  setState('error');
}

function showStatus(text: string, done: number, total: number): void {
  statusBox.hidden = false;
  statusText.textContent = text;
  if (total > 0) progress.value = done / total;
  else progress.removeAttribute('value');
}

function formatSeconds(s: number): string {
  const m = Math.floor(s / 60);
  const sec = s - 60 * m;
  return m > 0 ? `${m}:${sec.toFixed(1).padStart(4, '0')}` : `${sec.toFixed(1)} s`;
}

/** Sends audio to the worker; the previous job's late messages are ignored. */
function tagAudio(input: AudioInput, playable: Blob): void {
  if (!worker || !manifest) return;
  jobId++;
  jobStarted = performance.now();
  errorBox.hidden = true;
  setState('working');
  showStatus(`${PHASE_TEXT.decoding}…`, 0, 0);
  if (playerUrl) URL.revokeObjectURL(playerUrl);
  playerUrl = URL.createObjectURL(playable);
  player.src = playerUrl;
  const message: ToWorker = { type: 'tag', id: jobId, input, topK: Number(topKSelect.value) };
  const transfer = input.kind === 'file' ? [input.bytes] : [input.samples.buffer];
  worker.postMessage(message, transfer);
}

async function tagFile(file: Blob, name: string): Promise<void> {
  // The Blob stays playable after its bytes are handed (transferred) to the worker.
  tagAudio({ kind: 'file', name, bytes: await file.arrayBuffer() }, file);
}

function renderTags(result: TagResult): void {
  const list = $('tag-list');
  list.replaceChildren(
    ...result.labels.map((l) => {
      const li = document.createElement('li');
      const p = document.createElement('span');
      p.className = 'p';
      p.textContent = l.probability.toFixed(3);
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${Math.round(l.probability * 160)}px`;
      const label = document.createElement('span');
      label.textContent = l.label;
      li.append(p, bar, label);
      return li;
    }),
  );
}

/** The heat map's classes: the most probable first (clip score order). */
function heatRows(tags: TagResult, timeline: Timeline): number[] {
  const order = tags.labels.map((l) => timeline.labels.indexOf(l.label));
  const mean = timeline.labels.map((_, c) => timeline.windows.reduce((s, w) => s + w.scores[c], 0) / timeline.windows.length);
  const rest = timeline.labels.map((_, c) => c).filter((c) => !order.includes(c)).sort((a, b) => mean[b] - mean[a] || a - b);
  return [...order, ...rest].slice(0, Math.min(HEAT_MAX_ROWS, timeline.labels.length));
}

function drawResult(): void {
  if (!shown) return;
  const { timeline, image, rows } = shown;
  drawLogMel(logmelCanvas, image, timeline.seconds);
  drawHeatMap(heatCanvas, timeline, rows);
  const labels = heatCanvas.previousElementSibling as HTMLElement;
  labels.replaceChildren(
    ...rows.map((c) => {
      const div = document.createElement('div');
      div.textContent = timeline.labels[c];
      div.style.height = `${HEAT_ROW_PX}px`;
      div.style.lineHeight = `${HEAT_ROW_PX}px`;
      div.style.overflow = 'hidden';
      div.style.whiteSpace = 'nowrap';
      div.style.textOverflow = 'ellipsis';
      div.title = timeline.labels[c];
      return div;
    }),
  );
  const steps = 5;
  $('axis').replaceChildren(
    ...Array.from({ length: steps + 1 }, (_, i) => {
      const span = document.createElement('span');
      span.textContent = formatSeconds((timeline.seconds * i) / steps);
      return span;
    }),
  );
  moveCursor();
}

function showResult(message: Extract<FromWorker, { type: 'result' }>): void {
  const result = message.tags[0];
  statusBox.hidden = true;
  resultBox.hidden = false;
  $('result-title').textContent = `${result.file} · ${formatSeconds(result.seconds)} · ${message.timeline.windows.length} windows`;
  renderTags(result);
  $('tags').textContent = JSON.stringify(message.tags, null, 2);
  $('timeline').textContent = JSON.stringify(message.timeline);
  shown = { timeline: message.timeline, image: message.image, rows: heatRows(result, message.timeline) };
  drawResult();
  const total = (performance.now() - jobStarted) / 1000;
  statusText.textContent = `Tagged in ${total.toFixed(1)} s (decoding ${(message.ms.decoding / 1000).toFixed(1)} s, log-mel ${(message.ms.features / 1000).toFixed(1)} s, models ${(message.ms.inference / 1000).toFixed(1)} s)`;
  statusBox.hidden = false;
  progress.value = 1;
  setState('done');
}

/** Puts the cursor at the player's time over both tracks. */
function moveCursor(): void {
  if (!shown) return;
  const fraction = Math.min(1, Math.max(0, player.currentTime / shown.timeline.seconds));
  cursor.style.transform = `translateX(${fraction * heatCanvas.clientWidth}px)`;
}

function followPlayback(): void {
  moveCursor();
  if (!player.paused) requestAnimationFrame(followPlayback);
}

function seekTo(event: MouseEvent): void {
  if (!shown) return;
  const box = (event.currentTarget as HTMLElement).getBoundingClientRect();
  player.currentTime = ((event.clientX - box.left) / box.width) * shown.timeline.seconds;
  moveCursor();
}

function onWorkerMessage(message: FromWorker): void {
  if (message.type === 'ready') {
    runInfo.innerHTML = '';
    runInfo.append(
      'run ', bold(manifest!.run), ` · ${message.members} model${message.members === 1 ? '' : 's'} · ${manifest!.vocabulary.length} classes · backend `, bold(message.backend),
      ` · log-mel on ${message.featureEngine === 'wasm-simd' ? 'WebAssembly SIMD' : 'JavaScript'}`,
    );
    runInfo.title = message.reasons.length > 0 ? `Not used: ${message.reasons.join('; ')}` : '';
    body.dataset.backend = message.backend;
    body.dataset.features = message.featureEngine;
    setState('ready');
    autorun();
    return;
  }
  if (message.type === 'error') {
    if (message.id === null) showError(`Cannot start: ${message.message}`);
    else if (message.id === jobId) showError(message.message);
    return;
  }
  if (message.id !== jobId) return;
  if (message.type === 'progress') {
    const elapsed = (performance.now() - jobStarted) / 1000;
    const count = message.phase === 'inference' ? ` ${message.done} / ${message.total} window passes` : '';
    showStatus(`${PHASE_TEXT[message.phase]}…${count} (${elapsed.toFixed(1)} s)`, message.done, message.phase === 'inference' ? message.total : 0);
  } else showResult(message);
}

function bold(text: string): HTMLElement {
  const b = document.createElement('b');
  b.textContent = text;
  return b;
}

/** `?audio=<url>&autorun=1`: fetch and tag that file. */
function autorun(): void {
  const audio = params.get('audio');
  if (!audio || params.get('autorun') !== '1') return;
  fetch(audio)
    .then(async (response) => {
      if (!response.ok) throw new Error(`${audio}: HTTP ${response.status} ${response.statusText}`);
      await tagFile(await response.blob(), audio);
    })
    .catch((err: Error) => showError(err.message.startsWith(audio) ? err.message : `${audio}: cannot fetch: ${err.message}`));
}

// ---- microphone ------------------------------------------------------------------------------

let recording: { context: AudioContext; stream: MediaStream; node: AudioWorkletNode; chunks: Float32Array[]; started: number; timer: number } | null = null;

async function startRecording(): Promise<void> {
  if (!navigator.mediaDevices?.getUserMedia) throw new Error('this browser cannot record (no getUserMedia; the page must be served over https or from localhost)');
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  const context = new AudioContext();
  await context.audioWorklet.addModule('recorder-worklet.js');
  const source = context.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(context, 'pcm-recorder');
  const chunks: Float32Array[] = [];
  node.port.onmessage = (event: MessageEvent<Float32Array>) => chunks.push(event.data);
  source.connect(node);
  await context.resume();
  const started = performance.now();
  const timer = window.setInterval(() => showStatus(`Recording… ${((performance.now() - started) / 1000).toFixed(1)} s (press Stop to tag)`, 0, 0), 200);
  recording = { context, stream, node, chunks, started, timer };
  recordButton.textContent = '■ Stop';
  recordButton.classList.add('recording');
  errorBox.hidden = true;
}

async function stopRecording(): Promise<void> {
  if (!recording) return;
  const { context, stream, node, chunks, timer } = recording;
  recording = null;
  window.clearInterval(timer);
  recordButton.textContent = '● Record';
  recordButton.classList.remove('recording');
  node.disconnect();
  stream.getTracks().forEach((t) => t.stop());
  await context.close();
  const length = chunks.reduce((s, c) => s + c.length, 0);
  const samples = new Float32Array(length);
  let offset = 0;
  for (const c of chunks) {
    samples.set(c, offset);
    offset += c.length;
  }
  if (length === 0) throw new Error('the microphone delivered no audio');
  const wav = encodeWavPcm16(samples, context.sampleRate);
  const playable = new Blob([wav.buffer.slice(wav.byteOffset, wav.byteOffset + wav.byteLength) as ArrayBuffer], { type: 'audio/wav' });
  tagAudio({ kind: 'pcm', name: `microphone (${(length / context.sampleRate).toFixed(1)} s)`, samples, sampleRate: context.sampleRate }, playable);
}

// ---- start -------------------------------------------------------------------------------------

function wireInputs(): void {
  // A file dropped anywhere on the page is tagged (and the browser does not navigate to it).
  window.addEventListener('dragover', (e) => {
    e.preventDefault();
    dropZone.classList.add('over');
  });
  window.addEventListener('dragleave', (e) => {
    if (e.relatedTarget === null) dropZone.classList.remove('over');
  });
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    dropZone.classList.remove('over');
    const file = e.dataTransfer?.files[0];
    if (file) void tagFile(file, file.name).catch((err: Error) => showError(`${file.name}: ${err.message}`));
  });
  dropZone.addEventListener('keydown', (e) => {
    if (e.target === dropZone && (e.key === 'Enter' || e.key === ' ')) {
      e.preventDefault();
      fileInput.click();
    }
  });
  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    if (file) void tagFile(file, file.name).catch((err: Error) => showError(`${file.name}: ${err.message}`));
    fileInput.value = '';
  });
  recordButton.addEventListener('click', () => {
    const action = recording ? stopRecording() : startRecording();
    action.catch((err: Error) => {
      if (recording) void stopRecording().catch(() => undefined);
      showError(`Microphone: ${err.message}`);
    });
  });
  player.addEventListener('play', followPlayback);
  player.addEventListener('seeked', moveCursor);
  player.addEventListener('timeupdate', moveCursor);
  logmelCanvas.addEventListener('click', seekTo);
  heatCanvas.addEventListener('click', seekTo);
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(drawResult, 150);
  });
}

async function start(): Promise<void> {
  const siteUrl = new URL('.', location.href).href;
  const response = await fetch('site.json');
  if (!response.ok) throw new Error(`site.json: HTTP ${response.status} (is this the folder written by fat2019 web?)`);
  manifest = (await response.json()) as SiteManifest;
  const top = Number(params.get('top') ?? manifest.topK);
  const choices = [...new Set([1, 3, 5, 10, top, manifest.vocabulary.length])].filter((k) => Number.isInteger(k) && k >= 1 && k <= manifest!.vocabulary.length).sort((a, b) => a - b);
  topKSelect.replaceChildren(...choices.map((k) => new Option(String(k), String(k), false, k === Math.min(top, manifest!.vocabulary.length))));
  const requested = params.get('backend');
  if (requested !== null && !(BROWSER_BACKENDS as readonly string[]).includes(requested)) {
    throw new Error(`?backend=${requested}: choose one of ${BROWSER_BACKENDS.join(', ')}`);
  }
  worker = new Worker('worker.js');
  worker.onmessage = (e: MessageEvent<FromWorker>) => onWorkerMessage(e.data);
  worker.onerror = (e) => showError(`The worker stopped: ${e.message || 'worker.js failed to load'}`);
  const init: ToWorker = { type: 'init', siteUrl, manifest, backend: requested as BrowserBackend | null };
  worker.postMessage(init);
  wireInputs();
}

start().catch((err: Error) => showError(err.message));
