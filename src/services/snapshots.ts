// Camera evidence for managers' clients: a picture by id (the JPEG or PNG as the camera sent it,
// re-hashed on the way out so a swapped file is refused rather than served as evidence), and the
// pictures of an alarm.
import { createHash } from 'node:crypto';
import { readSnapshotFile, type SnapshotRecord } from '../store/snapshots.js';
import { notFound, ServiceError } from './errors.js';
import type { ServiceDeps } from './index.js';
import { running } from './running.js';

/** A picture as a list shows it. */
export interface SnapshotSummary {
  id: number;
  camera: string;
  sha256: string;
  takenAt: string;
}

export const snapshotSummary = (s: SnapshotRecord): SnapshotSummary => ({ id: s.id, camera: s.camera, sha256: s.sha256, takenAt: s.takenAt });

export class SnapshotService {
  constructor(private readonly deps: ServiceDeps) {}

  /** The picture's bytes and type; conflict when the file no longer matches its digest. */
  picture(id: number): { contentType: string; data: Buffer; sha256: string } {
    const snapshot = this.deps.store.snapshots.get(id);
    if (!snapshot) throw notFound(`snapshot ${id}`);
    const data = readSnapshotFile(running(this.deps).dataDir, snapshot.file);
    if (!data) throw notFound(`the picture of snapshot ${id}`);
    if (createHash('sha256').update(data).digest('hex') !== snapshot.sha256) {
      throw new ServiceError('conflict', `the picture of snapshot ${id} does not match its recorded digest; run \`tobira log verify\``);
    }
    return { contentType: snapshot.contentType, data, sha256: snapshot.sha256 };
  }

  /** The pictures taken for an alarm (its event id), oldest first. */
  ofAlarm(eventId: number): SnapshotSummary[] {
    return this.deps.store.snapshots.ofEvent(eventId).map(snapshotSummary);
  }
}
