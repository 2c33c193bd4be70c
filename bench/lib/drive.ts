// Driving the doors: quiet reads (one outstanding at a time, for the latency floor ratio) and the
// burst (open loop, a fixed total rate round-robin over the doors, whatever the answers do).
import Database from 'better-sqlite3';
import type { DoorRig, Read } from './devices.js';
import { ms, summarize, type Summary } from './stats.js';
import { sleep } from './procs.js';

export interface QuietResult {
  /** Card published → unlock received, ms. */
  samples: number[];
  /** card + PIN only: card → pin-required at the keypad, and PIN published → unlock. */
  promptSamples: number[];
  pinSamples: number[];
  lost: number;
  denied: number;
}

/**
 * `n` reads after `warmup`, each waiting for its unlock (and its indication) before the next, with
 * `gapMs` between: the daemon is idle when each read arrives.
 */
export async function quietReads(
  rigs: DoorRig[],
  card: (rig: DoorRig) => string,
  n: number,
  warmup: number,
  gapMs: number,
  timeoutMs = 5000,
): Promise<QuietResult> {
  const out: QuietResult = { samples: [], promptSamples: [], pinSamples: [], lost: 0, denied: 0 };
  for (let i = 0; i < warmup + n; i++) {
    const rig = rigs[i % rigs.length]!;
    let read: Read | undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      read = rig.present(card(rig), () => {
        clearTimeout(timer);
        resolve();
      });
    });
    const r = read!;
    if (i >= warmup) {
      if (r.indication === 'denied') out.denied++;
      else if (r.unlockAt === undefined) out.lost++;
      else {
        out.samples.push(ms(r.sentAt, r.unlockAt));
        if (r.promptAt !== undefined) out.promptSamples.push(ms(r.sentAt, r.promptAt));
        if (r.pinSentAt !== undefined) out.pinSamples.push(ms(r.pinSentAt, r.unlockAt));
      }
    }
    await sleep(gapMs);
  }
  for (const rig of rigs) rig.reset();
  return out;
}

export interface BurstResult {
  doors: number;
  targetRate: number;
  seconds: number;
  /** How long reads were sent (shorter than `seconds` if the daemon died). */
  sentSeconds: number;
  reads: number;
  /** Reads per second actually sent (the generator keeping up). */
  sentRate: number;
  /** Most reads the generator fell behind its schedule at once. */
  maxBacklog: number;
  answered: number;
  /** Reads without an unlock, counting those never sent because the daemon had died. */
  lost: number;
  unsent: number;
  duplicated: number;
  denied: number;
  latency: Summary;
  /** Per second of sending: p50 / p99 / max of the reads sent in it (a growing queue shows here). */
  perSecond: { second: number; count: number; p50: number | null; p99: number | null; max: number | null }[];
  drainMs: number;
  /** (reader, boot, seq) of every read, to find each in the entry log. */
  keys: { reader: string; boot: number; seq: number; unlocked: boolean }[];
}

/**
 * `rate` reads per second in total for `seconds`, door after door, each door's reads in its own
 * FIFO. Then waits (up to `drainMs`) for the answers. Lost: no unlock. Duplicated: unlocks beyond
 * the reads (a read answered twice).
 */
export async function burst(
  rigs: DoorRig[],
  card: () => string,
  rate: number,
  seconds: number,
  drainMs: number,
  alive: () => boolean = () => true,
): Promise<BurstResult> {
  const total = Math.round(rate * seconds);
  let sent = 0;
  let maxBacklog = 0;
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = ms(t0, process.hrtime.bigint()) / 1000;
      const due = Math.min(total, Math.floor(elapsed * rate) + 1);
      if (due - sent > maxBacklog) maxBacklog = due - sent;
      while (sent < due) {
        rigs[sent % rigs.length]!.present(card());
        sent++;
      }
      // A daemon that died (its broker with it) answers nothing more: stop there.
      if (sent >= total || !alive()) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 1);
    tick();
  });
  const sendSeconds = ms(t0, process.hrtime.bigint()) / 1000;
  const drainStart = Date.now();
  const pending = () => rigs.reduce((a, r) => a + r.all().filter((x) => x.unlockAt === undefined && x.indication !== 'denied').length, 0);
  while (pending() > 0 && Date.now() - drainStart < drainMs && alive()) await sleep(20);
  // A little longer for any second answer to a read already answered.
  await sleep(300);
  const drainMsUsed = Date.now() - drainStart;

  const reads = rigs.flatMap((r) => r.all());
  const latencies: number[] = [];
  const buckets = new Map<number, number[]>();
  let lost = 0;
  let denied = 0;
  for (const r of reads) {
    if (r.indication === 'denied') denied++;
    else if (r.unlockAt === undefined) lost++;
    else {
      const l = ms(r.sentAt, r.unlockAt);
      latencies.push(l);
      const second = Math.floor(ms(t0, r.sentAt) / 1000);
      const b = buckets.get(second) ?? [];
      b.push(l);
      buckets.set(second, b);
    }
  }
  const duplicated = rigs.reduce((a, r) => a + r.extraUnlocks, 0);
  const keys = rigs.flatMap((rig) => rig.all().map((r) => ({ reader: r.reader, boot: rig.reader.boot, seq: r.seq, unlocked: r.unlockAt !== undefined })));
  const perSecond = [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([second, l]) => {
      const s = summarize(l);
      return { second, count: s.count, p50: s.p50, p99: s.p99, max: s.max };
    });
  for (const rig of rigs) rig.reset();
  return {
    doors: rigs.length,
    targetRate: rate,
    seconds,
    sentSeconds: Number(sendSeconds.toFixed(1)),
    reads: reads.length,
    sentRate: Math.round(reads.length / sendSeconds),
    maxBacklog,
    answered: latencies.length,
    lost: lost + (total - reads.length),
    unsent: total - reads.length,
    duplicated,
    denied,
    latency: summarize(latencies),
    perSecond,
    drainMs: drainMsUsed,
    keys,
  };
}

/** The entry log's head, read from the daemon's database beside it (WAL: readers do not block it). */
export function logHead(dbFile: string): number {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT coalesce(max(seq), 0) AS n FROM entry_log').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

export interface LogCheck {
  /** Reads with exactly one decision record. */
  logged: number;
  /** Reads with no decision record. */
  missing: number;
  /** Reads with more than one decision record. */
  duplicated: number;
  granted: number;
  /** Reads whose door was unlocked with no decision record for them: must be 0 (commit before unlock). */
  unlockedNotLogged: number;
}

/** Finds every read's decision in the entry log (by device, boot and seq), after record `afterSeq`. */
export function checkLog(dbFile: string, afterSeq: number, keys: BurstResult['keys']): LogCheck {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(`SELECT device_id AS d, device_boot AS b, device_seq AS s, count(*) AS n, sum(decision = 'granted') AS g
      FROM entry_log WHERE seq > ? AND kind = 'decision' GROUP BY device_id, device_boot, device_seq`)
      .all(afterSeq) as { d: string; b: number; s: number; n: number; g: number }[];
    const found = new Map<string, { n: number; g: number }>();
    for (const r of rows) found.set(`${r.d}\u0000${r.b}\u0000${r.s}`, { n: r.n, g: r.g });
    const out: LogCheck = { logged: 0, missing: 0, duplicated: 0, granted: 0, unlockedNotLogged: 0 };
    for (const k of keys) {
      const f = found.get(`${k.reader}\u0000${k.boot}\u0000${k.seq}`);
      if (!f && k.unlocked) out.unlockedNotLogged++;
      if (!f) out.missing++;
      else if (f.n > 1) out.duplicated++;
      else out.logged++;
      if (f) out.granted += f.g;
    }
    return out;
  } finally {
    db.close();
  }
}
