/**
 * The output activation of a task, applied to the network's logits outside the network (so
 * every engine — tfjs, ONNX Runtime — returns logits and scores the same way):
 * - 'sigmoid': multi-label (FAT2019), each class independently in 0..1;
 * - 'softmax': single-label, the classes of a row sum to 1.
 * Computed in float64 from float32 logits; log forms are computed directly from the logits so
 * tiny probabilities never underflow to log 0 (the geometric mean needs them).
 */

/** How logits become class probabilities. */
export type OutputActivation = 'sigmoid' | 'softmax';

export const OUTPUT_ACTIVATIONS: readonly OutputActivation[] = ['sigmoid', 'softmax'];

/** Throws naming the value unless it is an {@link OutputActivation}. */
export function checkActivation(activation: unknown): OutputActivation {
  if (activation !== 'sigmoid' && activation !== 'softmax') {
    throw new Error(`activation must be 'sigmoid' or 'softmax', got '${String(activation)}'`);
  }
  return activation;
}

/** log σ(x) = −log(1 + e^−x), stable for any x. */
function logSigmoid(x: number): number {
  return Math.min(x, 0) - Math.log1p(Math.exp(-Math.abs(x)));
}

/**
 * Writes the activated row `logits[offset .. offset + C)` into `out[0 .. C)`: probabilities,
 * or their natural logarithms when `log` is true.
 */
export function activateRow(
  logits: ArrayLike<number>,
  offset: number,
  numClasses: number,
  activation: OutputActivation,
  log: boolean,
  out: Float64Array,
): void {
  const C = numClasses;
  if (activation === 'sigmoid') {
    for (let c = 0; c < C; c++) {
      const x = logits[offset + c];
      out[c] = log ? logSigmoid(x) : 1 / (1 + Math.exp(-x));
    }
    return;
  }
  let max = -Infinity;
  for (let c = 0; c < C; c++) max = Math.max(max, logits[offset + c]);
  let sum = 0;
  for (let c = 0; c < C; c++) sum += Math.exp(logits[offset + c] - max);
  const logSum = Math.log(sum);
  for (let c = 0; c < C; c++) {
    const logP = logits[offset + c] - max - logSum;
    out[c] = log ? logP : Math.exp(logP);
  }
}

/** Activated copy `[n][C]` of logits `[n][C]` (row-major), as probabilities. */
export function activate(logits: ArrayLike<number>, numClasses: number, activation: OutputActivation): Float32Array {
  checkActivation(activation);
  if (logits.length % numClasses !== 0) throw new Error(`activate: ${logits.length} logits is not a multiple of ${numClasses} classes`);
  const out = new Float32Array(logits.length);
  const row = new Float64Array(numClasses);
  for (let offset = 0; offset < logits.length; offset += numClasses) {
    activateRow(logits, offset, numClasses, activation, false, row);
    for (let c = 0; c < numClasses; c++) out[offset + c] = row[c];
  }
  return out;
}
