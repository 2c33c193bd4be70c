// Verify the logs: the entry log (GET /entries/verify, worker threads on the gateway; the answer
// names the newest signed checkpoint the chain was checked against) and the audit log
// (GET /audit/verify). Each section shows only to the roles the API lets verify it.
import { useState } from 'preact/hooks';
import { get } from '../api.js';
import { type Key, language, t, useLanguage } from '../i18n/index.js';
import { me } from '../session.js';
import { Badge } from '../ui/Badge.js';
import { Button } from '../ui/Button.js';
import { Time } from '../ui/Time.js';
import { problemWords } from './entries/shared.js';

interface CheckpointUsed {
  id: number;
  kind: 'periodic' | 'shutdown' | 'prune';
  ordinal: number | null;
  count: number;
  headHash: string;
  at: string;
}

interface VerifyResult {
  ok: boolean;
  records: number;
  checkpoints: number;
  breakAt?: { seq: number; problem: string };
  publicKey: string | null;
  /** The entry log's answer only. */
  checkpoint?: CheckpointUsed | null;
}

const number = (n: number) => n.toLocaleString(language() === 'ja' ? 'ja-JP' : 'en-GB');

function Outcome({ result, checkedAt }: { result: VerifyResult; checkedAt: Date }) {
  const cp = result.checkpoint;
  return (
    <div class={`verify-result ${result.ok ? 'verify-ok' : 'verify-broken'}`}>
      <p class="verify-verdict">{result.ok ? <Badge tone="ok">{t('verify.verified')}</Badge> : <Badge tone="alarm">{t('verify.notVerified')}</Badge>}</p>
      <dl class="facts">
        <div>
          <dt>{t('verify.records')}</dt>
          <dd>{number(result.records)}</dd>
        </div>
        <div>
          <dt>{t('verify.checkpoints')}</dt>
          <dd>{number(result.checkpoints)}</dd>
        </div>
        {cp !== undefined && (
          <div>
            <dt>{t('verify.checkpoint')}</dt>
            <dd class="verify-checkpoint">
              {cp ? (
                <>
                  {t('verify.checkpointText', { id: cp.id, kind: t(`verify.kind.${cp.kind}` as Key), count: number(cp.count) })} <Time at={cp.at} />
                </>
              ) : (
                t('verify.noCheckpoint')
              )}
            </dd>
          </div>
        )}
        {cp && (
          <div>
            <dt>{t('verify.headHash')}</dt>
            <dd>
              <code class="verify-hash" translate={false}>
                {cp.headHash}
              </code>
            </dd>
          </div>
        )}
        {result.breakAt && (
          <>
            <div>
              <dt>{t('verify.breakAt')}</dt>
              <dd>{t('verify.breakText', { seq: result.breakAt.seq })}</dd>
            </div>
            <div>
              <dt>{t('verify.problem')}</dt>
              {/* The verifier's own words (English): exact, for the report. */}
              <dd lang="en">{result.breakAt.problem}</dd>
            </div>
          </>
        )}
        <div>
          <dt>{t('verify.at')}</dt>
          <dd>
            <Time at={checkedAt} />
          </dd>
        </div>
      </dl>
      {result.publicKey ? (
        <details class="verify-key">
          <summary>{t('verify.publicKey')}</summary>
          <pre translate={false}>{result.publicKey}</pre>
        </details>
      ) : (
        <p class="muted">{t('verify.noKey')}</p>
      )}
    </div>
  );
}

function VerifySection({ id, title, path, run }: { id: string; title: Key; path: string; run: Key }) {
  const [state, setState] = useState<{ busy: boolean; result?: VerifyResult; checkedAt?: Date; error?: string }>({ busy: false });
  const start = async () => {
    setState({ busy: true });
    try {
      const result = await get<VerifyResult>(path);
      setState({ busy: false, result, checkedAt: new Date() });
    } catch (err) {
      setState({ busy: false, error: problemWords(err) });
    }
  };
  return (
    <section class="verify-section" aria-labelledby={id}>
      <h2 id={id}>{t(title)}</h2>
      <Button variant="primary" onClick={start} busy={state.busy}>
        {state.busy ? t('verify.running') : t(run)}
      </Button>
      <div role="status" aria-live="polite" class="verify-status">
        {state.result && state.checkedAt && <Outcome result={state.result} checkedAt={state.checkedAt} />}
        {state.error && <p class="form-error">{state.error}</p>}
      </div>
    </section>
  );
}

export function VerifyView() {
  useLanguage();
  const role = me().role;
  return (
    <section class="verify-view" aria-labelledby="view-title">
      <h1 id="view-title" tabIndex={-1}>
        {t('verify.title')}
      </h1>
      <p class="muted">{t('verify.intro')}</p>
      {(role === 'auditor' || role === 'manager') && (
        <VerifySection id="verify-entries" title="verify.entryLog" path="/entries/verify" run="verify.runEntries" />
      )}
      {(role === 'auditor' || role === 'admin') && <VerifySection id="verify-audit" title="verify.auditLog" path="/audit/verify" run="verify.runAudit" />}
    </section>
  );
}
