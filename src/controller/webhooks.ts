// Webhooks: every alarm and event a webhook asks for is written to the outbox in the turn it is
// raised, then POSTed to the receiver signed as Standard Webhooks ask (webhook-id, -timestamp,
// -signature over the exact body), one message at a time and in order per receiver. A failed attempt
// waits (doubling, capped) and tries again, so a receiver down for an hour gets everything when it
// comes back; a message older than the webhook's keepHours is dropped and counted.
import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { ensureWebhookSecrets } from '../devices/secrets.js';
import type { SiteFile } from '../site/schema.js';
import type { WebhookConfig } from '../site/outbound.js';
import type { OutboxMessage } from '../store/outbox.js';
import { isAlarmType } from '../policy/vocabulary.js';
import type { AlarmChanged, RaisedEvent } from './bus.js';
import type { Context, Extension } from './context.js';

/** What one webhook's deliveries came to since the controller started. */
export interface WebhookStats {
  delivered: number;
  /** Attempts that failed (refused, timed out, not 2xx): each is retried until keepHours. */
  failed: number;
  /** Messages given up: older than keepHours. */
  dropped: number;
}

/** The Standard Webhooks body: what happened (`type`), when, and the event or alarm itself. */
export interface WebhookPayload {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/** An alarm is an event whose type the registry marks so. */
const isAlarm = (e: { type: string }) => isAlarmType(e.type);

/** Whether a webhook asks for an event as it is raised. */
export function wants(hook: Pick<WebhookConfig, 'send'>, e: RaisedEvent): boolean {
  return hook.send.some((s) => s === 'events' || (s === 'alarms' ? isAlarm(e) : s === e.type));
}

/** Whether a webhook asks for the later changes of an alarm (acknowledged, escalated, cleared). */
export function wantsChange(hook: Pick<WebhookConfig, 'send'>, c: AlarmChanged): boolean {
  return hook.send.some((s) => s === 'alarms' || s === 'events' || s === c.type);
}

/** The wait after the `attempts`-th failure (1 = first): first, doubling, at most max. */
export function retryDelayMs(hook: Pick<WebhookConfig, 'retryFirstSeconds' | 'retryMaxSeconds'>, attempts: number): number {
  return Math.min(hook.retryFirstSeconds * 1000 * 2 ** Math.max(0, attempts - 1), hook.retryMaxSeconds * 1000);
}

/** The longest a timer waits before looking again (a clock step, a message added by hand). */
const MAX_SLEEP_MS = 60_000;

export class Webhooks implements Extension {
  readonly name = 'webhooks';
  readonly stats = new Map<string, WebhookStats>();
  private hooks: WebhookConfig[] = [];
  private signers = new Map<string, Webhook>();
  private readonly inFlight = new Set<string>();
  /** After a failure, per webhook: kept here too, so a retry time the outbox could not store still holds. */
  private readonly notBefore = new Map<string, number>();
  private readonly abort = new AbortController();
  private readonly deliveries = new Set<Promise<void>>();
  private offs: (() => void)[] = [];
  private timer?: NodeJS.Timeout;
  private kicked = false;
  private stopped = false;

  constructor(
    private readonly ctx: Context,
    private readonly dataDir: string,
  ) {}

  start(): void {
    this.configure(this.ctx.site);
    this.offs.push(this.ctx.bus.on('raised', (e) => this.raised(e), this.name));
    this.offs.push(this.ctx.bus.on('alarm.changed', (c) => this.changed(c), this.name));
    this.kick();
  }

  reload(site: SiteFile): void {
    this.configure(site);
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const off of this.offs) off();
    clearTimeout(this.timer);
    this.abort.abort();
    await Promise.allSettled([...this.deliveries]);
  }

  /** Messages still owed, by webhook (the outbox). */
  pending(): Map<string, number> {
    return this.ctx.store.outbox.pending();
  }

  private configure(site: SiteFile): void {
    this.hooks = site.webhooks;
    const secrets = this.hooks.length
      ? ensureWebhookSecrets(
          this.dataDir,
          this.hooks.map((h) => h.id),
        )
      : {};
    this.signers = new Map(this.hooks.map((h) => [h.id, new Webhook(secrets[h.id]!)]));
    for (const h of this.hooks) if (!this.stats.has(h.id)) this.stats.set(h.id, { delivered: 0, failed: 0, dropped: 0 });
    try {
      // A webhook no longer in the site file: what it was owed has nobody to go to.
      const forgotten = this.ctx.store.outbox.forgetOthers(this.hooks.map((h) => h.id));
      if (forgotten) this.ctx.log.warn({ messages: forgotten }, 'dropped outbox messages of webhooks no longer in the site file');
    } catch (err) {
      this.ctx.storageFaults.report(err, { source: 'outbox', during: 'webhook configuration' });
    }
  }

  private raised(e: RaisedEvent): void {
    const targets = this.hooks.filter((h) => wants(h, e));
    if (targets.length === 0) return;
    const data: Record<string, unknown> = { ...e };
    this.enqueue(targets, { type: `${isAlarm(e) ? 'alarm' : 'event'}.raised`, timestamp: e.at, data });
  }

  /** An alarm's later steps; its raising went out with the event itself (`alarm.raised`). */
  private changed(c: AlarmChanged): void {
    if (c.state === 'raised') return;
    const targets = this.hooks.filter((h) => wantsChange(h, c));
    if (targets.length === 0) return;
    this.enqueue(targets, { type: `alarm.${c.state}`, timestamp: c.at, data: { ...c } });
  }

  /** Written now, in the turn it happened; sent after the turn. */
  private enqueue(targets: readonly WebhookConfig[], payload: WebhookPayload): void {
    const body = JSON.stringify(payload);
    const now = this.ctx.now();
    try {
      this.ctx.store.transaction(() => {
        for (const h of targets) {
          this.ctx.store.outbox.add({
            target: h.id,
            messageId: `msg_${randomUUID()}`,
            type: payload.type,
            payload: body,
            createdAt: now.toISOString(),
            nextAttemptAt: now.getTime(),
          });
        }
      });
    } catch (err) {
      this.ctx.storageFaults.report(err, { source: 'outbox', during: 'webhook message', detail: { type: payload.type } });
      return;
    }
    this.kick();
  }

  /** Looks at the outbox after this turn (once, however many were added in it). */
  private kick(): void {
    if (this.kicked || this.stopped) return;
    this.kicked = true;
    setImmediate(() => {
      this.kicked = false;
      this.pump();
    });
  }

  /** Starts each idle webhook's oldest message that is due; sleeps until the next one is. */
  private pump(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const outbox = this.ctx.store.outbox;
    const now = this.ctx.now().getTime();
    let next = Number.POSITIVE_INFINITY;
    for (const hook of this.hooks) {
      if (this.inFlight.has(hook.id)) continue;
      let message: OutboxMessage | undefined;
      try {
        message = outbox.head(hook.id);
        const keepFrom = new Date(now - hook.keepHours * 3_600_000).toISOString();
        if (message && message.createdAt < keepFrom) {
          const dropped = outbox.expire(hook.id, keepFrom);
          this.stats.get(hook.id)!.dropped += dropped;
          this.ctx.log.error({ webhook: hook.id, dropped, keepHours: hook.keepHours }, 'webhook messages undelivered past keepHours were dropped');
          message = outbox.head(hook.id);
        }
      } catch (err) {
        this.ctx.storageFaults.report(err, { source: 'outbox', during: 'webhook delivery' });
        next = Math.min(next, now + MAX_SLEEP_MS);
        continue;
      }
      if (!message) continue;
      const due = Math.max(message.nextAttemptAt, this.notBefore.get(hook.id) ?? 0);
      if (due > now) {
        next = Math.min(next, due);
        continue;
      }
      this.inFlight.add(hook.id);
      const delivery = this.deliver(hook, message).finally(() => {
        this.inFlight.delete(hook.id);
        this.deliveries.delete(delivery);
        this.kick();
      });
      this.deliveries.add(delivery);
    }
    if (next !== Number.POSITIVE_INFINITY) this.timer = setTimeout(() => this.kick(), Math.max(0, Math.min(next - now, MAX_SLEEP_MS)));
  }

  private async deliver(hook: WebhookConfig, m: OutboxMessage): Promise<void> {
    const stats = this.stats.get(hook.id)!;
    let error: string;
    try {
      // Signed at each attempt: the timestamp is when this attempt was sent (receivers refuse old ones).
      const sentAt = this.ctx.now();
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'tobira-webhooks',
          'webhook-id': m.messageId,
          'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
          'webhook-signature': this.signers.get(hook.id)!.sign(m.messageId, sentAt, m.payload),
        },
        body: m.payload,
        redirect: 'manual',
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(hook.timeoutSeconds * 1000)]),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) {
        try {
          this.ctx.store.outbox.delivered(m.id);
        } catch (err) {
          // Sent but still in the outbox: it goes again later (the receiver sees the same webhook-id).
          this.ctx.storageFaults.report(err, { source: 'outbox', during: 'webhook delivered' });
        }
        stats.delivered++;
        return;
      }
      error = `HTTP ${res.status}`;
    } catch (err) {
      if (this.stopped) return;
      const e = err as Error & { cause?: { code?: string } };
      error = e.name === 'TimeoutError' ? 'timed out' : (e.cause?.code ?? e.message);
    }
    if (this.stopped) return;
    stats.failed++;
    const attempts = m.attempts + 1;
    const wait = retryDelayMs(hook, attempts);
    this.notBefore.set(hook.id, this.ctx.now().getTime() + wait);
    this.ctx.log.warn({ webhook: hook.id, messageId: m.messageId, attempts, error, retryInMs: wait }, 'webhook delivery failed; will retry');
    try {
      this.ctx.store.outbox.failed(m.id, error, this.ctx.now().getTime() + wait);
    } catch (err) {
      this.ctx.storageFaults.report(err, { source: 'outbox', during: 'webhook retry' });
    }
  }
}
