// Alarms that leave the box, the parts without a network: the site file's sections, the webhooks'
// choice and backoff, and the syslog message's RFC 5424 syntax.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { parseSiteText, type SiteFileError } from '../../src/site/load.js';
import { retryDelayMs, wants, wantsChange } from '../../src/controller/webhooks.js';
import { alarmChangeMessage, auditMessage, eventMessage, formatSyslog, frameOctetCounted } from '../../src/controller/syslog.js';
import type { RaisedEvent } from '../../src/controller/bus.js';
import { FIXTURE_SITE } from '../helpers/daemon.js';
import { RFC5424 } from '../helpers/syslog.js';

const siteWith = (extra: Record<string, unknown>) => {
  const raw = parse(readFileSync(FIXTURE_SITE, 'utf8')) as Record<string, unknown>;
  return stringify({ ...raw, ...extra });
};

const event = (over: Partial<RaisedEvent> = {}): RaisedEvent => ({
  id: 7,
  at: '2026-12-03T09:00:00.123Z',
  category: 'door',
  type: 'door-forced',
  severity: 'alarm',
  source: 'lab-door',
  detail: null,
  ...over,
});

describe('site file: webhooks and syslog', () => {
  it('takes webhooks and a collector with their defaults', () => {
    const site = parseSiteText(siteWith({ webhooks: [{ id: 'soc', url: 'https://soc.example/hook' }], syslog: { host: 'siem.example', protocol: 'tcp' } }));
    expect(site.webhooks[0]).toMatchObject({ id: 'soc', send: ['alarms'], retryFirstSeconds: 5, retryMaxSeconds: 600, keepHours: 72 });
    expect(site.syslog).toMatchObject({ host: 'siem.example', protocol: 'tcp', facility: 'local0', send: ['alarms', 'events', 'audit'] });
  });

  it('refuses a secret in the site file, an unknown event type and a webhook named twice', () => {
    const refused = (extra: Record<string, unknown>) => {
      try {
        parseSiteText(siteWith(extra));
      } catch (err) {
        return (err as SiteFileError).problems.map((p) => p.path);
      }
      return [];
    };
    expect(refused({ webhooks: [{ id: 'soc', url: 'https://soc.example/hook', secret: 'whsec_abc' }] })).toEqual(['webhooks[0]']);
    expect(refused({ webhooks: [{ id: 'soc', url: 'https://soc.example/hook', send: ['door-kicked'] }] })).toEqual(['webhooks[0].send[0]']);
    expect(
      refused({
        webhooks: [
          { id: 'soc', url: 'https://a.example/' },
          { id: 'soc', url: 'https://b.example/' },
        ],
      }),
    ).toEqual(['webhooks[1].id']);
    expect(refused({ syslog: { host: 'siem', protocol: 'tls' } })).toEqual(['syslog.protocol']);
  });
});

describe('webhooks', () => {
  it('sends alarms, every event, or the types named', () => {
    const info = event({ type: 'broker-connected', severity: 'info', category: 'system' });
    expect([wants({ send: ['alarms'] }, event()), wants({ send: ['alarms'] }, info)]).toEqual([true, false]);
    expect(wants({ send: ['events'] }, info)).toBe(true);
    expect([wants({ send: ['broker-connected'] }, info), wants({ send: ['broker-connected'] }, event())]).toEqual([true, false]);
    // An event raised with severity alarm is not an alarm unless the registry marks its type.
    expect(wants({ send: ['alarms'] }, event({ type: 'broker-lost', category: 'system' }))).toBe(false);
    const ack = { alarmId: 7, type: 'door-forced' as const, state: 'acknowledged' as const, at: '2026-12-03T09:01:00.000Z' };
    expect([wantsChange({ send: ['alarms'] }, ack), wantsChange({ send: ['door-forced'] }, ack), wantsChange({ send: ['duress'] }, ack)]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('waits first, doubling, capped', () => {
    const hook = { retryFirstSeconds: 2, retryMaxSeconds: 30 };
    expect([1, 2, 3, 4, 5, 6, 20].map((n) => retryDelayMs(hook, n))).toEqual([2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });
});

describe('syslog messages (RFC 5424)', () => {
  it('an alarm: PRI from facility and severity, the fields as structured data, escaped', () => {
    const text = formatSyslog(eventMessage(event({ source: 'door "A" [east]\\', detail: { note: '扉' } }), 16, 'gw-1'));
    const m = RFC5424.exec(text);
    expect(m).not.toBeNull();
    // local0 (16) * 8 + alert (1)
    expect(m![1]).toBe('129');
    expect(m!.slice(2, 7)).toEqual(['2026-12-03T09:00:00.123Z', 'gw-1', 'tobira', String(process.pid), 'alarm']);
    expect(m![7]).toBe('[event@32473 id="7" type="door-forced" category="door" severity="alarm" source="door \\"A\\" [east\\]\\\\"]');
    expect(m![8]).toBe('door/door-forced from door "A" [east]\\ {"note":"扉"}');
  });

  it('an audit record: notice when ok, warning when refused; empty fields left out', () => {
    const record = {
      seq: 3,
      at: '2026-12-03T09:00:00.000Z',
      actor: 'admin',
      role: 'admin',
      action: 'grant.create',
      target: null,
      outcome: 'denied',
      address: '127.0.0.1',
      detail: null,
      chainVersion: 2,
      prevHash: 'a',
      hash: 'b',
    };
    const m = RFC5424.exec(formatSyslog(auditMessage(record, 4, 'gw-1')))!;
    expect(m[1]).toBe(String(4 * 8 + 4));
    expect(m[6]).toBe('audit');
    expect(m[7]).toBe('[audit@32473 seq="3" actor="admin" role="admin" action="grant.create" outcome="denied" address="127.0.0.1" hash="b"]');
    expect(RFC5424.exec(formatSyslog(auditMessage({ ...record, outcome: 'ok' }, 4, 'gw-1')))![1]).toBe(String(4 * 8 + 5));
  });

  it("an alarm's change: its state and who, alert when escalated", () => {
    const change = { alarmId: 7, type: 'door-forced' as const, state: 'acknowledged' as const, at: '2026-12-03T09:01:00.000Z', by: 'api:guard' };
    const m = RFC5424.exec(formatSyslog(alarmChangeMessage(change, 16, 'gw-1')))!;
    expect([m[1], m[6], m[7]]).toEqual(['133', 'alarm', '[alarm@32473 id="7" type="door-forced" state="acknowledged" by="api:guard"]']);
    expect(RFC5424.exec(formatSyslog(alarmChangeMessage({ ...change, state: 'escalated', level: 1 }, 16, 'gw-1')))![1]).toBe('129');
  });

  it('TCP frames count octets, not characters', () => {
    const framed = frameOctetCounted('扉 x').toString('utf8');
    expect(framed).toBe('5 扉 x');
  });
});
