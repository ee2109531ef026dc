// Worker-thread bootstrap for the ONNX Runtime network: registers tsx's require hook in this
// thread, then loads the TypeScript worker (as lib/data/preprocessWorker.cjs does).
'use strict';
require('tsx/cjs');
require('./ortWorker.ts');
