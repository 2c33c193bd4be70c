// Dial locks on doors in the site file: `doors[].dialLock` with a safe's fields and limits, `{}` for the
// defaults; a door's dial lock takes the door's id, so a door may not share a safe's id.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { dialLocksOf } from '../../src/controller/dial-locks.js';
import { formatProblem, parseSiteText, SiteFileError } from '../../src/site/load.js';
import type { RawSite } from '../helpers/daemon.js';
import { FIXTURE_SITE } from '../helpers/daemon.js';

const example = readFileSync(FIXTURE_SITE, 'utf8');

/** The example site with an edit, as `config check` reads it: the problems, or the site. */
function load(edit: (raw: RawSite) => void) {
  const raw = parse(example) as RawSite;
  edit(raw);
  try {
    return { site: parseSiteText(stringify(raw), 'site.yaml'), problems: [] as string[] };
  } catch (err) {
    if (err instanceof SiteFileError) return { site: null, problems: err.problems.map(formatProblem) };
    throw err;
  }
}
const door = (raw: RawSite, id: string) => raw.doors.find((d: { id: string }) => d.id === id);

describe('dial locks on doors in the site file', () => {
  it('`{}` is a dial lock with the defaults; the fields are those of a safe', () => {
    const { site, problems } = load((raw) => {
      door(raw, 'vault-door').dialLock = {};
      door(raw, 'lab-main').dialLock = { custodian: 1001, delegates: [1002, 1003], location: 'east corridor', rotationMonths: 3, remindDays: [14, 1] };
    });
    expect(problems).toEqual([]);
    expect(site!.doors.find((d) => d.id === 'vault-door')!.dialLock).toEqual({ delegates: [] });
    const locks = dialLocksOf(site!);
    expect(locks.map((l) => [l.kind, l.id])).toEqual([
      ['safe', 'doc-safe'],
      ['door', 'lab-main'],
      ['door', 'vault-door'],
    ]);
    // The access holders of the door's area may know its code.
    expect(locks[1]).toMatchObject({
      holders: { id: 'lab-main', area: 'lab', holders: 'area' },
      name: { en: 'Lab main door' },
      facts: { area: 'lab', location: 'east corridor', custodian: '1001', delegates: ['1002', '1003'] },
      policy: { rotationMonths: 3, remindDays: [14, 1] },
    });
    expect(locks[2]).toMatchObject({
      facts: { area: 'vault', location: '', custodian: '', delegates: [] },
      policy: { rotationMonths: 12, remindDays: [30, 7, 1] },
    });
    // A safe's lock keeps its own holders' scope.
    expect(locks[0]!.holders).toEqual({ id: 'doc-safe', area: 'vault', holders: 'safe' });
    // Doors without one have none.
    expect(dialLocksOf(load(() => {}).site!).map((l) => l.id)).toEqual(['doc-safe']);
  });

  it("refuses a safe's limits broken, an unknown field, a code", () => {
    expect(load((raw) => (door(raw, 'vault-door').dialLock = { rotationMonths: 13 })).problems).toEqual([
      expect.stringMatching(/^doors\[1\]\.dialLock\.rotationMonths: .*(12|big)/i),
    ]);
    expect(load((raw) => (door(raw, 'vault-door').dialLock = { remindDays: [0] })).problems).toEqual([
      expect.stringMatching(/^doors\[1\]\.dialLock\.remindDays\[0\]: /),
    ]);
    // The code is never in the site file either: there is no field for it.
    expect(load((raw) => (door(raw, 'vault-door').dialLock = { code: '12-34-56' })).problems).toEqual([expect.stringMatching(/^doors\[1\]\.dialLock: .*code/)]);
  });

  /** Renames a door everywhere the example names it (its floor plan too), so only the clash is left. */
  function renameDoor(raw: RawSite, from: string, to: string): void {
    door(raw, from).id = to;
    for (const plan of (raw.floorPlans ?? []) as { doors?: { door: string }[] }[]) {
      for (const d of plan.doors ?? []) if (d.door === from) d.door = to;
    }
  }

  it("refuses a door with a safe's id, with or without a dial lock, saying why", () => {
    const { problems } = load((raw) => {
      renameDoor(raw, 'vault-door', 'doc-safe');
    });
    expect(problems).toEqual([
      expect.stringMatching(
        /^doors\[1\]\.id: "doc-safe" is already a safe's id: a dial lock takes its door's or safe's id, so they may not share one \(line \d+\)$/,
      ),
    ]);
    expect(
      load((raw) => {
        door(raw, 'vault-door').dialLock = {};
        renameDoor(raw, 'vault-door', 'doc-safe');
      }).problems,
    ).toHaveLength(1);
  });
});
