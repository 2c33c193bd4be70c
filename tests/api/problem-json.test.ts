// Errors are RFC 9457 problem details (application/problem+json): type, title, status, detail, the
// failing fields' paths for a 400, and refusals that say in words who may not do what.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { startApi, type TestApi } from '../helpers/api.js';

const V1 = '/api/v1';

/** A problem details body as the API sends it; `details` only on a 400. */
type Problem = { type: string; title: string; status: number; detail: string; error: string; details: { path: string; message: unknown }[] };

function expectProblem(res: LightMyRequestResponse, status: number, title: string): Problem {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json<Problem>();
  expect(body).toMatchObject({ type: 'about:blank', title, status, detail: expect.any(String) });
  expect(body.error).toBe(body.detail); // the first error shape's field, kept for its clients
  expect(JSON.stringify(body)).not.toMatch(/at .*\.(ts|js):\d+/); // never a stack trace
  return body;
}

describe('errors as problem details', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(async () => api?.close());

  it('a 400 lists the failing fields by path', async () => {
    const res = await api.call('manager', 'POST', `${V1}/visits`, { visitor: { name: '' }, purpose: 'x', areas: ['lab'], validFrom: 'soon' });
    const body = expectProblem(res, 400, 'Bad Request');
    expect(body.detail).toBe('invalid body');
    expect(body.details.map((d: { path: string }) => d.path)).toEqual(expect.arrayContaining(['visitor.name', 'validFrom']));
    expect(body.details.every((d: { message: unknown }) => typeof d.message === 'string')).toBe(true);
    const query = expectProblem(await api.call('manager', 'GET', `${V1}/visits?status=sometime`), 400, 'Bad Request');
    expect(query.details[0]?.path).toBe('status');
  });

  it('401 and 404 answer in the same shape', async () => {
    expectProblem(await api.call(null, 'GET', `${V1}/accounts`), 401, 'Unauthorized');
    expectProblem(await api.call('guard', 'GET', `${V1}/doors/nope`), 404, 'Not Found');
    expectProblem(await api.call('guard', 'GET', `${V1}/no/such/route`), 404, 'Not Found');
  });

  it('a 403 says in words that this role may not do that', async () => {
    const unlock = expectProblem(await api.call('auditor', 'POST', `${V1}/doors/lab-main/unlock`, {}), 403, 'Forbidden');
    expect(unlock.detail).toMatch(/^an auditor may not unlock doors \(needs /);
    const grant = expectProblem(await api.call('guard', 'POST', `${V1}/grants`, { personId: 'x', areaId: 'lab', purpose: 'p' }), 403, 'Forbidden');
    expect(grant.detail).toMatch(/^a guard may not grant access/);
    const audit = expectProblem(await api.call('guard', 'GET', `${V1}/audit`), 403, 'Forbidden');
    expect(audit.detail).toMatch(/^a guard may not read the audit log/);
    const accounts = expectProblem(await api.call('manager', 'POST', `${V1}/accounts`, { username: 'x', displayName: 'X', role: 'guard' }), 403, 'Forbidden');
    expect(accounts.detail).toMatch(/^a manager may not create accounts \(needs admin\)$/);
  });
});
