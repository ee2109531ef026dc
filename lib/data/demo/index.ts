/**
 * The embedded demo dataset: real CC0 recordings (Sonic Pi samples) mixed into FSDKaggle2019-
 * layout clips with correct (curated), corrupted (noisy) and held-out-recording (test) labels.
 * See data/DEMO-PROVENANCE.md.
 */
export {
  generateDemoDataset,
  DEFAULT_NOISY_LABEL_ERROR_RATE,
  DEMO_GENERATOR_VERSION,
  MANIFEST_NAME,
  type DemoOptions,
  type DemoSummary,
} from './generate';
export { DEMO_CLASSES, DEMO_VOCABULARY, demoRecordingSplit, demoRecordingNames, type DemoClass, type RecordingSplit } from './classes';
export {
  DEMO_SETS,
  DEMO_SIZES,
  GAIN_DB_RANGE,
  SEMITONE_RANGE,
  NOISE_BELOW_DB_RANGE,
  SOURCE_PEAK,
  MAX_EVENTS,
  planClip,
  multiLabelPlan,
  corruptLabels,
  drawFnames,
  type DemoSet,
  type DemoSize,
  type DemoSizeSpec,
  type DemoClipPlan,
  type DemoEventPlan,
} from './plan';
export { SAMPLES_PACKAGE, DEMO_SAMPLE_RATE, defaultSamplesDir, loadSourceRecording, type SourceRecording } from './sources';
export { renderClip, addEvent, colouredNoise, rateChangedLength, NOISE_COLOURS, type NoiseColour, type EventPlacement } from './synth';
