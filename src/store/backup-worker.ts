// A worker thread that writes one backup (backup.ts writeBackupInWorker): the database copy, the
// archive and its encryption stay off the thread that decides at doors.
import { parentPort, workerData } from 'node:worker_threads';
import { BackupError, writeBackup, type BackupOptions } from './backup.js';

writeBackup(workerData as BackupOptions).then(
  (result) => parentPort!.postMessage({ ok: true, result }),
  (e: unknown) => parentPort!.postMessage({ ok: false, error: (e as Error).message ?? String(e), backupError: e instanceof BackupError }),
);
