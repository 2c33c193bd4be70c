// A worker thread of a log's verification (verify-parallel.ts): its own read-only
// connection to the database file, opened at the first task, then one task at a time, each answered
// with { ok, value } or { ok: false, error } (message, name and SQLite's code).
import { parentPort, workerData } from 'node:worker_threads';
import type { Db } from './db.js';
import { openForVerify, runVerifyTask, type VerifyTask } from './verify-parallel.js';

const { file } = workerData as { file: string };
let db: Db | undefined;

parentPort!.on('message', (task: VerifyTask) => {
  try {
    db ??= openForVerify(file);
    parentPort!.postMessage({ ok: true, value: runVerifyTask(db, task) });
  } catch (e) {
    const err = e as Error & { code?: unknown };
    parentPort!.postMessage({ ok: false, error: { message: err.message, name: err.name, ...(typeof err.code === 'string' ? { code: err.code } : {}) } });
  }
});
