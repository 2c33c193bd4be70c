// The visitor desk: today's expected visits (and anyone still checked in from before), each at its
// stage, with the step the desk takes next: the signed pledge, check-in (handing over the badge),
// check-out; a badge issued (or replaced) and handed back. A badge kept after check-out stands out.
import { useState } from 'preact/hooks';
import { ApiProblem, get, post } from '../api.js';
import { t, useLanguage } from '../i18n/index.js';
import { me, siteTimezone } from '../session.js';
import { Badge, type Tone } from '../ui/Badge.js';
import { Button } from '../ui/Button.js';
import { Dialog } from '../ui/Dialog.js';
import { Field } from '../ui/Field.js';
import { formatTime, Time } from '../ui/Time.js';
import './guard/guard.css';
import { useLiveData, usePlaces } from './guard/live-data.js';

type Stage = 'awaiting-approval' | 'awaiting-pledge' | 'ready' | 'checked-in' | 'checked-out' | 'cancelled';

export interface Visit {
  id: number;
  visitor: { id: string; name: string; affiliation: string };
  host: { id: string; name: string | null };
  areas: string[];
  validFrom: string;
  validUntil: string;
  stage: Stage;
  overstay: boolean;
  checkedInAt: string | null;
  badgeReturnedAt: string | null;
  card: { value: string; status: 'active' | 'suspended' | 'revoked' } | null;
}

type Step = 'pledge' | 'check-in' | 'check-out' | 'badge' | 'badge/return';

const STAGE_TONE: Record<Stage, Tone> = {
  'awaiting-approval': 'muted',
  'awaiting-pledge': 'warning',
  ready: 'info',
  'checked-in': 'ok',
  'checked-out': 'muted',
  cancelled: 'muted',
};

/** The site's calendar day now (YYYY-MM-DD), as the visit register's date filter reads it. */
function siteToday(): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: siteTimezone(), year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
}

/** A badge handed over and not back: the visitor is (or was) in with it, and the desk has no return on record. */
const badgeOut = (v: Visit) => v.card !== null && v.checkedInAt !== null && v.badgeReturnedAt === null;

export function VisitorsView() {
  useLanguage();
  const role = me().role;
  const atDesk = role === 'guard' || role === 'manager';
  const places = usePlaces();
  const [step, setStep] = useState<{ visit: Visit; step: Step } | undefined>(undefined);
  const [said, setSaid] = useState<string | undefined>(undefined);
  const today = siteToday();

  const list = useLiveData(
    async (signal) => {
      const [day, current] = await Promise.all([
        get<{ items: Visit[] }>(`/visits?date=${today}&limit=500`, { signal }),
        get<{ items: Visit[] }>('/visits?status=current&limit=500', { signal }),
      ]);
      const byId = new Map<number, Visit>();
      for (const v of [...day.items, ...current.items]) byId.set(v.id, v);
      return [...byId.values()].sort((a, b) => Date.parse(a.validFrom) - Date.parse(b.validFrom) || a.id - b.id);
    },
    // A check-in at another desk raises no event: read again every little while.
    { pollMs: 15_000 },
  );

  const visits = list.data ?? [];
  const counts = {
    expected: visits.filter((v) => v.stage !== 'cancelled').length,
    inside: visits.filter((v) => v.stage === 'checked-in').length,
    badges: visits.filter(badgeOut).length,
  };

  return (
    <section class="guard-view visitors-view" aria-labelledby="view-title">
      <h1 id="view-title" tabIndex={-1}>
        {t('visitors.title')}
      </h1>
      <p class="view-summary">{t('visitors.summary', counts)}</p>
      {list.error && (
        <p role="alert" class="error">
          {list.error.words()}
        </p>
      )}
      {said && (
        <p role="status" class="notice notice-ok">
          {said}
        </p>
      )}
      <h2>{t('visitors.today', { date: formatTime(Date.now(), 'date') })}</h2>
      {list.data === undefined && !list.error ? (
        <p role="status">{t('common.loading')}</p>
      ) : visits.length === 0 ? (
        <p class="empty">{t('visitors.none')}</p>
      ) : (
        <div class="table-wrap">
          <table class="table visit-table">
            <caption class="visually-hidden">{t('visitors.today', { date: today })}</caption>
            <thead>
              <tr>
                <th scope="col">{t('visitors.visitor')}</th>
                <th scope="col">{t('visitors.host')}</th>
                <th scope="col">{t('visitors.window')}</th>
                <th scope="col">{t('visitors.stage')}</th>
                <th scope="col">{t('visitors.badge')}</th>
                {atDesk && <th scope="col">{t('visitors.actions')}</th>}
              </tr>
            </thead>
            <tbody>
              {visits.map((v) => (
                <tr key={v.id} data-visit-id={v.id}>
                  <th scope="row">
                    {v.visitor.name}
                    <br />
                    <span class="muted">{v.visitor.affiliation}</span>
                  </th>
                  <td>
                    {v.host.name ?? v.host.id}
                    <br />
                    <span class="muted">{v.areas.map((a) => places.name(a)).join(', ')}</span>
                  </td>
                  <td>
                    <Time at={v.validFrom} style="time" /> – <Time at={v.validUntil} style="time" />
                  </td>
                  <td>
                    <Badge tone={STAGE_TONE[v.stage]}>{t(`visitors.stage.${v.stage}`)}</Badge>
                    {v.overstay && (
                      <>
                        {' '}
                        <Badge tone="alarm">{t('visitors.overstay')}</Badge>
                      </>
                    )}
                  </td>
                  <td>
                    {v.card ? (
                      <>
                        <span translate={false} class="card-number">
                          {v.card.value}
                        </span>{' '}
                        <span class="muted">({t(`visitors.card.${v.card.status}`)})</span>
                        {v.badgeReturnedAt ? (
                          <>
                            <br />
                            <span class="muted">{t('visitors.returnedAt', { when: formatTime(v.badgeReturnedAt, 'time') })}</span>
                          </>
                        ) : (
                          badgeOut(v) &&
                          v.stage !== 'checked-in' && (
                            <>
                              <br />
                              <Badge tone="warning">{t('visitors.notReturned')}</Badge>
                            </>
                          )
                        )}
                      </>
                    ) : (
                      <span class="muted">{t('visitors.noBadge')}</span>
                    )}
                  </td>
                  {atDesk && (
                    <td class="visit-actions">
                      <Actions
                        visit={v}
                        onStep={(s) => {
                          setSaid(undefined);
                          setStep({ visit: v, step: s });
                        }}
                      />
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {step && (
        <StepDialog
          visit={step.visit}
          step={step.step}
          onClose={() => setStep(undefined)}
          onDone={(text) => {
            setStep(undefined);
            setSaid(text);
            list.reload();
          }}
        />
      )}
    </section>
  );
}

function Actions({ visit: v, onStep }: { visit: Visit; onStep: (s: Step) => void }) {
  const name = v.visitor.name;
  const b = (s: Step, label: string, variant: 'primary' | 'secondary' = 'secondary') => (
    <Button key={s} variant={variant} onClick={() => onStep(s)} aria-label={`${label}: ${name}`}>
      {label}
    </Button>
  );
  const open = v.stage !== 'checked-out' && v.stage !== 'cancelled';
  return (
    <>
      {v.stage === 'awaiting-approval' && <span class="muted">{t('visitors.awaitingApproval')}</span>}
      {v.stage === 'awaiting-pledge' && b('pledge', t('visitors.pledge'), 'primary')}
      {v.stage === 'ready' && b('check-in', t('visitors.checkIn'), 'primary')}
      {v.stage === 'checked-in' && b('check-out', t('visitors.checkOut'), 'primary')}
      {open && v.stage !== 'awaiting-approval' && b('badge', t('visitors.issueBadge'))}
      {v.card && !v.badgeReturnedAt && v.checkedInAt && b('badge/return', t('visitors.returnBadge'))}
    </>
  );
}

function StepDialog({ visit: v, step, onClose, onDone }: { visit: Visit; step: Step; onClose: () => void; onDone: (said: string) => void }) {
  const [card, setCard] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [cardError, setCardError] = useState<string | undefined>(undefined);
  const name = v.visitor.name;
  const formId = `visit-${v.id}-step`;
  const text = {
    pledge: { title: t('visitors.pledgeTitle', { name }), body: t('visitors.pledgeBody'), submit: t('visitors.pledge'), done: t('visitors.pledged', { name }) },
    'check-in': {
      title: t('visitors.checkInTitle', { name }),
      body: t('visitors.checkInBody'),
      submit: t('visitors.checkIn'),
      done: t('visitors.checkedIn', { name }),
    },
    'check-out': { title: t('visitors.checkOut'), body: name, submit: t('visitors.checkOut'), done: t('visitors.checkedOut', { name }) },
    badge: { title: t('visitors.issueTitle', { name }), body: t('visitors.issueBody'), submit: t('visitors.issueBadge'), done: t('visitors.issued', { name }) },
    'badge/return': { title: t('visitors.returnBadge'), body: name, submit: t('visitors.returnBadge'), done: t('visitors.returned', { name }) },
  }[step];
  const needsCard = step === 'badge';
  const mayCard = step === 'check-in' || step === 'badge';

  async function submit(e: Event) {
    e.preventDefault();
    if (needsCard && !card.trim()) return setCardError(t('visitors.card'));
    setBusy(true);
    setProblem(undefined);
    setCardError(undefined);
    const body = step === 'pledge' ? { signedAt: new Date().toISOString() } : mayCard && card.trim() ? { card: card.trim() } : undefined;
    try {
      await post(`/visits/${v.id}/${step}`, body);
      onDone(text.done);
    } catch (err) {
      if (err instanceof ApiProblem) {
        setCardError(err.field('card'));
        setProblem(err.status === 409 ? t('visitors.refused', { detail: err.detail }) : err.words());
      } else setProblem(String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog
      open
      title={text.title}
      onClose={onClose}
      actions={
        <Button type="submit" form={formId} variant="primary" busy={busy}>
          {text.submit}
        </Button>
      }
    >
      <form id={formId} onSubmit={submit} class="answer-form">
        <p>{text.body}</p>
        {mayCard && (
          <Field
            label={needsCard ? t('visitors.card') : t('visitors.cardOptional')}
            hint={t('visitors.cardHint')}
            value={card}
            onValue={setCard}
            error={cardError}
            required={needsCard}
            autoComplete="off"
            maxLength={256}
          />
        )}
        {problem && (
          <p role="alert" class="error">
            {problem}
          </p>
        )}
      </form>
    </Dialog>
  );
}
