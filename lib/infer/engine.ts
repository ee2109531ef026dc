/**
 * Which engine runs the networks: ONNX Runtime when onnxruntime-node loads (native threads,
 * about 4× tfjs-wasm on CNN-model-1), tfjs otherwise. `--engine ort|tfjs` forces one; the choice
 * and its reason are printed, as for backends.
 */
import { availableParallelism } from 'node:os';
import { loadOnnxRuntime } from '../runtime/onnxRuntime';
import type { EngineName } from './network';

export type EnginePreference = EngineName | 'auto';

export const ENGINE_PREFERENCES: readonly EnginePreference[] = ['auto', 'ort', 'tfjs'];

/** The engine chosen and why. */
export interface EngineChoice {
  engine: EngineName;
  reason: string;
  /** ONNX Runtime intra-op threads (ort only; default every core). */
  threads?: number;
}

/** `auto`, `ort` or `tfjs`; anything else throws naming the value. */
export function parseEnginePreference(value: string): EnginePreference {
  if (!(ENGINE_PREFERENCES as readonly string[]).includes(value)) {
    throw new Error(`engine must be one of ${ENGINE_PREFERENCES.join(', ')}, got '${value}'`);
  }
  return value as EnginePreference;
}

/**
 * Resolves a preference: 'auto' = ort when onnxruntime-node loads, else tfjs (the reason says
 * why); 'ort' throws when it does not load; 'tfjs' always works.
 */
export function chooseEngine(preference: EnginePreference = 'auto', threads?: number): EngineChoice {
  parseEnginePreference(preference);
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) throw new Error(`threads must be an integer >= 1, got ${threads}`);
  if (preference === 'tfjs') return { engine: 'tfjs', reason: 'asked for (--engine tfjs)' };
  const { ort, reason } = loadOnnxRuntime();
  const n = threads ?? availableParallelism();
  if (preference === 'ort') {
    if (!ort) throw new Error(`--engine ort: ${reason}`);
    return { engine: 'ort', reason: `asked for (--engine ort); ${reason}`, threads: n };
  }
  if (!ort) return { engine: 'tfjs', reason };
  return { engine: 'ort', reason, threads: n };
}

/** "ONNX Runtime, 2 threads (onnxruntime-node 1.30.0 loaded)" / "tfjs (…reason…)". */
export function describeEngine(choice: EngineChoice): string {
  return choice.engine === 'ort'
    ? `ONNX Runtime, ${choice.threads} thread${choice.threads === 1 ? '' : 's'} (${choice.reason})`
    : `tfjs (${choice.reason})`;
}
