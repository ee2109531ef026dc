/**
 * Body of the ONNX Runtime worker thread (started through ortWorker.cjs by ./network
 * ortNetwork with `thread: 'worker'`). onnxruntime-node's `run` computes on the calling thread,
 * so inside the main thread it would block the event loop for a whole forward pass; here it
 * blocks only this worker, and the main thread keeps feeding the preprocessing workers, reading
 * the next clips and printing progress.
 *
 * Messages in: `{ type: 'init', model, options }` (answered `{ type: 'ready', inputNames,
 * outputNames }` or `{ type: 'error' }`), `{ type: 'run', id, input, dims, inputName,
 * outputName }` (answered `{ type: 'result', id, data, dims }`, buffers transferred).
 */
import { parentPort } from 'node:worker_threads';
import { loadOnnxRuntime, type OrtSession, type OrtSessionOptions } from '../runtime/onnxRuntime';

type Message =
  | { type: 'init'; model: Uint8Array; options: OrtSessionOptions }
  | { type: 'run'; id: number; input: Float32Array; dims: number[]; inputName: string; outputName: string };

if (!parentPort) throw new Error('ortWorker must run in a worker thread');
const port = parentPort;
let session: OrtSession | null = null;

port.on('message', (msg: Message) => {
  void (async () => {
    const { ort, reason } = loadOnnxRuntime();
    try {
      if (!ort) throw new Error(`ONNX Runtime is not available in the worker: ${reason}`);
      if (msg.type === 'init') {
        session = await ort.InferenceSession.create(msg.model, msg.options);
        port.postMessage({ type: 'ready', inputNames: session.inputNames, outputNames: session.outputNames });
        return;
      }
      if (!session) throw new Error('internal: run before init');
      const out = await session.run({ [msg.inputName]: new ort.Tensor('float32', msg.input, msg.dims) });
      const y = out[msg.outputName];
      const data = Float32Array.from(y.data as Float32Array);
      port.postMessage({ type: 'result', id: msg.id, data, dims: [...y.dims] }, [data.buffer]);
    } catch (err) {
      port.postMessage({ type: 'error', id: msg.type === 'run' ? msg.id : -1, message: (err as Error).message.split('\n')[0] });
    }
  })();
});
