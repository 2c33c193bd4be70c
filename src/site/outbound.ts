// Alarms that leave the box: webhooks and a syslog collector, as the site file names them. The
// webhooks' signing secrets live in the secrets file (secrets.json, 0600), never here.
import { z } from 'zod';
import { EVENT_TYPE_NAMES } from '../policy/vocabulary.js';

const id = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, "-" and "_", at most 64 characters');

/**
 * What a webhook or the collector is sent: `alarms` (every alarm and each change of its state),
 * `events` (every event raised, alarms included), or one event type by name.
 */
export const OUTBOUND_SELECTORS = ['alarms', 'events'] as const;
const webhookSelector = z.enum([...OUTBOUND_SELECTORS, ...EVENT_TYPE_NAMES]);

export const webhookSchema = z.strictObject({
  id,
  /** Where the POST goes; https unless the receiver is on this host or network and knowingly plain. */
  url: z.url({ protocol: /^https?$/ }),
  send: z.array(webhookSelector).min(1).default(['alarms']),
  /** One attempt gives up after this long and counts as failed. */
  timeoutSeconds: z.number().min(0.1).max(120).default(10),
  /** After a failed attempt the next waits this long, doubling each time up to `retryMaxSeconds`. */
  retryFirstSeconds: z.number().min(0.01).max(3600).default(5),
  retryMaxSeconds: z.number().min(0.01).max(86_400).default(600),
  /** A message not delivered within this many hours is dropped (and counted): the outbox stays bounded. */
  keepHours: z
    .number()
    .min(1)
    .max(24 * 30)
    .default(72),
});
export type WebhookConfig = z.infer<typeof webhookSchema>;

/** Syslog facilities by name (RFC 5424 table 1): the collector sorts by them. */
export const SYSLOG_FACILITIES = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const;
export type SyslogFacility = keyof typeof SYSLOG_FACILITIES;

export const SYSLOG_STREAMS = ['alarms', 'events', 'audit'] as const;
export type SyslogStream = (typeof SYSLOG_STREAMS)[number];

export const syslogSchema = z.strictObject({
  host: z.string().min(1).max(255),
  /** 514 (udp) and 601 (tcp) are the registered ports. */
  port: z.number().int().min(1).max(65_535).optional(),
  protocol: z.enum(['udp', 'tcp']).default('udp'),
  facility: z.enum(Object.keys(SYSLOG_FACILITIES) as [SyslogFacility, ...SyslogFacility[]]).default('local0'),
  /** alarms: alarm events only; events: every event (alarms included); audit: the audit log's records. */
  send: z.array(z.enum(SYSLOG_STREAMS)).min(1).default(['alarms', 'events', 'audit']),
  /** HOSTNAME in each message; the machine's name when absent. */
  hostname: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[!-~]+$/, 'printable ASCII without spaces')
    .optional(),
});
export type SyslogConfig = z.infer<typeof syslogSchema>;

export function syslogPort(c: SyslogConfig): number {
  return c.port ?? (c.protocol === 'tcp' ? 601 : 514);
}

/** The site file's sections of this part (schema.ts spreads them in). */
export const outboundSections = {
  webhooks: z.array(webhookSchema).default([]),
  /** Absent: nothing is sent to syslog. */
  syslog: syslogSchema.optional(),
};

/** Cross-reference checks of the site file (load.ts calls it): webhook ids are unique. */
export function outboundProblems(site: { webhooks: readonly WebhookConfig[] }): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  const seen = new Set<string>();
  site.webhooks.forEach((w, i) => {
    if (seen.has(w.id)) problems.push({ path: ['webhooks', i, 'id'], message: `webhook "${w.id}" is named twice` });
    seen.add(w.id);
    if (w.retryMaxSeconds < w.retryFirstSeconds)
      problems.push({ path: ['webhooks', i, 'retryMaxSeconds'], message: 'must not be less than retryFirstSeconds' });
  });
  return problems;
}
