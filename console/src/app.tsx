// The page: the sign-in page until a session is ready, then the shell (header with the nav for the
// role, the language switch, the alarm sound's mute, sign out; the "not live" and alarm banners)
// around the view the hash names.
import { useEffect, useRef, useState } from 'preact/hooks';
import { eventLabels } from '../../src/i18n/labels.js';
import { beep, setMuted, useMuted } from './alarm-sound.js';
import { localized, t, useLanguage } from './i18n/index.js';
import { live, type RaisedEvent, useConnected, useLive } from './live.js';
import { homeOf, hrefOf, routesFor, useLocation } from './routes.js';
import { loadSession, type Me, signOut, useSession } from './session.js';
import { Button } from './ui/Button.js';
import { LanguageSwitch } from './ui/LanguageSwitch.js';
import { Time } from './ui/Time.js';
import { placeOf, usePlaces } from './views/guard/live-data.js';
import { SignInPage } from './views/sign-in.js';

export function App() {
  useLanguage();
  const state = useSession();
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    loadSession().catch(() => setFailed(true));
  }, []);

  const ready = state.status === 'signed-in' && !state.me.mustChangePassword && !state.setup;
  useEffect(() => {
    if (ready) live.start();
    else live.stop();
  }, [ready]);

  if (state.status === 'loading')
    return (
      <main id="main" class="loading">
        {failed ? (
          <div role="alert">
            <p>{t('common.error.network')}</p>
            <Button onClick={() => location.reload()}>{t('common.retry')}</Button>
          </div>
        ) : (
          <p role="status">{t('common.loading')}</p>
        )}
      </main>
    );
  if (!ready) return <SignInPage state={state} />;
  return <Shell me={state.me} />;
}

function Shell({ me }: { me: Me }) {
  const loc = useLocation();
  const mine = routesFor(me.role);
  const route = mine.find((r) => r.path === loc.path) ?? homeOf(me.role);
  const mainRef = useRef<HTMLElement>(null);
  const first = useRef(true);

  // A new view: focus its heading, so a keyboard or screen-reader user starts there.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    mainRef.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [route?.path]);
  useEffect(() => {
    document.title = route ? `${t(route.label)} · ${localized(me.site?.name) || t('common.appName')}` : t('common.appName');
  });

  const View = route?.view;
  return (
    <div class="shell">
      {/* A button, not a link: with hash routing, #main would be read as a view's path. */}
      <button type="button" class="skip-link btn btn-secondary" onClick={() => mainRef.current?.focus()}>
        {t('common.skipToContent')}
      </button>
      <header class="shell-header">
        <div class="shell-title">
          <span class="brand">{t('common.appName')}</span>
          <span class="site-name">{localized(me.site?.name)}</span>
        </div>
        <nav aria-label={t('common.mainNav')} class="shell-nav">
          <ul>
            {mine.map((r) => (
              <li key={r.path}>
                <a href={hrefOf(r.path)} aria-current={r === route ? 'page' : undefined}>
                  {t(r.label)}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="shell-tools">
          <span class="who">
            <span translate={false}>{me.displayName}</span> · {t(`common.role.${me.role}`)}
          </span>
          <MuteToggle />
          <LanguageSwitch />
          <Button variant="quiet" onClick={() => void signOut()}>
            {t('common.signOut')}
          </Button>
        </div>
      </header>
      <NotLiveBanner />
      <AlarmBanner me={me} />
      <main id="main" ref={mainRef} tabIndex={-1} class="shell-main">
        {View && <View key={route.path} />}
      </main>
    </div>
  );
}

function MuteToggle() {
  const muted = useMuted();
  return (
    <Button variant="quiet" aria-pressed={muted} onClick={() => setMuted(!muted)} class="mute-toggle">
      {t('common.alarm.mute')}
    </Button>
  );
}

/** Shown from a drop until the stream is back (after a short grace, so a reconnect is not a flash). */
function NotLiveBanner() {
  const connected = useConnected();
  const [shown, setShown] = useState(false);
  useEffect(() => {
    if (connected) return setShown(false);
    const timer = setTimeout(() => setShown(true), 1500);
    return () => clearTimeout(timer);
  }, [connected]);
  return (
    <div role="alert" class={shown ? 'banner banner-not-live' : 'visually-hidden'}>
      {shown && (
        <>
          <span aria-hidden="true">⚠ </span>
          {t('common.live.notLiveBanner')}
        </>
      )}
    </div>
  );
}

/** New alarm-severity events: a banner that stays until dismissed, and a beep unless muted. */
function AlarmBanner({ me }: { me: Me }) {
  const [alarms, setAlarms] = useState<RaisedEvent[]>([]);
  const alarmsRoute = routesFor(me.role).find((r) => r.path === 'alarms');
  // The site's names (loaded once per page, shared with the guards' views), so the place reads as
  // the alarm list says it, in the page's language, not as an id.
  const places = usePlaces();
  useLive('raised', (e) => {
    if (e.severity !== 'alarm') return;
    setAlarms((list) => [e, ...list].slice(0, 50));
    beep();
  });
  const latest = alarms[0];
  return (
    <div role="alert" class={latest ? 'banner banner-alarm' : 'visually-hidden'}>
      {latest && (
        <>
          <p class="banner-text">
            <span aria-hidden="true">■ </span>
            <strong>{t('common.alarm.banner', { what: localized(eventLabels[latest.type]) || latest.type })}</strong>
            {latest.source && (
              <>
                {' '}
                {t('common.alarm.at')} <span>{placeOf(latest, places)}</span>
              </>
            )}{' '}
            · <Time at={latest.at} style="time" />
            {alarms.length > 1 && <> · {t('common.alarm.more', { count: alarms.length })}</>}
          </p>
          <div class="banner-actions">
            {alarmsRoute && (
              <a class="btn btn-secondary" href={hrefOf(alarmsRoute.path)} onClick={() => setAlarms([])}>
                {t('common.alarm.open')}
              </a>
            )}
            <Button onClick={() => setAlarms([])}>{t('common.alarm.dismiss')}</Button>
          </div>
        </>
      )}
    </div>
  );
}
