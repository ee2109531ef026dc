import { UsageError } from './command';
import { chooseEngine, describeEngine, type EngineChoice, type EnginePreference } from '../infer/engine';

/**
 * Parsed `--engine` (and `--threads` for ONNX Runtime) → the engine, its choice and reason
 * printed to stderr unless quiet. `ort` when onnxruntime-node does not load is a UsageError
 * naming the option, before any long work.
 */
export function cliEngine(preference: EnginePreference, threads: number | undefined, quiet: boolean): EngineChoice {
  let choice: EngineChoice;
  try {
    choice = chooseEngine(preference, threads);
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^engine must/, '--engine must'));
  }
  if (!quiet) process.stderr.write(`engine: ${describeEngine(choice)}\n`);
  return choice;
}
