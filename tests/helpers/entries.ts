// Entry-log records written straight into a test's database, as the controller appends them.
import type { Db } from '../../src/store/db.js';
import { EntryLog } from '../../src/store/entry-log.js';

/** Granted card decisions at the lab door, seq `from`… (`n` of them), `stepMs` apart from `start`; names in Japanese and English. */
export function appendDecisions(db: Db, from: number, n: number, start: number, stepMs: number): void {
  const log = new EntryLog(db);
  for (let i = from; i < from + n; i++) {
    log.append({
      at: new Date(start + (i - from) * stepMs).toISOString(),
      kind: 'decision',
      doorId: 'lab-main',
      areaId: 'lab',
      direction: 'in',
      personId: `p-${i % 3}`,
      personName: ['佐藤 花子', '鈴木 一郎', 'Ito Jun'][i % 3]!,
      affiliation: '研究部',
      factors: ['card'],
      decision: 'granted',
      reason: 'granted',
      deviceId: 'lab-reader',
      deviceBoot: 1,
      deviceSeq: i,
    });
  }
}
