/**
 * The runtime layer shared by training and inference: backend selection (tfjs-node, wasm with
 * threads and the project's kernels, cpu), model files, the model input and window cutting.
 * Nothing here depends on lib/train.
 */
export { initBackend, describeBackend, parseBackendPreference, parseThreads, currentCustomKernels } from './backend';
export type { BackendInfo, InitBackendOptions, BackendName, BackendFlavour, BackendPreference } from './backend';
export { saveModel, loadModel, loadWeightsInto, readModelArtifacts } from './modelFile';
export { toModelInput } from './modelInput';
export { copyWindow, centreStart, slidingWindowStarts } from './windows';
