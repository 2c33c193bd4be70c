// /metrics: Prometheus text, public on loopback (no names, no card numbers: counts only), from a
// registry of its own (no global state shared between servers in one process). When the API listens
// beyond loopback it needs `Authorization: Bearer <metrics token>` (secrets.json `metrics`, printed
// by `tobira devices --secrets`): the counts still tell an outsider when doors are busy.
//
// - tobira_decisions_total{result="granted|denied"}: access decisions committed to the entry log
//   since the controller started, one per person (an escorted pair is two). Read from the
//   controller's own counters, so decisions made before the API came up count too.
// - tobira_decision_latency_seconds: from the moment the controller received the device event that
//   completed a decision (the bus' `device.event` receivedAt of the card, PIN, code or biometric the
//   record names by device, boot and seq) to the moment its record committed (the bus' `entry`,
//   emitted after the commit). Records committed together at one door (an escorted visitor and the
//   escort, two people of a two-person area) are one decision, measured from the latest of their
//   events: the one that completed it. Decisions made by a timer rather than by an event (timeouts,
//   cancellations, superseded reads) are not observed; nor are events older than the last 10,000
//   credential events kept for matching.
// - tobira_devices_online / _offline / _unknown: devices by supervision state now.
// - tobira_alarms_open: alarms (severity alarm) nobody has acknowledged.
// - tobira_entry_log_records: records the entry log holds now (after retention pruning).
// - tobira_decision_commits_total / tobira_decision_commit_writes_total /
//   tobira_decision_wal_flushes_total: transactions the access flow committed, the decisions they
//   carried, and the flushes of the write-ahead log that made them durable (group commit: decisions
//   of one event-loop turn share a transaction, and transactions made while a flush is on its way
//   share the next one).
// - tobira_reads_refused_total: credential reads refused on arrival, reason controller-busy, because
//   too many already waited to be decided (policy.maxReadsWaitingPerDoor, maxReadsWaiting); each is
//   also a denied decision. tobira_reads_waiting: reads waiting to be decided now.
// - tobira_memory_bytes{kind="rss|heap_used|external|array_buffers"}: the daemon's memory now.
// - tobira_webhook_deliveries_total{webhook, result="delivered|failed|dropped"}: webhook attempts
//   that were answered 2xx, attempts that failed (each is retried), and messages given up after the
//   webhook's keepHours; tobira_webhook_pending{webhook}: messages in the outbox still owed.
// - tobira_syslog_messages_total{result="sent|failed|dropped"}: syslog messages handed to the
//   collector's link, those the link refused, and those the TCP queue left out while it was away.
// - tobira_clock_synchronised: 1 when chrony or systemd says the clock is synchronised, 0 when it
//   says it is not, -1 when neither answers (unknown); tobira_clock_offset_seconds{source}: how far
//   the clock is ahead of its reference (negative: behind), absent when the source does not say;
//   tobira_clock_jumps_total: jumps backwards, or forwards beyond a minute, since the start;
//   tobira_clock_held_total: times the controller's clock was held at the last logged record's time.
import { timingSafeEqual } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EntryRecord } from '../../store/entry-log.js';
import { ApiError, type Api, type ApiContext } from '../context.js';

/** Whether an Authorization header is `Bearer <token>`, compared in constant time. */
function bearerIs(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const TIMER_REASONS = new Set(['second-factor-timeout', 'escort-timeout', 'two-person-timeout', 'cancelled', 'superseded']);
const MAX_PENDING = 10_000;

export async function metricsRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { status, devices: deviceService, events } = ctx.services;
  const registry = new Registry();

  const seen = { granted: 0, denied: 0 };
  new Counter({
    name: 'tobira_decisions_total',
    help: 'Access decisions committed to the entry log since the controller started',
    labelNames: ['result'] as const,
    registers: [registry],
    collect() {
      // Mirrors the controller's counters (monotonic within a controller's life) by their increase.
      const decisions = status.decisions();
      for (const result of ['granted', 'denied'] as const) {
        const now = decisions[result];
        this.inc({ result }, Math.max(0, now - seen[result]));
        seen[result] = now;
      }
    },
  });

  const latency = new Histogram({
    name: 'tobira_decision_latency_seconds',
    help: 'From receipt of the device event that completed a decision to its committed entry-log record',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  const devices = (state: 'online' | 'offline' | 'unknown') => () => deviceService.counts()[state];
  for (const [name, help, count] of [
    ['tobira_devices_online', 'Devices online now', devices('online')],
    ['tobira_devices_offline', 'Devices reported offline or silent past their heartbeat', devices('offline')],
    ['tobira_devices_unknown', 'Devices not heard from since the controller started', devices('unknown')],
    ['tobira_wal_bytes', "The write-ahead log's size after the checkpointer's last pass", () => status.wal().walBytes],
    ['tobira_wal_peak_bytes', 'The largest the write-ahead log was found since the controller started', () => status.wal().walPeakBytes],
  ] as const) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(count());
      },
    });
  }
  new Gauge({
    name: 'tobira_alarms_open',
    help: 'Alarms (severity alarm) not acknowledged',
    registers: [registry],
    collect() {
      this.set(events.openAlarmCount());
    },
  });
  new Gauge({
    name: 'tobira_entry_log_records',
    help: 'Records the entry log holds now (after retention pruning)',
    registers: [registry],
    collect() {
      this.set(status.entryLogRecords());
    },
  });

  for (const [name, help, value] of [
    ['tobira_wal_truncations_total', 'TRUNCATE checkpoints that emptied the write-ahead log', () => status.wal().truncations],
    [
      'tobira_wal_truncations_refused_total',
      'TRUNCATE checkpoints refused (a reader or the writer in the way); the next pass tries again',
      () => status.wal().truncationsRefused,
    ],
    ['tobira_decision_commits_total', 'Durable transactions committed by the access flow', () => status.commits().commits],
    ['tobira_decision_commit_writes_total', 'Decisions carried by those transactions', () => status.commits().writes],
    ['tobira_decision_wal_flushes_total', 'Flushes of the write-ahead log to disk that made those transactions durable', () => status.commits().walSyncs],
  ] as const) {
    let last = 0;
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const v = value();
        this.inc(Math.max(0, v - last));
        last = v;
      },
    });
  }

  let refusedSeen = 0;
  new Counter({
    name: 'tobira_reads_refused_total',
    help: 'Credential reads refused on arrival (controller-busy): too many were waiting to be decided',
    registers: [registry],
    collect() {
      const { refused } = status.readBacklog();
      this.inc(Math.max(0, refused - refusedSeen));
      refusedSeen = refused;
    },
  });
  new Gauge({
    name: 'tobira_reads_waiting',
    help: 'Credential reads waiting to be decided now, at all doors',
    registers: [registry],
    collect() {
      this.set(status.readBacklog().waiting);
    },
  });
  new Gauge({
    name: 'tobira_memory_bytes',
    help: "The daemon's memory now: resident set, V8 heap in use, memory outside the heap (buffers among it)",
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      const m = process.memoryUsage();
      this.set({ kind: 'rss' }, m.rss);
      this.set({ kind: 'heap_used' }, m.heapUsed);
      this.set({ kind: 'external' }, m.external);
      this.set({ kind: 'array_buffers' }, m.arrayBuffers);
    },
  });

  // --- alarms that leave the box -------------------------------------------------------------------
  const webhookSeen = new Map<string, number>();
  new Counter({
    name: 'tobira_webhook_deliveries_total',
    help: 'Webhook attempts delivered or failed, and messages dropped past keepHours',
    labelNames: ['webhook', 'result'] as const,
    registers: [registry],
    collect() {
      for (const w of status.outbound().webhooks) {
        for (const result of ['delivered', 'failed', 'dropped'] as const) {
          const k = `${w.id}\u0000${result}`;
          this.inc({ webhook: w.id, result }, Math.max(0, w[result] - (webhookSeen.get(k) ?? 0)));
          webhookSeen.set(k, w[result]);
        }
      }
    },
  });
  new Gauge({
    name: 'tobira_webhook_pending',
    help: 'Webhook messages in the outbox still owed to their receiver',
    labelNames: ['webhook'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const w of status.outbound().webhooks) this.set({ webhook: w.id }, w.pending);
    },
  });
  const syslogSeen = { sent: 0, failed: 0, dropped: 0 };
  new Counter({
    name: 'tobira_syslog_messages_total',
    help: 'Syslog messages sent to the collector, refused by the link, or dropped while it was away',
    labelNames: ['result'] as const,
    registers: [registry],
    collect() {
      const now = status.outbound().syslog;
      for (const result of ['sent', 'failed', 'dropped'] as const) {
        this.inc({ result }, Math.max(0, now[result] - syslogSeen[result]));
        syslogSeen[result] = now[result];
      }
    },
  });

  // --- the gateway's clock ------------------------------------------------------------------------
  new Gauge({
    name: 'tobira_clock_synchronised',
    help: 'Clock synchronised (1), not synchronised (0), or unknown: neither chrony nor systemd answers (-1)',
    registers: [registry],
    collect() {
      const { state } = status.clock().sync;
      this.set(state === 'synchronised' ? 1 : state === 'unsynchronised' ? 0 : -1);
    },
  });
  new Gauge({
    name: 'tobira_clock_offset_seconds',
    help: 'How far the clock is ahead of its reference (negative: behind), as chrony or systemd-timesyncd says',
    // Labelled by who said it, so that no offset is no sample rather than a made-up 0.
    labelNames: ['source'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const { offsetSeconds, source } = status.clock().sync;
      if (offsetSeconds !== null && source !== null) this.set({ source }, offsetSeconds);
    },
  });
  for (const [name, help, value] of [
    ['tobira_clock_jumps_total', 'Wall-clock jumps (backwards, or forwards beyond a minute) since the controller started', () => status.clock().jumps],
    ['tobira_clock_held_total', "Times the controller's clock was held at the last logged record's time", () => status.clock().heldAtLastRecord],
  ] as const) {
    let last = 0;
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const v = value();
        this.inc(Math.max(0, v - last));
        last = v;
      },
    });
  }

  // --- decision latency ---------------------------------------------------------------------------
  const received = new Map<string, number>();
  const key = (deviceId: string, boot: number | null | undefined, seq: number | null | undefined) => `${deviceId}\u0000${boot ?? ''}\u0000${seq ?? ''}`;
  let batch: EntryRecord[] = [];
  const flush = () => {
    const records = batch;
    batch = [];
    const committedAt = Date.now();
    const byDoor = new Map<string, number[]>();
    for (const r of records) {
      if (r.deviceSeq === null || r.deviceId === null) continue;
      const k = key(r.deviceId, r.deviceBoot, r.deviceSeq);
      const at = received.get(k);
      if (at === undefined) continue;
      received.delete(k);
      if (TIMER_REASONS.has(r.reason ?? '')) continue;
      const group = r.decision === 'granted' && r.doorId ? `granted\u0000${r.doorId}` : `one\u0000${r.seq}`;
      byDoor.set(group, [...(byDoor.get(group) ?? []), at]);
    }
    for (const times of byDoor.values()) latency.observe(Math.max(0, committedAt - Math.max(...times)) / 1000);
  };
  const offs = [
    status.on(
      'device.event',
      ({ deviceId, event, receivedAt }) => {
        if (event.type !== 'credential' || event.seq === undefined) return;
        received.set(key(deviceId, event.boot, event.seq), receivedAt);
        if (received.size > MAX_PENDING) received.delete(received.keys().next().value!);
      },
      'metrics',
    ),
    status.on(
      'entry',
      (record) => {
        if (record.kind !== 'decision') return;
        // Records of one decision are emitted together, synchronously: gather them, then measure once.
        if (batch.length === 0) queueMicrotask(flush);
        batch.push(record);
      },
      'metrics',
    ),
  ];
  api.addHook('onClose', async () => {
    for (const off of offs) off();
  });

  api.get(
    '/metrics',
    {
      config: { public: true },
      schema: {
        tags: ['metrics'],
        summary: 'Prometheus metrics (text exposition format)',
        description: 'Open on loopback; when the API listens beyond loopback, `Authorization: Bearer <metrics token>` (`tobira devices --secrets`).',
      },
    },
    async (req, reply) => {
      if (ctx.metricsToken && !bearerIs(req.headers.authorization, ctx.metricsToken)) {
        reply.header('www-authenticate', 'Bearer realm="metrics"');
        throw new ApiError(401, 'the API listens beyond loopback: /metrics needs Authorization: Bearer <metrics token> (tobira devices --secrets)');
      }
      const text = await registry.metrics();
      return reply.type(registry.contentType).send(text);
    },
  );
}
