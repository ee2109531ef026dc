/**
 * The source recordings of the demo data: the CC0 Sonic Pi samples shipped in the npm package
 * `supersonic-scsynth-samples` (a dependency of this project), decoded once per process.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadAudioFile } from '../../audio/index';

/** The npm package that holds the sample FLACs. */
export const SAMPLES_PACKAGE = 'supersonic-scsynth-samples';

/** Sample rate of every decoded recording and of the generated clips (Hz). */
export const DEMO_SAMPLE_RATE = 44100;

/** A decoded source recording. */
export interface SourceRecording {
  /** Sample name, e.g. `bd_808` (the file is `<samplesDir>/bd_808.flac`). */
  name: string;
  /** Mono float32 samples `[frames]` at 44.1 kHz (stereo files mixed down, other rates resampled). */
  samples: Float32Array;
  /** max |sample|, > 0. */
  peak: number;
}

/**
 * The folder holding `<name>.flac` for every sample: `<package>/samples`, found through Node's
 * module resolution (so it works from any working directory). Throws an Error naming the package
 * and the fix when it is not installed.
 */
export function defaultSamplesDir(): string {
  let pkgJson: string;
  try {
    pkgJson = require.resolve(`${SAMPLES_PACKAGE}/package.json`);
  } catch {
    // Fall back to the project's own node_modules (e.g. a tool that changed require's paths).
    const local = resolve(__dirname, '..', '..', '..', 'node_modules', SAMPLES_PACKAGE, 'package.json');
    if (!existsSync(local)) throw missingPackageError(`cannot resolve ${SAMPLES_PACKAGE}/package.json`);
    pkgJson = local;
  }
  return join(dirname(pkgJson), 'samples');
}

function missingPackageError(detail: string): Error {
  return new Error(
    `the demo dataset is made from the CC0 Sonic Pi samples of the npm package "${SAMPLES_PACKAGE}", ` +
      `which is not installed (${detail}). Fix: run \`npm install\` in the project folder ` +
      `(or \`npm install ${SAMPLES_PACKAGE}@0.84.2\`).`,
  );
}

/** Throws the missing-package Error when `samplesDir` does not exist. */
function checkSamplesDir(samplesDir: string): void {
  if (!existsSync(samplesDir)) throw missingPackageError(`folder not found: ${samplesDir}`);
}

/** Decoded recordings keyed by absolute file path; a Promise so concurrent callers share one decode. */
const cache = new Map<string, Promise<SourceRecording>>();

/**
 * Decodes `<samplesDir>/<name>.flac` to mono 44.1 kHz with lib/audio's loadAudioFile, once per
 * process (later calls return the cached samples; callers must not modify them).
 * Errors name the file and the problem.
 */
export function loadSourceRecording(samplesDir: string, name: string): Promise<SourceRecording> {
  const path = resolve(samplesDir, `${name}.flac`);
  let entry = cache.get(path);
  if (!entry) {
    entry = (async () => {
      if (!existsSync(path)) {
        throw new Error(`${path}: demo source recording not found (is ${SAMPLES_PACKAGE} complete? reinstall it with \`npm install\`)`);
      }
      const samples = await loadAudioFile(path, { sampleRate: DEMO_SAMPLE_RATE });
      let peak = 0;
      for (let i = 0; i < samples.length; i++) {
        const a = Math.abs(samples[i]);
        if (a > peak) peak = a;
      }
      if (!(peak > 0)) throw new Error(`${path}: demo source recording is silent (peak 0)`);
      return { name, samples, peak };
    })();
    entry.catch(() => cache.delete(path));
    cache.set(path, entry);
  }
  return entry;
}

/** Decodes the named recordings (each once per process), keyed by name. */
export async function loadSourceRecordings(samplesDir: string, names: readonly string[]): Promise<Map<string, SourceRecording>> {
  checkSamplesDir(samplesDir);
  const out = new Map<string, SourceRecording>();
  for (const name of names) out.set(name, await loadSourceRecording(samplesDir, name));
  return out;
}
