// Camera evidence through the API: the real controller and app, the simulator's camera covering the
// lab door. A denial there takes a picture, and so does a forced door (an alarm: GET /alarms/{id} lists it); GET /snapshots/{id} serves it to guards, managers and
// auditors (not admins, who see no access data), and refuses a file that no longer matches its digest.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Simulator, snapshotJpeg } from '../../firmware-sim/index.js';
import { loadSecrets } from '../../src/devices/secrets.js';
import { readCa } from '../../src/devices/tls.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { waitFor } from '../helpers/ports.js';

const V1 = '/api/v1';

describe('GET /snapshots/{id}', () => {
  let api: TestApi;
  let sim: Simulator;

  beforeAll(async () => {
    api = await startApi({ edit: (raw) => (raw.devices.find((d: { id: string }) => d.id === 'lab-camera').covers = { doors: ['lab-main'] }) });
    sim = await Simulator.start({ site: api.controller.ctx.site, url: api.controller.brokerUrl, secrets: loadSecrets(api.dataDir), ca: readCa(api.dataDir) });
    await waitFor(() => api.controller.doors.state('lab-main')?.lock === 'locked', 5000, 'lab door locked');
  });

  const forcedId = () => api.controller.ctx.store.events.recent(1, 'door-forced')[0]?.id ?? -1;

  afterAll(async () => {
    await sim?.stop();
    await api?.close();
  });

  it('serves the picture of a denial as image/jpeg to guards and above, and refuses a swapped file', async () => {
    await sim.swipe('lab-reader', 'DEADBEEF');
    await waitFor(() => api.controller.ctx.store.entryLog.recent(5).some((r) => r.kind === 'evidence'), 5000, 'the evidence record');
    const evidence = api.controller.ctx.store.entryLog.recent(5).find((r) => r.kind === 'evidence')!;
    const id = evidence.detail!.snapshotId as number;

    for (const role of ['guard', 'manager', 'auditor'] as const) {
      const res = await api.call(role, 'GET', `${V1}/snapshots/${id}`);
      expect(res.statusCode, role).toBe(200);
      expect(res.headers['content-type']).toBe('image/jpeg');
      expect(createHash('sha256').update(res.rawPayload).digest('hex')).toBe(evidence.detail!.sha256);
    }
    expect((await api.call('admin', 'GET', `${V1}/snapshots/${id}`)).statusCode).toBe(403);
    expect((await api.call(null, 'GET', `${V1}/snapshots/${id}`)).statusCode).toBe(401);
    expect((await api.call('guard', 'GET', `${V1}/snapshots/${id + 1000}`)).statusCode).toBe(404);

    writeFileSync(join(api.dataDir, 'snapshots', evidence.detail!.file as string), snapshotJpeg(42));
    const swapped = await api.call('guard', 'GET', `${V1}/snapshots/${id}`);
    expect(swapped.statusCode).toBe(409);
    expect(swapped.json().detail).toContain('does not match its recorded digest');
  });

  it('GET /alarms/{id} lists the pictures taken for the alarm', async () => {
    await sim.input('lab-contact', true);
    await waitFor(() => api.controller.ctx.store.snapshots.ofEvent(forcedId()).length === 1, 5000, 'the forced door picture');
    await sim.input('lab-contact', false);
    const res = await api.call('guard', 'GET', `${V1}/alarms/${forcedId()}`);
    expect(res.statusCode).toBe(200);
    const [snapshot] = res.json().snapshots;
    expect(snapshot).toMatchObject({ camera: 'lab-camera', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const picture = await api.call('guard', 'GET', `${V1}/snapshots/${snapshot.id}`);
    expect(createHash('sha256').update(picture.rawPayload).digest('hex')).toBe(snapshot.sha256);
  });
});
