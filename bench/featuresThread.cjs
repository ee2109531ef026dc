// Worker-thread bootstrap for bench/features.ts: tsx's require hook, then the TypeScript body.
// Same start-up as lib/data/preprocessWorker.cjs, so the thread is what `preprocess` runs.
'use strict';
require('tsx/cjs');
require('./featuresThread.ts');
