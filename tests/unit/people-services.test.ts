// The people-side services in-process, on a real store, with no API and no controller: the rules
// hold whoever calls (the API or the shell), and a refused change leaves no audit record.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { createServices, ServiceError, type Actor, type Services } from '../../src/services/index.js';
import { loadSiteFile } from '../../src/site/load.js';
import type { SiteFile } from '../../src/site/schema.js';
import { openStore, type Store } from '../../src/store/index.js';

const EXAMPLE_SITE = resolve(import.meta.dirname, '../../examples/site.yaml');
const alice: Actor = { username: 'alice', role: 'manager', address: '10.0.0.1' };
const bob: Actor = { username: 'bob', role: 'manager', address: '10.0.0.2' };

let store: Store;
let site: SiteFile;
let services: Services;

function refusal(fn: () => unknown): { kind: string; message: string; details?: unknown } {
  try {
    fn();
  } catch (err) {
    if (err instanceof ServiceError) return { kind: err.kind, message: err.message, ...(err.details ? { details: err.details } : {}) };
    throw err;
  }
  throw new Error('not refused');
}

const actions = () =>
  store.audit
    .query({ limit: 1000 })
    .records.map((r) => r.action)
    .reverse();

beforeEach(() => {
  store = openStore(mkdtempSync(join(tmpdir(), 'tobira-services-')));
  site = loadSiteFile(EXAMPLE_SITE);
  services = createServices({ store, now: () => new Date(), site: () => site });
  return () => store.close();
});

describe('people-side services', () => {
  it('leaving revokes every grant in the same change, named in its audit record', () => {
    const person = services.people.enrol(alice, { name: 'Leaver' });
    const lab = services.grants.create(alice, { personId: person.id, areaId: 'lab', purpose: 'project' });
    const vault = services.grants.create(alice, { personId: person.id, areaId: 'vault', purpose: 'project' });
    services.people.update(bob, person.id, { status: 'left' });
    expect([services.grants.get(lab.id).status, services.grants.get(vault.id).status]).toEqual(['revoked', 'revoked']);
    expect(services.grants.get(lab.id).revokedBy).toBe('bob');
    const update = store.audit.query({ action: 'person.update' }).records[0]!;
    expect(update).toMatchObject({ actor: 'bob', role: 'manager', address: '10.0.0.2', target: `person:${person.id}` });
    expect(update.detail).toEqual({ changes: { status: { from: 'active', to: 'left' } }, revokedGrants: [lab.id, vault.id] });
    expect(refusal(() => services.grants.create(alice, { personId: person.id, areaId: 'lab', purpose: 'again' }))).toEqual({
      kind: 'conflict',
      message: 'the person has left',
    });
  });

  it('refuses a duress PIN equal to the PIN, whichever is set first', async () => {
    const person = services.people.enrol(alice, { name: 'Duress' });
    await services.credentials.setPin(alice, person.id, { pin: '2580' });
    await expect(services.credentials.setPin(alice, person.id, { pin: '2580', duress: true })).rejects.toMatchObject({
      kind: 'conflict',
      message: 'the duress PIN and the PIN must differ',
    });
    await services.credentials.setPin(alice, person.id, { pin: '9110', duress: true });
    await expect(services.credentials.setPin(alice, person.id, { pin: '9110' })).rejects.toMatchObject({ kind: 'conflict' });
    expect(actions().filter((a) => a === 'credential.pin-set')).toHaveLength(2);
  });

  it('with four eyes, a grant waits for a second person; its creator cannot approve it', () => {
    site = { ...site, api: { ...site.api, fourEyes: true } };
    const person = services.people.enrol(alice, { name: 'Four Eyes' });
    const grant = services.grants.create(alice, { personId: person.id, areaId: 'lab', purpose: 'audit' });
    expect(grant.status).toBe('pending');
    expect(store.people.grants(person.id, 'lab')).toEqual([]);
    expect(refusal(() => services.grants.approve({ ...alice, username: 'ALICE' }, grant.id))).toEqual({
      kind: 'conflict',
      message: 'the grant needs a second person: its creator cannot approve it',
    });
    expect(refusal(() => services.grants.approve({ username: 'carol', role: 'auditor', address: 'x', readOnly: true }, grant.id)).kind).toBe('forbidden');
    expect(services.grants.approve(bob, grant.id)).toMatchObject({ status: 'active', approvedBy: 'bob' });
    expect(store.people.grants(person.id, 'lab').map((g) => g.id)).toEqual([grant.id]);
    expect(refusal(() => services.grants.approve(bob, grant.id)).message).toBe('the grant is active already');
  });

  it('a refused part of an enrolment leaves nothing behind, audit records included', async () => {
    services.people.enrol(alice, { name: 'First', number: 4101 });
    const before = actions();
    await expect(
      services.enrolment.enrolHolder(alice, {
        name: 'Second',
        card: 'CARD-2',
        pin: '1234',
        grants: [
          { areaId: 'lab', purpose: 'p' },
          { areaId: 'nowhere', purpose: 'p' },
        ],
      }),
    ).rejects.toMatchObject({ kind: 'invalid', details: [{ path: 'areaId' }] });
    expect(actions()).toEqual(before);
    expect(store.people.list({ limit: 10, offset: 0 }).total).toBe(1);
    expect(store.credentials.find('card', 'CARD-2')).toBeUndefined();
    expect(refusal(() => services.people.enrol(bob, { name: 'Dup', number: 4101 }))).toEqual({ kind: 'conflict', message: 'staff number 4101 is taken' });
  });

  it('a revoked credential stays revoked; training in the future is refused', () => {
    const person = services.people.enrol(alice, { name: 'Card Holder' });
    const card = services.credentials.enrol(alice, person.id, { kind: 'card', value: 'ab:cd:01' });
    expect(card.value).toBe('ABCD01');
    expect(refusal(() => services.credentials.enrol(bob, person.id, { kind: 'card', value: 'ABCD01' })).message).toBe(
      `this card is enrolled already for this person (credential ${card.id}, active)`,
    );
    services.credentials.setStatus(alice, card.id, 'revoked');
    expect(refusal(() => services.credentials.setStatus(alice, card.id, 'active')).message).toBe('a revoked credential stays revoked: enrol a new one');
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
    expect(refusal(() => services.people.recordTraining(alice, person.id, { completedAt: tomorrow, course: 'c' }))).toEqual({
      kind: 'invalid',
      message: 'invalid body',
      details: [{ path: 'completedAt', message: 'is in the future' }],
    });
    expect(refusal(() => services.people.file('nobody'))).toEqual({ kind: 'not-found', message: 'person not found' });
  });
});
