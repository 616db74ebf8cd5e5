// Runs the TypeScript worker straight from source (tests, `tsx` runs): register tsx in this
// thread, then import the entry. Bundled builds start out/worker/train.worker.js instead.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
