/**
 * Body of a preprocessing worker thread (started through preprocessWorker.cjs).
 * Messages in: `{ type: 'job', job, config }`; out: a {@link PreprocessJobResult} per job.
 * Jobs run one after another; the FFT and mel plans are built once per thread and reused.
 */
import { parentPort } from 'node:worker_threads';
import type { PreprocessConfig } from '../config';
import { runPreprocessJob, type PreprocessJob } from './preprocessJob';

interface JobMessage {
  type: 'job';
  job: PreprocessJob;
  config: PreprocessConfig;
}

if (!parentPort) throw new Error('preprocessWorker must run in a worker thread');
const port = parentPort;
let queue: Promise<void> = Promise.resolve();
port.on('message', (msg: JobMessage) => {
  if (msg?.type !== 'job') return;
  queue = queue.then(async () => {
    port.postMessage(await runPreprocessJob(msg.job, msg.config));
  });
});
