// A stored secret that cannot be checked (a PIN hash argon2 cannot parse, a sealed OTP seed that does
// not open) is a fault to repair, not a wrong secret: the door stays locked, a credential-fault event
// names the credential, and nothing counts toward the person's lockout.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller } from '../../src/controller/controller.js';
import type { RaisedEvent } from '../../src/controller/bus.js';
import type { EntryRecord } from '../../src/store/entry-log.js';
import { openDatabase } from '../../src/store/db.js';
import { PeopleStore } from '../../src/store/people.js';
import { enrol, prepareData } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/ports.js';

describe('a corrupt PIN hash or OTP seed (controller in process)', () => {
  let controller: Controller;
  let dataDir: string;
  let pinHolder: { personId: string; pinId: number };
  let otpHolder: { personId: string; otpId: number };
  const records: EntryRecord[] = [];
  const raised: RaisedEvent[] = [];
  let seq = 0;

  /** Changes a stored credential behind the controller's back, as a damaged disk or a bad restore would. */
  function corrupt(credentialId: number, value: string): void {
    const db = openDatabase(dataDir);
    try {
      db.prepare('UPDATE credentials SET value = ? WHERE id = ?').run(value, credentialId);
    } finally {
      db.close();
    }
  }

  function failures(personId: string): unknown {
    const db = openDatabase(dataDir);
    try {
      return db.prepare('SELECT failures, locked_until AS lockedUntil FROM pin_failures WHERE person_id = ?').get(personId);
    } finally {
      db.close();
    }
  }

  function read(deviceId: string, kind: 'card' | 'pin' | 'otp', value: string): void {
    const now = Date.now();
    controller.ctx.bus.emit('device.event', {
      deviceId,
      event: { type: 'credential', credential: { kind, value }, boot: 1, seq: ++seq },
      receivedAt: now,
      occurredAt: now,
    });
  }

  /** Card at the reader, the secret at the keypad; the decision's record. */
  async function present(door: 'lab' | 'vault', card: string, kind: 'pin' | 'otp', secret: string): Promise<EntryRecord> {
    const before = records.length;
    read(`${door}-reader`, 'card', card);
    read(`${door}-keypad`, kind, secret);
    return waitFor(() => records.slice(before).find((r) => r.deviceId === `${door}-keypad`), 3000, 'the decision');
  }

  beforeAll(async () => {
    // Always open; the lab asks card + PIN, the vault card + OTP, one person at a time.
    const prepared = prepareData({
      edit: (raw) => {
        raw.areas = raw.areas.map((a: { id: string }) => ({
          ...a,
          schedule: undefined,
          antiPassback: 'off',
          ...(a.id === 'vault' ? { factors: ['card', 'otp'], twoPerson: false } : {}),
        }));
      },
    });
    dataDir = prepared.dataDir;
    const pin = await enrol({ dataDir }, { name: 'Sato Hanako', card: 'A0000001', pin: '2580', areas: ['lab'] });
    const otp = await enrol({ dataDir }, { name: 'Tanaka Ken', card: 'A0000002', areas: ['vault'] });
    const db = openDatabase(dataDir);
    try {
      const people = new PeopleStore(db);
      pinHolder = { personId: pin.personId, pinId: people.credentialsOf(pin.personId, 'pin')[0]!.id };
      otpHolder = { personId: otp.personId, otpId: people.addCredential(otp.personId, 'otp', 'JBSWY3DPEHPK3PXP').id };
    } finally {
      db.close();
    }
    controller = await Controller.start({
      site: prepared.site,
      dataDir,
      log: pino({ level: 'silent' }),
      broker: { mode: 'embedded', host: '127.0.0.1', port: await freePort() },
    });
    controller.ctx.bus.on('entry', (r) => records.push(r), 'test');
    controller.ctx.bus.on('raised', (e) => raised.push(e), 'test');
  });

  afterAll(async () => {
    await controller?.stop();
  });

  it('a PIN hash argon2 cannot read: denied credential-fault, the event names the credential, no lockout however often', async () => {
    corrupt(pinHolder.pinId, '$argon2id$v=19$m=4096,t=2,p=1$AAAA$BBBB');
    const attempts = controller.ctx.site.policy.pinAttempts + 1;
    for (let i = 0; i < attempts; i++) {
      expect(await present('lab', 'A0000001', 'pin', '2580')).toMatchObject({ decision: 'denied', reason: 'credential-fault', personId: pinHolder.personId });
    }
    const faults = raised.filter((e) => e.type === 'credential-fault');
    expect(faults).toHaveLength(attempts);
    expect(faults[0]).toMatchObject({
      category: 'system',
      severity: 'warning',
      source: 'lab-main',
      detail: { credentialId: pinHolder.pinId, personId: pinHolder.personId, factor: 'pin' },
    });
    expect(failures(pinHolder.personId)).toBeUndefined();
    expect(raised.filter((e) => e.type === 'pin-lockout')).toEqual([]);
    expect(controller.ctx.counters.granted).toBe(0);
  });

  it('a sealed OTP seed that does not open: denied credential-fault, not counted', async () => {
    corrupt(otpHolder.otpId, `sealed:v1:${randomBytes(48).toString('base64url')}`);
    expect(await present('vault', 'A0000002', 'otp', '123456')).toMatchObject({ decision: 'denied', reason: 'credential-fault', personId: otpHolder.personId });
    expect(raised.filter((e) => e.type === 'credential-fault').at(-1)).toMatchObject({
      detail: { credentialId: otpHolder.otpId, personId: otpHolder.personId, factor: 'otp' },
    });
    expect(failures(otpHolder.personId)).toBeUndefined();
    expect(controller.ctx.counters.granted).toBe(0);
  });
});
