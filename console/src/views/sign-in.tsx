// The sign-in page: username, password and code; then, at a first sign-in, the forced password
// change and the set-up of a new authenticator seed (QR code and the key as text), confirmed with
// a code. All in the page: a new guard never needs the command line.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiProblem, post } from '../api.js';
import { language, t, useLanguage } from '../i18n/index.js';
import { reloadMe, type SessionState, setSetup, signIn } from '../session.js';
import { Button } from '../ui/Button.js';
import { Field } from '../ui/Field.js';
import { LanguageSwitch } from '../ui/LanguageSwitch.js';

/** The server's password-policy problems (src/services/password-policy.ts), each with words here. */
const PASSWORD_PROBLEMS = [
  'too-short',
  'one-repeated-character',
  'digits-only',
  'letters-only',
  'contains-username',
  'contains-name',
  'common-password',
  'reused',
] as const;
const isPasswordProblem = (p: string | undefined): p is (typeof PASSWORD_PROBLEMS)[number] => (PASSWORD_PROBLEMS as readonly string[]).includes(p ?? '');

/** The password typed at sign-in, kept only until the forced change uses it as the current one. */
let typedPassword: string | undefined;

export function SignInPage({ state }: { state: SessionState }) {
  useLanguage();
  const step = state.status !== 'signed-in' ? 'credentials' : state.me.mustChangePassword ? 'password' : 'totp';
  return (
    <div class="sign-in-page">
      <header class="sign-in-header">
        <span class="brand">{t('common.appName')}</span>
        <LanguageSwitch />
      </header>
      <main id="main" class="sign-in-card">
        {step === 'credentials' && <Credentials />}
        {step === 'password' && <NewPassword />}
        {step === 'totp' && <TotpSetup />}
      </main>
    </div>
  );
}

/** The step's heading takes focus when the step appears: a screen reader starts there. */
function useFocusOnMount<T extends HTMLElement>() {
  const ref = useRef<T>(null);
  useEffect(() => ref.current?.focus(), []);
  return ref;
}

function ErrorText({ text }: { text: string | undefined }) {
  return (
    <div role="alert" class={text ? 'form-error' : 'visually-hidden'}>
      {text}
    </div>
  );
}

function Credentials() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  // The first field, not the heading: a guard at the desk types at once.
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => form.current?.querySelector('input')?.focus(), []);

  async function submit(e: Event) {
    e.preventDefault();
    if (!username.trim() || !password) return setError(t('signIn.required'));
    setBusy(true);
    setError(undefined);
    try {
      typedPassword = password;
      const me = await signIn(username.trim(), password, code.trim() || undefined);
      if (!me.mustChangePassword) typedPassword = undefined;
    } catch (err) {
      typedPassword = undefined;
      setCode('');
      setError(err instanceof ApiProblem ? (err.status === 401 ? t('signIn.wrong') : err.status === 429 ? t('signIn.locked') : err.words()) : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form ref={form} onSubmit={submit} noValidate>
      <h1>{t('signIn.title')}</h1>
      <p>{t('signIn.intro')}</p>
      <Field
        label={t('signIn.username')}
        value={username}
        onValue={setUsername}
        name="username"
        autoComplete="username"
        autoCapitalize="none"
        spellcheck={false}
        required
      />
      <Field label={t('signIn.password')} value={password} onValue={setPassword} name="password" type="password" autoComplete="current-password" required />
      <Field
        label={t('signIn.code')}
        value={code}
        onValue={(v) => setCode(v.replace(/\D/g, '').slice(0, 6))}
        name="code"
        hint={t('signIn.codeHint')}
        inputMode="numeric"
        autoComplete="one-time-code"
        maxLength={6}
      />
      <ErrorText text={error} />
      <Button type="submit" variant="primary" busy={busy} class="btn-block">
        {t('signIn.submit')}
      </Button>
    </form>
  );
}

function NewPassword() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [fieldError, setFieldError] = useState<{ current?: string; next?: string; repeat?: string }>({});
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const knowsCurrent = typedPassword !== undefined;

  async function submit(e: Event) {
    e.preventDefault();
    setError(undefined);
    setFieldError({});
    if (next !== repeat) return setFieldError({ repeat: t('signIn.mismatch') });
    setBusy(true);
    try {
      await post('/auth/password', { currentPassword: typedPassword ?? current, newPassword: next });
      typedPassword = undefined;
      // A seed an administrator has seen is replaced by one only this person holds.
      setSetup('totp');
      await reloadMe();
    } catch (err) {
      if (!(err instanceof ApiProblem)) setError(String(err));
      else if (err.status === 401 && err.detail.includes('current password')) {
        typedPassword = undefined;
        setFieldError({ current: t('signIn.currentWrong') });
      } else if (err.status === 400 && err.details.length) {
        const problems = err.details.map((d) => (isPasswordProblem(d.problem) ? t(`signIn.problem.${d.problem}`) : (d.message ?? err.detail)));
        setFieldError({ next: t('signIn.policy', { problems: problems.join(language() === 'ja' ? '、' : '; ') }) });
      } else setError(err.words());
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} noValidate>
      <h1 ref={heading} tabIndex={-1}>
        {t('signIn.changeTitle')}
      </h1>
      <p>{t('signIn.changeIntro')}</p>
      {!knowsCurrent && (
        <Field
          label={t('signIn.currentPassword')}
          value={current}
          onValue={setCurrent}
          type="password"
          autoComplete="current-password"
          error={fieldError.current}
          required
        />
      )}
      <Field
        label={t('signIn.newPassword')}
        value={next}
        onValue={setNext}
        type="password"
        autoComplete="new-password"
        hint={t('signIn.passwordHint')}
        error={fieldError.next}
        required
      />
      <Field
        label={t('signIn.repeatPassword')}
        value={repeat}
        onValue={setRepeat}
        type="password"
        autoComplete="new-password"
        error={fieldError.repeat}
        required
      />
      <ErrorText text={error} />
      <Button type="submit" variant="primary" busy={busy} class="btn-block">
        {t('signIn.changeSubmit')}
      </Button>
    </form>
  );
}

interface Enrolment {
  otpauthUri: string;
  qrSvg?: string;
}

function TotpSetup() {
  const [enrolment, setEnrolment] = useState<Enrolment>();
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [codeError, setCodeError] = useState<string>();
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    post<Enrolment>('/auth/totp')
      .then(setEnrolment)
      .catch((err: unknown) => setError(err instanceof ApiProblem ? err.words() : String(err)));
  }, []);

  const secret = enrolment ? (new URL(enrolment.otpauthUri).searchParams.get('secret') ?? '') : '';

  async function submit(e: Event) {
    e.preventDefault();
    setCodeError(undefined);
    setError(undefined);
    setBusy(true);
    try {
      await post('/auth/totp/confirm', { code });
      setSetup(undefined);
      await reloadMe();
    } catch (err) {
      setCode('');
      if (err instanceof ApiProblem && err.status === 400) setCodeError(t('signIn.wrongCode'));
      else setError(err instanceof ApiProblem ? err.words() : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} noValidate>
      <h1 ref={heading} tabIndex={-1}>
        {t('signIn.enrolTitle')}
      </h1>
      <p>{t('signIn.enrolIntro')}</p>
      <ol class="steps">
        <li>
          <p>{t('signIn.enrolStep1')}</p>
          {enrolment ? (
            <div class="totp-qr">
              {enrolment.qrSvg ? (
                <img src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(enrolment.qrSvg)}`} alt={t('signIn.qrAlt')} width={200} height={200} />
              ) : null}
              <p>
                {t('signIn.secret')} <code class="totp-secret">{secret.replace(/(.{4})/g, '$1 ').trim()}</code>
              </p>
            </div>
          ) : (
            !error && <p aria-live="polite">{t('signIn.enrolStarting')}</p>
          )}
        </li>
        <li>
          <p>{t('signIn.enrolStep2')}</p>
          <Field
            label={t('signIn.code')}
            value={code}
            onValue={(v) => setCode(v.replace(/\D/g, '').slice(0, 6))}
            name="code"
            inputMode="numeric"
            autoComplete="one-time-code"
            maxLength={6}
            error={codeError}
            required
          />
        </li>
      </ol>
      <ErrorText text={error} />
      <Button type="submit" variant="primary" busy={busy} disabled={!enrolment} class="btn-block">
        {t('signIn.enrolSubmit')}
      </Button>
    </form>
  );
}
