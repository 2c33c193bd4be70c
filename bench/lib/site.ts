// The benchmark's site file: a card-only office with N doors (reader + lock each), a card + PIN lab
// with a few doors (reader + keypad + lock), and ballast areas that only hold grants. No schedule
// (always open), no anti-passback: the decision is the policy's, not the clock's.
import { stringify } from 'yaml';
import { parseSiteText } from '../../src/site/load.js';
import type { SiteFile } from '../../src/site/schema.js';

export const CARD_AREA = 'office';
export const PIN_AREA = 'lab';
/** Areas with no doors: they hold most of the grants when there are more grants than people. */
export const BALLAST_AREAS = ['zone01', 'zone02', 'zone03', 'zone04', 'zone05', 'zone06', 'zone07', 'zone08', 'zone09'];
/** Where the API scenario's revocable grants live: no door reads them, so revoking them changes no decision. */
export const REVOCABLE_AREA = 'zone09';
export const GRANT_AREAS = [CARD_AREA, ...BALLAST_AREAS];

export interface BenchDoor {
  id: string;
  kind: 'card' | 'card+pin';
  reader: string;
  keypad?: string;
  lock: string;
}

export interface BenchSite {
  yaml: string;
  site: SiteFile;
  cardDoors: BenchDoor[];
  pinDoors: BenchDoor[];
  deviceIds: string[];
}

const pad = (n: number) => String(n).padStart(2, '0');

export function benchDoors(cardDoors: number, pinDoors: number): { cardDoors: BenchDoor[]; pinDoors: BenchDoor[] } {
  const card: BenchDoor[] = [];
  for (let i = 1; i <= cardDoors; i++) card.push({ id: `d${pad(i)}`, kind: 'card', reader: `d${pad(i)}-reader`, lock: `d${pad(i)}-lock` });
  const pin: BenchDoor[] = [];
  for (let i = 1; i <= pinDoors; i++)
    pin.push({ id: `p${pad(i)}`, kind: 'card+pin', reader: `p${pad(i)}-reader`, keypad: `p${pad(i)}-keypad`, lock: `p${pad(i)}-lock` });
  return { cardDoors: card, pinDoors: pin };
}

export function benchSite(opts: { baseTopic: string; cardDoors: number; pinDoors: number }): BenchSite {
  const { cardDoors, pinDoors } = benchDoors(opts.cardDoors, opts.pinDoors);
  // The bench devices publish their status once, at connect: no heartbeat traffic, no offline alarms.
  const heartbeatSeconds = 3600;
  const devices: Record<string, unknown>[] = [];
  const doors: Record<string, unknown>[] = [];
  for (const d of cardDoors) {
    devices.push({ id: d.reader, kind: 'reader', transport: 'mqtt', heartbeatSeconds }, { id: d.lock, kind: 'lock', transport: 'mqtt', heartbeatSeconds });
    doors.push({ id: d.id, name: `Office door ${d.id}`, area: CARD_AREA, entryReader: d.reader, lock: d.lock, unlockMs: 5000, failMode: 'secure' });
  }
  for (const d of pinDoors) {
    devices.push(
      { id: d.reader, kind: 'reader', transport: 'mqtt', heartbeatSeconds },
      { id: d.keypad!, kind: 'keypad', transport: 'mqtt', heartbeatSeconds },
      { id: d.lock, kind: 'lock', transport: 'mqtt', heartbeatSeconds },
    );
    doors.push({
      id: d.id,
      name: `Lab door ${d.id}`,
      area: PIN_AREA,
      entryReader: d.reader,
      keypad: d.keypad,
      lock: d.lock,
      unlockMs: 5000,
      failMode: 'secure',
    });
  }
  const raw = {
    site: { name: { en: 'tobira benchmark site', ja: 'ベンチマーク用サイト' }, timezone: 'Asia/Tokyo' },
    mqtt: { baseTopic: opts.baseTopic, commandTimeoutMs: 2000 },
    policy: { trainingValidityMonths: 12, factorWindowSeconds: 20, pinAttempts: 3, pinLockoutSeconds: 300 },
    log: { retentionDays: 1095 },
    // The API load changes grants from one address (127.0.0.1) at 20 a second: above the default per-address limit.
    api: { writesPerMinute: 100_000 },
    areas: [
      { id: CARD_AREA, name: { en: 'Office', ja: '事務室' }, factors: ['card'] },
      { id: PIN_AREA, name: { en: 'Lab', ja: '研究室' }, factors: ['card', 'pin'] },
      ...BALLAST_AREAS.map((id) => ({ id, name: `Zone ${id}`, factors: ['card'] })),
    ],
    devices,
    doors,
  };
  const yaml = stringify(raw);
  const site = parseSiteText(yaml, 'bench site');
  return { yaml, site, cardDoors, pinDoors, deviceIds: devices.map((d) => d.id as string) };
}
