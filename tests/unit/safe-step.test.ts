// The safe's machine: an opening is authorised only with a holder's authentication in the window and
// both locks open; anything else is an alarm. Time is driven by the inputs' timestamps.
import { describe, expect, it } from 'vitest';
import {
  initialSafe,
  nextSafeDeadline,
  safeStep,
  type SafeAuth,
  type SafeEffect,
  type SafeInput,
  type SafeSettings,
  type SafeState,
} from '../../src/policy/safe.js';

const settings: SafeSettings = { locks: ['dial', 'key'], authWindowMs: 60_000, heldOpenMs: 300_000 };
const auth = (at: number, source: SafeAuth['source'] = 'door'): SafeAuth => ({ personId: 'p1', grantId: 7, purpose: 'archive', source, at });

function run(inputs: SafeInput[], s: SafeSettings = settings, from: SafeState = initialSafe()): { state: SafeState; effects: SafeEffect[] } {
  let state = from;
  const effects: SafeEffect[] = [];
  for (const input of inputs) {
    const r = safeStep(state, input, s);
    state = r.state;
    effects.push(...r.effects);
  }
  return { state, effects };
}

describe('the safe machine', () => {
  it('a holder authenticated, dial and key open, door opens: logged as an authorised opening; closing logged', () => {
    const { state, effects } = run([
      { on: 'authenticated', auth: auth(1000) },
      { on: 'switch', lock: 'dial', open: true, at: 5000 },
      { on: 'switch', lock: 'key', open: true, at: 6000 },
      { on: 'contact', open: true, at: 7000 },
    ]);
    expect(state.phase).toBe('open-authorised');
    expect(effects).toEqual([{ do: 'log-opening', auth: auth(1000), locks: ['dial', 'key'], at: 7000 }]);
    const closed = run([{ on: 'contact', open: false, at: 20_000 }], settings, state);
    expect(closed.state.phase).toBe('closed');
    expect(closed.effects).toEqual([{ do: 'log-closing', openedAt: 7000, at: 20_000, authorised: true }]);
  });

  it('one lock only is an alarm, even with a holder', () => {
    const { state, effects } = run([
      { on: 'authenticated', auth: auth(1000) },
      { on: 'switch', lock: 'dial', open: true, at: 2000 },
      { on: 'contact', open: true, at: 3000 },
    ]);
    expect(state.phase).toBe('open-alarm');
    expect(effects).toEqual([{ do: 'raise', type: 'safe-opened-unauthorised', detail: { reason: 'locks-not-open', locksOpen: ['dial'], holder: 'p1' } }]);
  });

  it('both locks without a holder, or with an authentication past the window, is an alarm', () => {
    const locks: SafeInput[] = [
      { on: 'switch', lock: 'dial', open: true, at: 2000 },
      { on: 'switch', lock: 'key', open: true, at: 2000 },
    ];
    const none = run([...locks, { on: 'contact', open: true, at: 3000 }]);
    expect(none.effects).toEqual([
      { do: 'raise', type: 'safe-opened-unauthorised', detail: { reason: 'no-holder', locksOpen: ['dial', 'key'], holder: null } },
    ]);
    const late = run([{ on: 'authenticated', auth: auth(1000) }, ...locks, { on: 'contact', open: true, at: 61_001 }]);
    expect(late.state.phase).toBe('open-alarm');
    expect(late.effects[0]).toMatchObject({ type: 'safe-opened-unauthorised', detail: { reason: 'no-holder' } });
  });

  it('the window ends by a tick; an authentication is spent on one opening', () => {
    const authd = run([{ on: 'authenticated', auth: auth(1000) }]);
    expect(authd.state.phase).toBe('authenticated');
    expect(nextSafeDeadline(authd.state, settings)).toBe(61_000);
    expect(run([{ on: 'tick', at: 61_001 }], settings, authd.state).state.phase).toBe('closed');
    const twice = run([
      { on: 'authenticated', auth: auth(1000) },
      { on: 'switch', lock: 'dial', open: true, at: 2000 },
      { on: 'switch', lock: 'key', open: true, at: 2000 },
      { on: 'contact', open: true, at: 3000 },
      { on: 'contact', open: false, at: 4000 },
      { on: 'contact', open: true, at: 5000 },
    ]);
    expect(twice.effects.map((e) => (e.do === 'raise' ? e.type : e.do))).toEqual(['log-opening', 'log-closing', 'safe-opened-unauthorised']);
  });

  it('left open past heldOpenMs is an alarm, once, authorised or not', () => {
    const open = run([{ on: 'contact', open: true, at: 1000 }]);
    expect(nextSafeDeadline(open.state, settings)).toBe(301_000);
    const held = run(
      [
        { on: 'tick', at: 300_999 },
        { on: 'tick', at: 301_000 },
        { on: 'tick', at: 400_000 },
      ],
      settings,
      open.state,
    );
    expect(held.state.phase).toBe('held-open');
    expect(held.effects).toEqual([{ do: 'raise', type: 'safe-held-open', detail: { openedAt: 1000, heldOpenMs: 300_000 } }]);
    expect(run([{ on: 'contact', open: false, at: 500_000 }], settings, held.state).effects).toEqual([
      { do: 'log-closing', openedAt: 1000, at: 500_000, authorised: false },
    ]);
  });

  it('a card lock opens by a read at the safe reader; a door authentication alone does not open it', () => {
    const cardDial: SafeSettings = { ...settings, locks: ['card', 'dial'] };
    const dial: SafeInput = { on: 'switch', lock: 'dial', open: true, at: 2000 };
    expect(run([{ on: 'authenticated', auth: auth(1000, 'reader') }, dial, { on: 'contact', open: true, at: 3000 }], cardDial).state.phase).toBe(
      'open-authorised',
    );
    expect(run([{ on: 'authenticated', auth: auth(1000, 'door') }, dial, { on: 'contact', open: true, at: 3000 }], cardDial).effects[0]).toMatchObject({
      detail: { reason: 'locks-not-open', locksOpen: ['dial'] },
    });
  });

  it('a keypad lock opens by a PIN the runner verified at the safe keypad; a door authentication alone does not open it', () => {
    const keypadKey: SafeSettings = { ...settings, locks: ['keypad', 'key'] };
    const key: SafeInput = { on: 'switch', lock: 'key', open: true, at: 2500 };
    const opened = run(
      [{ on: 'authenticated', auth: auth(1000, 'door') }, { on: 'authenticated', auth: auth(2000, 'keypad') }, key, { on: 'contact', open: true, at: 3000 }],
      keypadKey,
    );
    expect(opened.state.phase).toBe('open-authorised');
    expect(opened.effects[0]).toMatchObject({ do: 'log-opening', locks: ['keypad', 'key'], auth: { source: 'keypad' } });
    expect(run([{ on: 'authenticated', auth: auth(1000, 'door') }, key, { on: 'contact', open: true, at: 3000 }], keypadKey).effects[0]).toMatchObject({
      detail: { reason: 'locks-not-open', locksOpen: ['key'] },
    });
    // The keypad's authentication lasts the window, like any other.
    expect(
      run(
        [
          { on: 'authenticated', auth: auth(1000, 'keypad') },
          { ...key, at: 61_500 },
          { on: 'contact', open: true, at: 62_000 },
        ],
        keypadKey,
      ).effects[0],
    ).toMatchObject({
      detail: { reason: 'no-holder', locksOpen: ['key'] },
    });
  });

  it('an approach out of hours is an alarm; in hours nothing', () => {
    expect(run([{ on: 'approach', inHours: false, at: 1 }]).effects).toEqual([{ do: 'raise', type: 'safe-approach-out-of-hours', detail: {} }]);
    expect(run([{ on: 'approach', inHours: true, at: 1 }]).effects).toEqual([]);
  });
});
