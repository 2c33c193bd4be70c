// A worker thread of an entry-log export through the API (entries.ts): `writeExport` on its own
// read-only connection, off the controller's thread, so neither the read (a filter no index serves
// walks the whole log) nor the CSV or JSON formatting holds up a door. Each chunk goes to the
// parent, which answers 'more' once the client has taken it (backpressure) or 'stop' when the
// client went away; at the end { done: records } or { error }.
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase, type Db } from '../store/db.js';
import { writeExport, type ExportOptions } from './entry-export.js';

const port = parentPort!;
const { dataDir, options } = workerData as { dataDir: string; options: ExportOptions };

let answer: ((more: boolean) => void) | undefined;
let stopped = false;
port.on('message', (m: 'more' | 'stop') => {
  if (m === 'stop') stopped = true;
  const a = answer;
  answer = undefined;
  a?.(m === 'more');
});

const write = (chunk: string) =>
  new Promise<void>((resolve, reject) => {
    if (stopped) return reject(new Error('the client went away'));
    answer = (more) => (more ? resolve() : reject(new Error('the client went away')));
    port.postMessage({ chunk });
  });

let db: Db | undefined;
try {
  db = openDatabase(dataDir, { readonly: true });
  port.postMessage({ done: await writeExport(db, options, write) });
} catch (e) {
  const err = e as Error & { code?: unknown };
  port.postMessage({ error: { message: err.message, name: err.name, ...(typeof err.code === 'string' ? { code: err.code } : {}) } });
} finally {
  db?.close();
  port.close();
}
