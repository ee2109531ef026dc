import { UsageError } from './command';
import { parseBackendPreference, parseThreads, type BackendPreference, type InitBackendOptions } from '../runtime/backend';

/** The `--backend` / `--threads` help lines shared by the commands that run models. */
export const BACKEND_OPTIONS_HELP = `  --backend <name>     auto | gpu | node | wasm | cpu (default: auto, the fastest available;
                       FAT2019_BACKEND overrides)
  --threads <n>        wasm threads (default: the core count; FAT2019_THREADS overrides)`;

/**
 * `--backend` and `--threads` as {@link InitBackendOptions}, checked with the backend module's
 * own rules (so the CLI accepts exactly what FAT2019_BACKEND does); a bad value is a
 * UsageError naming the option. Call it before any long work, so a typo fails at once.
 */
export function backendOptions(values: Record<string, unknown>): InitBackendOptions {
  const out: InitBackendOptions = {};
  try {
    if (values.backend !== undefined) {
      parseBackendPreference(String(values.backend), '--backend');
      out.prefer = String(values.backend) as BackendPreference;
    }
    if (values.threads !== undefined) out.threads = parseThreads(String(values.threads), '--threads');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return out;
}
