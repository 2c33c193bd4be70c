// Hardware-in-the-loop: backpressure. A door flooded with more reads than may wait there gets the
// excess refused at once (controller-busy), each refusal logged, none opening the door; the daemon
// stays up and /metrics counts them. No timing is asserted: only outcomes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { enrol, entries, events, startDaemon, type Daemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/ports.js';

const FLOOD = 60;
const detail = (e: Record<string, unknown>) => JSON.parse(e.detail as string) as Record<string, unknown>;

async function metric(daemon: Daemon, name: string): Promise<number> {
  const text = await (await fetch(`${daemon.apiUrl}/metrics`)).text();
  const v = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1];
  if (v === undefined) throw new Error(`${name} not in /metrics`);
  return Number(v);
}

describe('backpressure: a flooded door, through the daemon and the simulated devices', () => {
  let daemon: Daemon;
  let sim: Simulator;

  beforeAll(async () => {
    daemon = await startDaemon({
      broker: { kind: 'embedded' },
      edit: (raw) => {
        // Card only at the lab, so every read decided is a grant; one read may wait at a door, two in all.
        raw.areas.find((a: { id: string }) => a.id === 'lab').factors = ['card'];
        raw.policy = { ...raw.policy, maxReadsWaitingPerDoor: 1, maxReadsWaiting: 2 };
      },
    });
    await enrol(daemon, { name: 'Sato Hanako', card: '04A1B2C3', areas: ['lab'] });
    sim = await Simulator.start({ site: daemon.site, url: daemon.mqttUrl, ca: daemon.ca, secrets: daemon.secrets });
    await waitFor(() => sim.lockState('lab-lock') === 'locked' && sim.observed('lab-lock').length > 0, 5000, 'lab-lock driven to rest');
  });

  afterAll(async () => {
    await sim?.stop();
    await daemon?.stop();
  });

  it('refuses the excess as controller-busy: each read logged once, refused ones never open, counted in /metrics, one event', async () => {
    const before = entries(daemon).length;
    const refusedBefore = await metric(daemon, 'tobira_reads_refused_total');
    const deniedBefore = await metric(daemon, 'tobira_decisions_total{result="denied"}');
    const unlocksBefore = sim.observed('lab-lock').filter((o) => o.command.command === 'unlock').length;
    const firstSeq = sim.info('lab-reader').seq + 1;

    // All at once, as a stuck reader or an attacker would: far more than may wait.
    await Promise.all(Array.from({ length: FLOOD }, () => sim.swipe('lab-reader', '04A1B2C3')));
    const seqs = Array.from({ length: FLOOD }, (_, i) => firstSeq + i);
    const records = await waitFor(
      () => {
        const rs = entries(daemon)
          .slice(before)
          .filter((e) => e.kind === 'decision' && e.device_id === 'lab-reader');
        return rs.length >= FLOOD ? rs : undefined;
      },
      20_000,
      'a decision record for every read',
    );

    // Every read has exactly one record: decided or refused, none lost, none twice.
    expect(records.map((r) => r.device_seq).sort((a, b) => Number(a) - Number(b))).toEqual(seqs);
    const refused = records.filter((r) => r.reason === 'controller-busy');
    const granted = records.filter((r) => r.decision === 'granted');
    expect(refused.length).toBeGreaterThan(0);
    expect(granted.length).toBeGreaterThan(0);
    expect(refused.length + granted.length).toBe(FLOOD);
    // Refused before any lookup: no person named, only what was presented; fail secure.
    for (const r of refused) expect(r).toMatchObject({ decision: 'denied', door_id: 'lab-main', person_id: null, factors: '["card"]' });

    // Only the grants open: one unlock each, none for a refusal.
    await waitFor(
      () => sim.observed('lab-lock').filter((o) => o.command.command === 'unlock').length - unlocksBefore >= granted.length,
      10_000,
      'an unlock per grant',
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(sim.observed('lab-lock').filter((o) => o.command.command === 'unlock').length - unlocksBefore).toBe(granted.length);

    // Counted: the refusals, and each as a denied decision.
    expect(await metric(daemon, 'tobira_reads_refused_total')).toBe(refusedBefore + refused.length);
    expect(await metric(daemon, 'tobira_decisions_total{result="denied"}')).toBe(deniedBefore + refused.length);
    expect(await metric(daemon, 'tobira_reads_waiting')).toBe(0);

    // One warning for the flood (rate-limited), not one per read; no access-denied or repeated-denials alarm for them.
    const busy = events(daemon, 'controller-busy');
    expect(busy).toHaveLength(1);
    expect(busy[0]).toMatchObject({ category: 'system', severity: 'warning', source: 'lab-main' });
    expect(detail(busy[0]!)).toMatchObject({ device: 'lab-reader', maxReadsWaitingPerDoor: 1, maxReadsWaiting: 2 });
    expect(events(daemon, 'access-denied').filter((e) => detail(e).reason === 'controller-busy')).toEqual([]);
    expect(events(daemon, 'repeated-denials')).toEqual([]);

    // Still up, and the door works as before once the flood is over.
    expect(daemon.proc.exitCode).toBeNull();
    expect((await daemon.health()).database.ok).toBe(true);
    const unlocked = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 5000, 'unlock after the flood');
    await sim.swipe('lab-reader', '04A1B2C3');
    await unlocked;
    expect(entries(daemon).at(-1)).toMatchObject({ decision: 'granted', door_id: 'lab-main' });
  });
});
