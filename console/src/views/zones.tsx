// Alarm zones, on the door board: each zone's state (disarmed, armed, entry delay, tripped), how it
// arms, whether its siren sounds and which sensors are not trusted; arm and disarm. Live from the
// stream's `zone` messages over one read (again after each reconnect, and every minute as a safety net).
import { useState } from 'preact/hooks';
import { ApiProblem, get, post } from '../api.js';
import { localized, t, useLanguage } from '../i18n/index.js';
import { useLiveState } from '../live.js';
import { me } from '../session.js';
import { Badge, type Tone } from '../ui/Badge.js';
import { Button } from '../ui/Button.js';
import { Time } from '../ui/Time.js';
import { usePlaces } from './guard/live-data.js';

export interface Zone {
  id: string;
  name: { en: string; ja: string };
  area: string;
  arm: 'schedule' | 'empty' | 'manual';
  mode: 'disarmed' | 'armed' | 'entry-delay' | 'tripped';
  since: string;
  trippedBy: string | null;
  sounding: boolean;
  faultedSensors: string[];
}

const TONE: Record<Zone['mode'], Tone> = { disarmed: 'muted', armed: 'ok', 'entry-delay': 'warning', tripped: 'alarm' };

export function ZonesPanel() {
  useLanguage();
  const role = me().role;
  const mayCommand = role === 'guard' || role === 'manager';
  const places = usePlaces();
  const [busy, setBusy] = useState<string | undefined>(undefined);
  const [said, setSaid] = useState<string | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const zones = useLiveState(
    async (signal) => (await get<{ items: Zone[] }>('/zones', { signal })).items,
    { zone: (items, m) => items.map((z) => (z.id === m.zoneId ? { ...z, ...m.state } : z)) },
    60_000,
  );

  async function change(z: Zone, how: 'arm' | 'disarm') {
    setBusy(z.id);
    setSaid(undefined);
    setProblem(undefined);
    try {
      await post(`/zones/${z.id}/${how}`);
      setSaid(t(how === 'arm' ? 'zones.armed' : 'zones.disarmed', { zone: localized(z.name) }));
      zones.reload();
    } catch (err) {
      setProblem(err instanceof ApiProblem ? (err.status === 409 ? t('doors.refused', { detail: err.detail }) : err.words()) : String(err));
      zones.reload();
    } finally {
      setBusy(undefined);
    }
  }

  const items = zones.data ?? [];
  return (
    <section class="zones-panel" aria-labelledby="zones-title">
      <h2 id="zones-title">{t('zones.title')}</h2>
      {zones.error && (
        <p role="alert" class="error">
          {zones.error.words()}
        </p>
      )}
      {problem && (
        <p role="alert" class="error">
          {problem}
        </p>
      )}
      {said && (
        <p role="status" class="notice notice-ok">
          {said}
        </p>
      )}
      {zones.data && items.length === 0 ? (
        <p class="empty">{t('zones.none')}</p>
      ) : (
        <div class="table-wrap">
          <table class="table zone-board">
            <caption class="visually-hidden">{t('zones.title')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('zones.zone')}</th>
                <th scope="col">{t('zones.mode')}</th>
                <th scope="col">{t('zones.arming')}</th>
                <th scope="col">{t('zones.since')}</th>
                {mayCommand && <th scope="col">{t('zones.actions')}</th>}
              </tr>
            </thead>
            <tbody>
              {items.map((z) => (
                <tr key={z.id} data-zone-id={z.id} class={z.mode === 'tripped' ? 'zone-tripped' : undefined}>
                  <th scope="row">
                    {localized(z.name)}
                    <br />
                    <span class="muted">{places.name(z.area)}</span>
                  </th>
                  <td>
                    <Badge tone={TONE[z.mode]}>{t(`zones.mode.${z.mode}`)}</Badge>
                    {z.trippedBy && z.mode !== 'disarmed' && z.mode !== 'armed' && (
                      <span class="muted"> {t('zones.trippedBy', { sensor: places.name(z.trippedBy) })}</span>
                    )}
                    {z.sounding && (
                      <>
                        {' '}
                        <Badge tone="alarm">{t('zones.sounding')}</Badge>
                      </>
                    )}
                    {z.faultedSensors.length > 0 && (
                      <p class="muted">{t('zones.faulted', { sensors: z.faultedSensors.map((s) => places.name(s)).join(', ') })}</p>
                    )}
                  </td>
                  <td>{t(`zones.arm.${z.arm}`)}</td>
                  <td>
                    <Time at={z.since} />
                  </td>
                  {mayCommand && (
                    <td>
                      {z.mode === 'disarmed' ? (
                        <Button
                          variant="primary"
                          busy={busy === z.id}
                          onClick={() => void change(z, 'arm')}
                          aria-label={`${t('zones.arm')}: ${localized(z.name)}`}
                        >
                          {t('zones.arm')}
                        </Button>
                      ) : (
                        <Button busy={busy === z.id} onClick={() => void change(z, 'disarm')} aria-label={`${t('zones.disarm')}: ${localized(z.name)}`}>
                          {t('zones.disarm')}
                        </Button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
