/** Training losses live with the task (lib/task), which inference may import; re-exported here. */
export { bceWithLogits, softmaxCrossEntropy } from '../task/task';
