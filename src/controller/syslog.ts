// Syslog for a SIEM: alarms, events and the audit log's records, each as one RFC 5424 message with
// the fields in structured data, to the collector the site file names, over UDP (RFC 5426: one
// message per datagram) or TCP (RFC 6587 octet counting). Best effort, unlike the webhooks' outbox:
// over TCP what the collector cannot take yet waits in a bounded queue while the link reconnects.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket as TcpSocket } from 'node:net';
import { hostname } from 'node:os';
import type { SiteFile } from '../site/schema.js';
import { SYSLOG_FACILITIES, syslogPort, type SyslogConfig } from '../site/outbound.js';
import type { AuditRecord } from '../store/audit-log.js';
import { isAlarmType } from '../policy/vocabulary.js';
import type { AlarmChanged, RaisedEvent } from './bus.js';
import type { Context, Extension } from './context.js';

/**
 * The structured data's enterprise number: 32473 is the one RFC 5612 reserves for documentation and
 * examples; a site with its own Private Enterprise Number may want it here.
 */
export const SD_ENTERPRISE = 32473;
const APP_NAME = 'tobira';
const BOM = '\uFEFF';

/** RFC 5424 severities (0 emergency … 7 debug). */
const SEVERITY = { alarm: 1, warning: 4, notice: 5, info: 6 } as const;

export interface SyslogMessage {
  facility: number;
  severity: number;
  timestamp: string;
  hostname: string;
  msgId: string;
  /** SD-ID → params; values are escaped here. */
  data: Record<string, Record<string, string | number | null | undefined>>;
  text: string;
}

/** A PARAM-VALUE: `"`, `\` and `]` escaped with a backslash (RFC 5424 6.3.3). */
function paramValue(v: string): string {
  return v.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** A header field: printable US-ASCII, at most `max` characters, "-" when empty (NILVALUE). */
function headerField(v: string, max: number): string {
  const clean = v.replace(/[^!-~]/g, '').slice(0, max);
  return clean || '-';
}

/** One message in RFC 5424's syntax (without transport framing). */
export function formatSyslog(m: SyslogMessage): string {
  const pri = m.facility * 8 + m.severity;
  const elements = Object.entries(m.data)
    .map(([sdId, params]) => {
      const pairs = Object.entries(params)
        .filter(([, v]) => v !== null && v !== undefined && v !== '')
        .map(([k, v]) => ` ${k}="${paramValue(String(v))}"`)
        .join('');
      return `[${sdId}${pairs}]`;
    })
    .join('');
  const header = `<${pri}>1 ${m.timestamp} ${headerField(m.hostname, 255)} ${APP_NAME} ${process.pid} ${headerField(m.msgId, 32)}`;
  return `${header} ${elements || '-'}${m.text ? ` ${BOM}${m.text}` : ''}`;
}

/** RFC 6587 octet counting: the message's length in bytes, a space, the message. */
export function frameOctetCounted(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

const isAlarm = (e: RaisedEvent) => isAlarmType(e.type);

export function eventMessage(e: RaisedEvent, facility: number, host: string): SyslogMessage {
  return {
    facility,
    severity: SEVERITY[e.severity],
    timestamp: e.at,
    hostname: host,
    msgId: isAlarm(e) ? 'alarm' : 'event',
    data: { [`event@${SD_ENTERPRISE}`]: { id: e.id, type: e.type, category: e.category, severity: e.severity, source: e.source } },
    text: `${e.category}/${e.type}${e.source ? ` from ${e.source}` : ''}${e.detail ? ` ${JSON.stringify(e.detail)}` : ''}`,
  };
}

/** An alarm's later step (acknowledged, escalated, cleared): its raising was sent as the event. */
export function alarmChangeMessage(c: AlarmChanged, facility: number, host: string): SyslogMessage {
  return {
    facility,
    severity: c.state === 'escalated' || c.state === 'raised' ? SEVERITY.alarm : SEVERITY.notice,
    timestamp: c.at,
    hostname: host,
    msgId: 'alarm',
    data: { [`alarm@${SD_ENTERPRISE}`]: { id: c.alarmId, type: c.type, state: c.state, by: c.by, cause: c.cause, level: c.level } },
    text: `alarm ${c.alarmId} (${c.type}) ${c.state}${c.by ? ` by ${c.by}` : ''}${c.note ? `: ${c.note}` : ''}`,
  };
}

export function auditMessage(r: AuditRecord, facility: number, host: string): SyslogMessage {
  return {
    facility,
    severity: r.outcome === 'ok' ? SEVERITY.notice : SEVERITY.warning,
    timestamp: r.at,
    hostname: host,
    msgId: 'audit',
    data: {
      [`audit@${SD_ENTERPRISE}`]: {
        seq: r.seq,
        actor: r.actor,
        role: r.role,
        action: r.action,
        target: r.target,
        outcome: r.outcome,
        address: r.address,
        hash: r.hash,
      },
    },
    text: `${r.action}${r.target ? ` ${r.target}` : ''} by ${r.actor ?? 'anonymous'}: ${r.outcome}${r.detail ? ` ${JSON.stringify(r.detail)}` : ''}`,
  };
}

export interface SyslogStats {
  sent: number;
  failed: number;
  /** Left out: the TCP queue was full while the collector was away. */
  dropped: number;
}

/** Messages held while a TCP collector is away; the oldest go first when it overflows. */
const TCP_QUEUE_MAX = 10_000;
const RECONNECT_FIRST_MS = 1000;
const RECONNECT_MAX_MS = 30_000;

export class Syslog implements Extension {
  readonly name = 'syslog';
  readonly stats: SyslogStats = { sent: 0, failed: 0, dropped: 0 };
  private config?: SyslogConfig;
  private offs: (() => void)[] = [];
  private udp?: UdpSocket;
  private tcp?: TcpSocket;
  private tcpUp = false;
  private queue: Buffer[] = [];
  private reconnectMs = RECONNECT_FIRST_MS;
  private reconnectTimer?: NodeJS.Timeout;
  private stopped = false;
  private lastWarnAt = 0;

  constructor(private readonly ctx: Context) {}

  start(): void {
    this.offs.push(this.ctx.bus.on('raised', (e) => this.raised(e), this.name));
    this.offs.push(this.ctx.bus.on('alarm.changed', (c) => this.changed(c), this.name));
    // Audit records are appended inside their change's transaction: sent once the turn is over.
    this.offs.push(this.ctx.store.audit.listen((r) => setImmediate(() => this.audit(r))));
    this.configure(this.ctx.site.syslog);
  }

  reload(site: SiteFile): void {
    if (JSON.stringify(site.syslog) === JSON.stringify(this.config)) return;
    this.close();
    this.configure(site.syslog);
  }

  stop(): void {
    this.stopped = true;
    for (const off of this.offs) off();
    this.close();
  }

  private configure(config: SyslogConfig | undefined): void {
    this.config = config;
    if (!config) return;
    if (config.protocol === 'udp') {
      this.udp = createSocket(config.host.includes(':') ? 'udp6' : 'udp4');
      this.udp.on('error', (err) => this.failed(err));
      this.udp.unref();
    } else {
      this.connectTcp();
    }
  }

  private close(): void {
    clearTimeout(this.reconnectTimer);
    this.udp?.close();
    this.udp = undefined;
    this.tcp?.destroy();
    this.tcp = undefined;
    this.tcpUp = false;
  }

  private raised(e: RaisedEvent): void {
    const c = this.config;
    if (!c || !(c.send.includes('events') || (c.send.includes('alarms') && isAlarm(e)))) return;
    this.send(formatSyslog(eventMessage(e, SYSLOG_FACILITIES[c.facility], c.hostname ?? hostname())));
  }

  private changed(c: AlarmChanged): void {
    const cfg = this.config;
    if (!cfg || c.state === 'raised' || !(cfg.send.includes('alarms') || cfg.send.includes('events'))) return;
    this.send(formatSyslog(alarmChangeMessage(c, SYSLOG_FACILITIES[cfg.facility], cfg.hostname ?? hostname())));
  }

  private audit(r: AuditRecord): void {
    const c = this.config;
    if (!c?.send.includes('audit') || this.stopped) return;
    // Its transaction may have rolled back since: only a record the log still holds is sent.
    const held = this.ctx.store.audit.query({ before: r.seq + 1, limit: 1 }).records[0];
    if (held?.seq !== r.seq || held.hash !== r.hash) return;
    this.send(formatSyslog(auditMessage(r, SYSLOG_FACILITIES[c.facility], c.hostname ?? hostname())));
  }

  private send(message: string): void {
    const c = this.config!;
    if (this.udp) {
      this.udp.send(Buffer.from(message, 'utf8'), syslogPort(c), c.host, (err) => (err ? this.failed(err) : this.stats.sent++));
      return;
    }
    const framed = frameOctetCounted(message);
    if (this.tcpUp && this.tcp) this.writeTcp(framed);
    else {
      this.queue.push(framed);
      if (this.queue.length > TCP_QUEUE_MAX) {
        this.queue.shift();
        this.stats.dropped++;
      }
    }
  }

  private writeTcp(framed: Buffer): void {
    this.tcp!.write(framed, (err) => (err ? this.failed(err) : this.stats.sent++));
  }

  private connectTcp(): void {
    const c = this.config!;
    const socket = connect({ host: c.host, port: syslogPort(c) });
    this.tcp = socket;
    socket.setKeepAlive(true, 60_000);
    socket.on('connect', () => {
      this.tcpUp = true;
      this.reconnectMs = RECONNECT_FIRST_MS;
      const held = this.queue;
      this.queue = [];
      for (const framed of held) this.writeTcp(framed);
    });
    // A collector does not answer: anything it sends is read and ignored.
    socket.on('data', () => undefined);
    socket.on('error', (err) => this.failed(err));
    socket.on('close', () => {
      if (this.tcp !== socket) return;
      this.tcpUp = false;
      this.tcp = undefined;
      if (this.stopped || this.config !== c) return;
      this.reconnectTimer = setTimeout(() => this.connectTcp(), this.reconnectMs);
      this.reconnectMs = Math.min(this.reconnectMs * 2, RECONNECT_MAX_MS);
    });
  }

  private failed(err: Error): void {
    this.stats.failed++;
    const now = Date.now();
    // At most one line a minute: a collector that is away is not news every message.
    if (now - this.lastWarnAt < 60_000) return;
    this.lastWarnAt = now;
    this.ctx.log.warn({ err, collector: this.config && `${this.config.protocol}://${this.config.host}:${syslogPort(this.config)}` }, 'syslog: could not send');
  }
}
