// Worker-thread bootstrap for preprocessDatasets: registers tsx's require hook in this thread,
// then loads the TypeScript worker, so workers run from the CLI, tests and notebooks alike.
'use strict';
require('tsx/cjs');
require('./preprocessWorker.ts');
