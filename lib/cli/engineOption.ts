import { UsageError } from './command';
import { chooseEngine, describeEngine, parseEnginePreference, type EngineChoice } from '../infer/engine';
import { parseThreads } from '../runtime/backend';

/** The `--engine` help line of the commands that predict. */
export const ENGINE_OPTIONS_HELP = `  --engine <name>      auto | ort | tfjs: ONNX Runtime (each model's model.onnx, exported on
                       first use) or tfjs on the backend above (default: auto, ONNX Runtime
                       when onnxruntime-node loads; --threads also sets its threads)`;

/**
 * `--engine` (and `--threads` for ONNX Runtime) → the engine, its choice and reason printed to
 * stderr unless quiet. A bad value, or `ort` when onnxruntime-node does not load, is a
 * UsageError naming the option, before any long work.
 */
export function cliEngine(values: Record<string, unknown>, quiet: boolean): EngineChoice {
  let choice: EngineChoice;
  try {
    const pref = values.engine === undefined ? 'auto' : parseEnginePreference(String(values.engine));
    const threads = values.threads === undefined ? undefined : parseThreads(String(values.threads), '--threads');
    choice = chooseEngine(pref, threads);
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^engine must/, '--engine must'));
  }
  if (!quiet) process.stderr.write(`engine: ${describeEngine(choice)}\n`);
  return choice;
}
