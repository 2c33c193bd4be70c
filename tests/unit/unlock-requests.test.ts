// The book of remote unlocks waiting for a second account: the window, asking again, settling, a
// lockdown's cancellation, and what it forgets. Time is a variable the test moves.
import { describe, expect, it } from 'vitest';
import { needsSecondAccount, REMOTE_UNLOCK_CONFIRM_MS, UnlockRequests } from '../../src/services/unlock-requests.js';

function book() {
  let t = Date.parse('2026-04-01T09:00:00Z');
  const requests = new UnlockRequests(() => new Date(t));
  return { requests, advance: (ms: number) => (t += ms) };
}
const ask = (doorId: string, requestedBy = 'guard.a') => ({ doorId, requestedBy, role: 'guard' as const, note: null });

describe('remote unlock requests', () => {
  it('two factors or two people need a second account; one factor and one person do not', () => {
    expect(needsSecondAccount({ factors: ['card', 'pin'], twoPerson: false })).toBe(true);
    expect(needsSecondAccount({ factors: ['card'], twoPerson: true })).toBe(true);
    expect(needsSecondAccount({ factors: ['card'], twoPerson: false })).toBe(false);
  });

  it('a request may be settled inside its window, and is known as expired after it', () => {
    const { requests, advance } = book();
    const r = requests.open(ask('vault'));
    expect(r.expiresAt.getTime() - r.requestedAt.getTime()).toBe(REMOTE_UNLOCK_CONFIRM_MS);
    expect(requests.pendingFor('vault', 'guard.a')).toBe(r);
    expect(requests.pendingFor('vault', 'guard.b')).toBeUndefined();
    advance(REMOTE_UNLOCK_CONFIRM_MS - 1);
    expect(requests.find('vault', r.id)).toMatchObject({ ok: true });
    advance(1);
    expect(requests.find('vault', r.id)).toMatchObject({ ok: false, why: 'expired' });
    expect(requests.pendingFor('vault', 'guard.a')).toBeUndefined();
    expect(requests.pending()).toEqual([]);
  });

  it('a request is found only under its own door; once settled it says by whom, and a failed commit reopens it', () => {
    const { requests } = book();
    const r = requests.open(ask('vault'));
    expect(requests.find('lab', r.id)).toEqual({ ok: false, why: 'unknown' });
    requests.settle(r, 'confirmed', 'manager.b');
    expect(requests.find('vault', r.id)).toMatchObject({ ok: false, why: 'settled', request: { settled: { how: 'confirmed', by: 'manager.b' } } });
    requests.reopen(r);
    expect(requests.find('vault', r.id)).toMatchObject({ ok: true });
  });

  it('a lockdown cancels what waits for its doors, and only that', () => {
    const { requests } = book();
    const vault = requests.open(ask('vault'));
    const lab = requests.open(ask('lab'));
    expect(requests.cancelPendingFor(new Set(['vault']), 'the lockdown of secure')).toEqual([vault]);
    expect(requests.find('vault', vault.id)).toMatchObject({ why: 'settled', request: { settled: { how: 'cancelled', by: 'the lockdown of secure' } } });
    expect(requests.pending()).toEqual([lab]);
  });

  it('the book stays bounded: settled and expired requests are forgotten, pending ones kept', () => {
    const { requests, advance } = book();
    const first = requests.open(ask('vault', 'guard.first'));
    const settled = requests.open(ask('vault', 'guard.early'));
    requests.settle(settled, 'cancelled', 'test');
    for (let i = 0; i < 1500; i++) requests.settle(requests.open(ask('vault', `guard.${i}`)), 'cancelled', 'test');
    // Past the bound the oldest settled ones go; the first still waits: never forgotten while it may be confirmed.
    expect(requests.find('vault', settled.id)).toEqual({ ok: false, why: 'unknown' });
    expect(requests.find('vault', first.id)).toMatchObject({ ok: true });
    advance(REMOTE_UNLOCK_CONFIRM_MS + 11 * 60_000);
    requests.open(ask('lab'));
    expect(requests.find('vault', first.id)).toEqual({ ok: false, why: 'unknown' });
  });
});
