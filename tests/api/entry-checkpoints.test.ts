// GET /api/v1/entries/checkpoints: the entry log's signed checkpoints, paged, with the public key,
// for auditors (and managers) to keep off the gateway; an independent verifier checks them with the
// key alone. Guards and admins get 403. The real controller (its log keeper signs at start).
import { createPublicKey, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointMessage, parseCheckpointJson, verifyCheckpointSignature } from '../../src/store/checkpoints.js';
import { loadLogKey, publicKeyPem } from '../../src/store/log-key.js';
import { startApi, type TestApi } from '../helpers/api.js';

const URL = '/api/v1/entries/checkpoints';

describe('GET /entries/checkpoints', () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startApi();
    // A few more records and checkpoints than the start checkpoint, as the log keeper would sign them.
    const store = api.controller.ctx.store;
    const key = loadLogKey(api.dataDir)!;
    for (let i = 0; i < 5; i++) {
      store.transaction(() => store.entryLog.append({ at: new Date().toISOString(), kind: 'door', doorId: 'lab-main', reason: 'rex' }));
      store.checkpoints.write(key, { kind: 'periodic', at: new Date().toISOString() });
    }
  });

  afterAll(async () => {
    await api?.close();
  });

  it('serves an auditor every signed checkpoint, oldest first, that verifies with the returned public key alone', async () => {
    const res = await api.call('auditor', 'GET', `${URL}?limit=1000`);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { items: Record<string, unknown>[]; nextAfter: number | null; publicKey: string };
    expect(body.publicKey).toBe(publicKeyPem(loadLogKey(api.dataDir)!));
    expect(body.nextAfter).toBeNull();
    expect(body.items.length).toBeGreaterThanOrEqual(6);
    expect(body.items[0]).toMatchObject({ kind: 'periodic', count: 0, ordinal: 1 });
    expect(body.items.map((c) => c.ordinal)).toEqual(body.items.map((_, i) => i + 1));
    const key = createPublicKey(body.publicKey);
    for (const item of body.items) {
      // As an independent verifier would: the documented message, Ed25519, nothing of the gateway's.
      const { checkpoint } = parseCheckpointJson(JSON.stringify(item));
      expect(verifyCheckpointSignature(checkpoint, key)).toBe(true);
      // The message as docs/api.md spells it: the v2 line, then the fields, a null as the empty string.
      const fields = ['kind', 'count', 'headHash', 'at', 'anchorSeq', 'anchorPrevHash', 'ordinal', 'nextWithin', 'nextWithinSeconds'];
      const message = ['tobira-checkpoint-v2', ...fields.map((f) => (item[f] == null ? '' : String(item[f])))].join('\n');
      expect(message).toBe(checkpointMessage(checkpoint));
      expect(verify(null, Buffer.from(message, 'utf8'), key, Buffer.from(item.signature as string, 'base64'))).toBe(true);
      expect(checkpointMessage(checkpoint).split('\n')[0]).toBe('tobira-checkpoint-v2');
      // Altered in transit, it no longer verifies.
      expect(verifyCheckpointSignature({ ...checkpoint, count: checkpoint.count + 1 }, key)).toBe(false);
    }
  });

  it('pages by id with after=nextAfter', async () => {
    const all = (await api.call('manager', 'GET', `${URL}?limit=1000`)).json().items as { id: number }[];
    const seen: number[] = [];
    let after = 0;
    for (;;) {
      const page = (await api.call('auditor', 'GET', `${URL}?limit=2&after=${after}`)).json() as { items: { id: number }[]; nextAfter: number | null };
      seen.push(...page.items.map((c) => c.id));
      if (page.nextAfter === null) break;
      after = page.nextAfter;
    }
    expect(seen).toEqual(all.map((c) => c.id));
    expect((await api.call('auditor', 'GET', `${URL}?limit=0`)).statusCode).toBe(400);
  });

  it('GET /entries/verify names the newest checkpoint it checked the chain against', async () => {
    const items = (await api.call('auditor', 'GET', `${URL}?limit=1000`)).json().items as Record<string, unknown>[];
    const newest = items[items.length - 1]!;
    const res = await api.call('auditor', 'GET', '/api/v1/entries/verify');
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ ok: true, checkpoints: items.length });
    expect(body.checkpoint).toEqual({
      id: newest.id,
      kind: newest.kind,
      ordinal: newest.ordinal,
      count: newest.count,
      headHash: newest.headHash,
      at: newest.at,
    });
    expect(body.records).toBeGreaterThanOrEqual(body.checkpoint.count);
  });

  it.each(['guard', 'admin'] as const)('refuses a %s (403)', async (role) => {
    expect((await api.call(role, 'GET', URL)).statusCode).toBe(403);
  });

  it('refuses an anonymous caller (401)', async () => {
    expect((await api.call(null, 'GET', URL)).statusCode).toBe(401);
  });
});
