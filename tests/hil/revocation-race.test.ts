// A revocation that lands between a decision and its commit (group commit: decisions wait a turn of
// the event loop for the shared transaction) still applies: the grant is decided again on what is
// there at the commit, and the door does not open.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller } from '../../src/controller/controller.js';
import type { EntryRecord } from '../../src/store/entry-log.js';
import { enrol, prepareData } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/ports.js';

describe('a revocation between decision and commit (controller in process)', () => {
  let controller: Controller;
  let grantId: number;
  const records: EntryRecord[] = [];
  let released = 0;
  let seq = 0;

  beforeAll(async () => {
    // Card only at the lab, so the whole decision runs in one turn; always open.
    const { dataDir, site } = prepareData({
      edit: (raw) => {
        raw.areas = raw.areas.map((a: { id: string }) => (a.id === 'lab' ? { ...a, factors: ['card'], antiPassback: 'off', schedule: undefined } : a));
      },
    });
    grantId = (await enrol({ dataDir }, { name: 'Sato Hanako', card: '04A1B2C3', areas: ['lab'] })).grantIds[0]!;
    controller = await Controller.start({
      site,
      dataDir,
      log: pino({ level: 'silent' }),
      broker: { mode: 'embedded', host: '127.0.0.1', port: await freePort() },
    });
    controller.ctx.bus.on('entry', (r) => records.push(r));
    const release = controller.doors.release.bind(controller.doors);
    controller.doors.release = (...args: Parameters<typeof release>) => {
      released++;
      return release(...args);
    };
  });

  afterAll(async () => {
    await controller?.stop();
  });

  function read(): void {
    const now = Date.now();
    controller.ctx.bus.emit('device.event', {
      deviceId: 'lab-reader',
      event: { type: 'credential', credential: { kind: 'card', value: '04A1B2C3' }, boot: 1, seq: ++seq },
      receivedAt: now,
      occurredAt: now,
    });
  }

  it('a read granted on data that changes before its commit is decided again: the revoked grant does not open', async () => {
    read();
    const first = await waitFor(() => records.at(-1), 3000, 'the first decision');
    expect(first).toMatchObject({ decision: 'granted', seq: first.seq });
    expect(released).toBe(1);

    const before = records.length;
    read();
    // Runs after the decision (a promise job of the read) and before the group commit's flush
    // (queued by the decision, after this): the revocation lands in between.
    setImmediate(() => controller.ctx.store.people.revokeGrant(grantId));
    const second = await waitFor(() => records[before], 3000, 'the second decision');
    expect(second).toMatchObject({ decision: 'denied', reason: expect.stringMatching(/^(no-grant|grant-revoked|grant-expired)$/), personId: first.personId });
    expect(released).toBe(1);
  });
});
