// Alarms that leave the box, end to end in one process: the real controller raising events, a
// webhook receiver (node:http) that is down and then up, and syslog collectors on UDP and TCP.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { Controller } from '../../src/controller/controller.js';
import { prepareData } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { RFC5424 } from '../helpers/syslog.js';

interface Received {
  body: string;
  headers: IncomingHttpHeaders;
}

function receiver(port: number, got: Received[]): Promise<Server> {
  const server = createHttpServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      got.push({ body, headers: req.headers });
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

const closing: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
});

const secretOf = (dataDir: string, id: string): string => JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')).webhooks[id];

const raiseForced = (c: Controller, n: number) =>
  c.ctx.alarms.raise({ category: 'door', type: 'door-forced', severity: 'alarm', source: 'lab-door', detail: { n } }).id;

describe('webhooks', () => {
  it('a receiver down, then up: every alarm arrives once, in order, signed; failures counted in /metrics', async () => {
    const port = await freePort();
    const api: TestApi = await startApi({
      edit: (raw) => {
        raw.webhooks = [
          { id: 'soc', url: `http://127.0.0.1:${port}/hook`, send: ['alarms'], retryFirstSeconds: 0.05, retryMaxSeconds: 0.2, timeoutSeconds: 2 },
        ];
      },
    });
    closing.push(() => api.close());
    const { controller } = api;

    const ids = [1, 2, 3].map((n) => raiseForced(controller, n));
    // Not an alarm: this webhook asked for alarms only.
    controller.ctx.alarms.raise({ category: 'system', type: 'broker-connected', severity: 'info', source: 'test' });
    await waitFor(() => (controller.webhooks.stats.get('soc')!.failed >= 3 ? true : undefined), 10_000, 'failed attempts while the receiver is down');
    expect(controller.webhooks.pending().get('soc')).toBe(3);
    const metrics = (await api.call(null, 'GET', '/metrics')).body;
    expect(metrics).toMatch(/tobira_webhook_deliveries_total\{webhook="soc",result="failed"\} [1-9]/);
    expect(metrics).toContain('tobira_webhook_pending{webhook="soc"} 3');

    const got: Received[] = [];
    const server = await receiver(port, got);
    closing.push(() => new Promise((r) => server.close(r)));
    ids.push(raiseForced(controller, 4));
    await waitFor(() => (got.length >= 4 && controller.webhooks.pending().get('soc') === undefined ? true : undefined), 10_000, 'all four delivered');

    const wh = new Webhook(secretOf(api.dataDir, 'soc'));
    const payloads = got.map((r) => wh.verify(r.body, r.headers as Record<string, string>) as { type: string; data: { id: number; detail: { n: number } } });
    expect(payloads.map((p) => [p.type, p.data.id, p.data.detail.n])).toEqual(ids.map((id, i) => ['alarm.raised', id, i + 1]));
    expect(new Set(got.map((r) => r.headers['webhook-id'])).size).toBe(4);
    // A body changed on the way does not verify.
    expect(() => wh.verify(got[0]!.body.replace('"n":1', '"n":9'), got[0]!.headers as Record<string, string>)).toThrow();
    expect(controller.webhooks.stats.get('soc')).toMatchObject({ delivered: 4, dropped: 0 });
    expect(api.db().prepare('SELECT count(*) AS n FROM outbox').get()).toEqual({ n: 0 });

    // The alarm's later steps follow it; its raising is not sent twice.
    const at = new Date().toISOString();
    controller.ctx.bus.emit('alarm.changed', { alarmId: ids[0]!, type: 'door-forced', state: 'raised', at, level: 0 });
    controller.ctx.bus.emit('alarm.changed', { alarmId: ids[0]!, type: 'door-forced', state: 'acknowledged', at, by: 'api:test-guard' });
    await waitFor(() => (got.length >= 5 ? true : undefined), 10_000, 'the acknowledgement');
    expect(wh.verify(got[4]!.body, got[4]!.headers as Record<string, string>)).toMatchObject({
      type: 'alarm.acknowledged',
      data: { alarmId: ids[0], by: 'api:test-guard' },
    });
    expect(got).toHaveLength(5);
  });

  it('what a receiver was owed survives a restart of the controller', async () => {
    const port = await freePort();
    const { dataDir, site } = prepareData({
      edit: (raw) => {
        raw.webhooks = [{ id: 'soc', url: `http://127.0.0.1:${port}/hook`, send: ['door-forced'], retryFirstSeconds: 0.05, retryMaxSeconds: 0.1 }];
      },
    });
    const start = async () =>
      Controller.start({ site, dataDir, log: pino({ level: 'silent' }), broker: { mode: 'embedded', host: '127.0.0.1', port: await freePort() } });
    const first = await start();
    const id = raiseForced(first, 1);
    await waitFor(() => (first.webhooks.stats.get('soc')!.failed >= 1 ? true : undefined), 10_000, 'a failed attempt');
    await first.stop();

    const got: Received[] = [];
    const server = await receiver(port, got);
    closing.push(() => new Promise((r) => server.close(r)));
    const second = await start();
    closing.push(() => second.stop());
    await waitFor(() => (got.length >= 1 ? true : undefined), 10_000, 'delivered after the restart');
    const payload = new Webhook(secretOf(dataDir, 'soc')).verify(got[0]!.body, got[0]!.headers as Record<string, string>) as { data: { id: number } };
    expect(payload.data.id).toBe(id);
  });
});

describe('syslog', () => {
  it('UDP: alarms, events and audit records, one RFC 5424 message per datagram', async () => {
    const udp = createSocket('udp4');
    const got: string[] = [];
    udp.on('message', (m) => got.push(m.toString('utf8')));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    closing.push(() => new Promise((r) => udp.close(() => r(undefined))));
    const api = await startApi({
      edit: (raw) => {
        raw.syslog = { host: '127.0.0.1', port: udp.address().port, protocol: 'udp', facility: 'auth', hostname: 'gw-test' };
      },
    });
    closing.push(() => api.close());
    const id = raiseForced(api.controller, 1);
    await waitFor(
      () => (got.some((m) => m.includes(`id="${id}"`)) && got.some((m) => / audit /.test(m)) ? true : undefined),
      10_000,
      'an alarm and audit records',
    );
    for (const m of got) expect(m).toMatch(RFC5424);
    const alarm = RFC5424.exec(got.find((m) => m.includes(`id="${id}"`))!)!;
    expect([alarm[1], alarm[3], alarm[6]]).toEqual([String(4 * 8 + 1), 'gw-test', 'alarm']);
    // The test accounts' sign-ins are audited: each reaches the collector.
    const login = got.map((m) => RFC5424.exec(m)!).find((m) => m[6] === 'audit' && m[7]!.includes('action="auth.login"'));
    expect(login?.[7]).toMatch(/actor="test-admin"/);
    // A record whose transaction rolled back is not sent; the next one (with the same seq) is.
    const { store } = api.controller.ctx;
    const record = (action: string) => ({
      at: new Date().toISOString(),
      actor: 'test',
      role: null,
      action,
      target: null,
      outcome: 'ok',
      address: null,
      detail: null,
    });
    expect(() =>
      store.transaction(() => {
        store.audit.append(record('test.rolled-back'));
        throw new Error('rolled back');
      }),
    ).toThrow('rolled back');
    store.transaction(() => store.audit.append(record('test.kept')));
    await waitFor(() => (got.some((m) => m.includes('action="test.kept"')) ? true : undefined), 10_000, 'the kept record');
    expect(got.some((m) => m.includes('test.rolled-back'))).toBe(false);
    expect((await api.call(null, 'GET', '/metrics')).body).toMatch(/tobira_syslog_messages_total\{result="sent"\} [1-9]/);
  });

  it('TCP: octet-counted frames; what was raised while the collector was away arrives when it is back', async () => {
    const port = await freePort();
    const api = await startApi({
      edit: (raw) => {
        raw.syslog = { host: '127.0.0.1', port, protocol: 'tcp', send: ['alarms'] };
      },
    });
    closing.push(() => api.close());
    const early = raiseForced(api.controller, 1);

    let stream = Buffer.alloc(0);
    const links = new Set<Socket>();
    const collector: TcpServer = createTcpServer((s) => {
      links.add(s);
      s.on('data', (d: Buffer) => (stream = Buffer.concat([stream, d])));
    });
    await new Promise<void>((r) => collector.listen(port, '127.0.0.1', () => r()));
    closing.push(() => {
      for (const s of links) s.destroy();
      return new Promise((r) => collector.close(r));
    });
    const late = api.controller.ctx.alarms.raise({ category: 'door', type: 'door-forced', severity: 'alarm', source: '扉', detail: null }).id;

    const frames = (): string[] => {
      const out: string[] = [];
      let rest = stream;
      for (;;) {
        const space = rest.indexOf(0x20);
        if (space < 0) return out;
        const len = Number(rest.subarray(0, space).toString('ascii'));
        expect(Number.isInteger(len) && len > 0).toBe(true);
        if (rest.length < space + 1 + len) return out;
        out.push(rest.subarray(space + 1, space + 1 + len).toString('utf8'));
        rest = rest.subarray(space + 1 + len);
      }
    };
    const messages = await waitFor(() => (frames().length >= 2 ? frames() : undefined), 15_000, 'both alarms over TCP');
    for (const m of messages) expect(m).toMatch(RFC5424);
    expect(messages.map((m) => /id="(\d+)"/.exec(m)![1])).toEqual([String(early), String(late)]);
    // Not asked for: no audit records, no events that are not alarms.
    expect(messages.every((m) => RFC5424.exec(m)![6] === 'alarm')).toBe(true);
  });
});
