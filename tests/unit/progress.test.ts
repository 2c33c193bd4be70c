// The progress line of long work (src/cli/progress.ts): drawn on a terminal (a fake one here: a
// writable with isTTY = true), with what is done, the rate and the time left, from a clock the test
// steps by hand; silent on anything that is not a terminal. And the entry log's verification tells
// its progress as it walks.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { duration, progress } from '../../src/cli/progress.js';
import { DATABASE_FILE, openDatabase } from '../../src/store/db.js';
import { EntryLog } from '../../src/store/entry-log.js';
import { verifyEntryLogFile } from '../../src/store/verify-parallel.js';

/** A stream that keeps what is written; a terminal when `tty`. */
function sink(tty: boolean): Writable & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as Writable & { text: () => string; isTTY?: boolean };
  if (tty) w.isTTY = true;
  w.text = () => chunks.join('');
  return w;
}

/** The lines as a terminal would show them last: each \r starts the line over. */
const screen = (text: string) =>
  text
    .split('\n')
    .map((line) => line.split('\r').at(-1)!.replaceAll('\x1b[K', ''))
    .filter((l) => l !== '');

describe('progress line', () => {
  it('shows records done, the rate and the time left on a terminal', () => {
    const out = sink(true);
    let t = 0;
    const p = progress('verifying', { total: 1000, stream: out, now: () => t, everyMs: 100 });
    expect(p.enabled).toBe(true);
    t = 2000;
    p.update(250);
    expect(screen(out.text())).toEqual(['verifying: 25% (250 of 1,000 records, 125/s, 6s left)']);
    // Within the redraw interval nothing more is written.
    const before = out.text().length;
    t = 2050;
    p.add(10);
    expect(out.text().length).toBe(before);
    t = 4000;
    p.update(500);
    expect(screen(out.text()).at(-1)).toBe('verifying: 50% (500 of 1,000 records, 125/s, 4s left)');
    t = 8000;
    p.update(1000);
    const drawn = out.text().length;
    p.end();
    // The final state was on screen already: the end only ends the line.
    expect(out.text().slice(drawn)).toBe('\n');
    expect(out.text().endsWith('\n')).toBe(true);
    expect(screen(out.text())).toEqual(['verifying: 100% (1,000 of 1,000 records, 125/s, took 8s)']);
    // Every redraw returns to the line's start and erases what a longer line left.
    expect(out.text().split('\r').length - 1).toBeGreaterThanOrEqual(3);
    expect(out.text()).toContain('\x1b[K');
  });

  it('counts without a total, in bytes, and over phases each on its own line', () => {
    const out = sink(true);
    let t = 0;
    const p = progress('exporting csv', { stream: out, now: () => t, everyMs: 0 });
    t = 1000;
    p.add(40);
    expect(screen(out.text()).at(-1)).toBe('exporting csv: 40 records (40/s, 1s)');
    p.phase('archive', { total: 4_000_000, unit: 'bytes' });
    t = 3000;
    p.update(1_000_000);
    p.end();
    expect(screen(out.text())).toEqual(['exporting csv: 40 records (40/s, 1s)', 'archive: 25% (1.0 MB of 4.0 MB, 500.0 kB/s, 6s left)']);
    expect(out.text().match(/\n/g)).toHaveLength(2);
  });

  it('is silent when the stream is not a terminal', () => {
    const out = sink(false);
    let t = 0;
    const p = progress('verifying', { total: 10, stream: out, now: () => t });
    expect(p.enabled).toBe(false);
    for (let i = 0; i < 10; i++) {
      t += 1000;
      p.add();
    }
    p.phase('next', { total: 1 });
    p.update(1);
    p.end();
    expect(out.text()).toBe('');
    expect(p.done).toBe(1);
  });

  it('says time in seconds, minutes and hours', () => {
    expect(duration(42)).toBe('42s');
    expect(duration(185)).toBe('3m05s');
    expect(duration(3720)).toBe('1h02m');
    expect(duration(Number.NaN)).toBe('--');
  });
});

describe('the entry log verification tells its progress', () => {
  it('reports every record walked, of the whole log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tobira-progress-'));
    const db = openDatabase(dir);
    const log = new EntryLog(db);
    for (let i = 0; i < 120; i++) {
      log.append({
        at: new Date(Date.parse('2026-01-01T00:00:00Z') + i * 60_000).toISOString(),
        kind: 'decision',
        doorId: 'lab-main',
        areaId: 'lab',
        direction: 'in',
        personId: 'p-1',
        personName: '佐藤 花子',
        affiliation: null,
        purpose: null,
        factors: ['card'],
        decision: 'granted',
        reason: 'granted',
        deviceId: 'reader-1',
        deviceBoot: 1,
        deviceSeq: i,
        linkedSeq: null,
        detail: null,
      });
    }
    db.close();
    const seen: [number, number][] = [];
    const result = await verifyEntryLogFile(join(dir, DATABASE_FILE), undefined, {
      workers: 0,
      chunkRows: 50,
      onProgress: (done, total) => seen.push([done, total]),
    });
    expect(result.ok).toBe(true);
    expect(seen.map(([done]) => done)).toEqual([50, 100, 120]);
    expect(seen.every(([, total]) => total === 120)).toBe(true);
  });
});
