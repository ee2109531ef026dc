/** The jobs that run the whole system (lib/job/mainJob.ts). */
export { runMainJob, formatMainJobSummary, type MainJobOptions, type MainJobSummary } from './mainJob';
