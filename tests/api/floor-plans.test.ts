// Floor plans through the API (the real controller and fastify app, in-process): guards, managers and
// auditors read the plans with their coordinates and the pictures; an SVG comes with a CSP that lets
// it run nothing; a picture that cannot be served is named as missing without the gateway's folders.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from '../helpers/api.js';
import { ROOT } from '../helpers/daemon.js';

const V1 = '/api/v1';
const EXAMPLE_SVG = join(ROOT, 'examples/floor-plan.svg');
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

describe('floor plans API', () => {
  let api: TestApi;
  const pictures = mkdtempSync(join(tmpdir(), 'tobira-plans-'));

  beforeAll(async () => {
    writeFileSync(join(pictures, 'store.png'), PNG);
    api = await startApi({
      edit: (raw) => {
        // The test's site file is written elsewhere: the example's picture is named by its absolute path.
        raw.floorPlans[0].image = EXAMPLE_SVG;
        raw.floorPlans.push(
          { id: 'store', name: 'Store', image: join(pictures, 'store.png'), width: 1, height: 1, doors: [{ door: 'lab-main', x: 1, y: 1 }] },
          { id: 'attic', name: { en: 'Attic', ja: '屋根裏' }, image: join(pictures, 'attic.svg'), width: 10, height: 10 },
        );
      },
    });
  });

  afterAll(async () => {
    await api?.close();
  });

  it('GET /floor-plans lists each plan with its doors, zones and areas (rects as polygons), for guards, managers and auditors', async () => {
    for (const role of ['guard', 'manager', 'auditor'] as const) {
      const res = await api.call(role, 'GET', `${V1}/floor-plans`);
      expect(res.statusCode, res.body).toBe(200);
      const [ground, store, attic] = res.json().items;
      expect(ground).toEqual({
        id: 'ground-floor',
        name: { en: 'Ground floor', ja: '1階' },
        width: 1000,
        height: 600,
        image: { url: '/api/v1/floor-plans/ground-floor/image', contentType: 'image/svg+xml', problem: null },
        doors: [
          { door: 'lab-main', name: { en: 'Lab main door', ja: '研究室正面扉' }, x: 480, y: 460 },
          { door: 'vault-door', name: { en: 'Vault door', ja: '保管庫扉' }, x: 200, y: 240 },
        ],
        zones: [
          {
            zone: 'lab-night',
            name: { en: 'Lab after hours', ja: '研究室（時間外）' },
            points: [
              [300, 20],
              [680, 20],
              [680, 460],
              [20, 460],
              [20, 240],
              [300, 240],
            ],
          },
        ],
        areas: [
          expect.objectContaining({ area: 'lab', name: { en: 'Research lab', ja: '研究室' } }),
          {
            area: 'vault',
            name: { en: 'Document vault', ja: '文書保管庫' },
            points: [
              [20, 20],
              [300, 20],
              [300, 240],
              [20, 240],
            ],
          },
        ],
      });
      expect(store).toMatchObject({
        id: 'store',
        name: { en: 'Store', ja: 'Store' },
        image: { contentType: 'image/png', problem: null },
        zones: [],
        areas: [],
      });
      expect(attic.image).toEqual({ url: '/api/v1/floor-plans/attic/image', contentType: 'image/svg+xml', problem: 'attic.svg does not exist' });
    }
  });

  it('admins and the signed-out may not read them', async () => {
    expect((await api.call('admin', 'GET', `${V1}/floor-plans`)).statusCode).toBe(403);
    expect((await api.call('admin', 'GET', `${V1}/floor-plans/ground-floor/image`)).statusCode).toBe(403);
    expect((await api.call(null, 'GET', `${V1}/floor-plans`)).statusCode).toBe(401);
    expect((await api.call(null, 'GET', `${V1}/floor-plans/ground-floor/image`)).statusCode).toBe(401);
  });

  it('serves an SVG as image/svg+xml under a CSP that runs no script and loads nothing, never sniffed', async () => {
    const res = await api.call('guard', 'GET', `${V1}/floor-plans/ground-floor/image`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/svg+xml');
    expect(res.headers['content-security-policy']).toBe("default-src 'none'; style-src 'unsafe-inline'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.rawPayload.equals(readFileSync(EXAMPLE_SVG))).toBe(true);
    // Revalidated by its digest: unchanged, 304 without a body.
    const again = await api.app.inject({
      method: 'GET',
      url: `${V1}/floor-plans/ground-floor/image`,
      headers: { authorization: `Bearer ${api.accounts.auditor.token}`, 'if-none-match': String(res.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
    expect(again.rawPayload.length).toBe(0);
  });

  it('serves a PNG as image/png; reads the file as it is now', async () => {
    const res = await api.call('manager', 'GET', `${V1}/floor-plans/store/image`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.rawPayload.equals(PNG)).toBe(true);
    // A file swapped for something that is not a PNG is not served as one.
    writeFileSync(join(pictures, 'store.png'), '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
    const swapped = await api.call('manager', 'GET', `${V1}/floor-plans/store/image`);
    expect(swapped.statusCode).toBe(404);
    expect(swapped.json().detail).toBe('the picture of floor plan "store" cannot be served: store.png is not a PNG picture');
    writeFileSync(join(pictures, 'store.png'), PNG);
  });

  it('a missing picture or plan: 404 saying why, without the gateway folders', async () => {
    const missing = await api.call('guard', 'GET', `${V1}/floor-plans/attic/image`);
    expect(missing.statusCode).toBe(404);
    expect(missing.json().detail).toBe('the picture of floor plan "attic" cannot be served: attic.svg does not exist');
    expect(missing.body).not.toContain(pictures);
    const unknown = await api.call('guard', 'GET', `${V1}/floor-plans/basement/image`);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().detail).toBe('floor plan "basement" not found');
  });
});
