// Who is signed in: the account, its role and language, the site, and the CSRF token of the cookie
// session. The page renders from `useSession()`; a 401 anywhere brings back the sign-in page.
import { useEffect, useState } from 'preact/hooks';
import type { AccountRole } from '../../src/policy/vocabulary.js';
import { ApiProblem, get, patch, post, setCsrfToken, whenUnauthenticated } from './api.js';
import { type Language, language, setLanguage } from './i18n/index.js';

export type Role = AccountRole;

export interface Account {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  language?: Language | null;
  mustChangePassword: boolean;
  totpEnrolled: boolean;
  totpExempt: boolean;
}

export interface Site {
  name: { en: string; ja?: string };
  timezone: string;
}

export interface Me extends Account {
  csrfToken?: string;
  site?: Site;
}

/**
 * `setup: 'totp'`: signed in, but the first sign-in's authenticator set-up comes before the console
 * (after the forced password change).
 */
export type SessionState = { status: 'loading' } | { status: 'signed-out' } | { status: 'signed-in'; me: Me; setup?: 'totp' };

let state: SessionState = { status: 'loading' };
const listeners = new Set<(s: SessionState) => void>();

function set(next: SessionState): void {
  state = next;
  for (const fn of listeners) fn(next);
}

export function session(): SessionState {
  return state;
}

export function useSession(): SessionState {
  const [s, setS] = useState(state);
  useEffect(() => {
    listeners.add(setS);
    setS(state);
    return () => void listeners.delete(setS);
  }, []);
  return s;
}

/** The signed-in account, for views (which only render when there is one). */
export function me(): Me {
  if (state.status !== 'signed-in') throw new Error('not signed in');
  return state.me;
}

/** The site's timezone (times are shown in it, wherever the browser is). */
export function siteTimezone(): string {
  return (state.status === 'signed-in' && state.me.site?.timezone) || Intl.DateTimeFormat().resolvedOptions().timeZone;
}

function adopt(m: Me): Me {
  if (m.csrfToken) setCsrfToken(m.csrfToken);
  // The account's choice wins over this browser's; an account without one keeps the page's.
  if (m.language && m.language !== language()) setLanguage(m.language);
  set({ status: 'signed-in', me: m, ...(state.status === 'signed-in' && state.setup ? { setup: state.setup } : {}) });
  return m;
}

/** The first sign-in goes on to the authenticator set-up (or is done with it). */
export function setSetup(setup: 'totp' | undefined): void {
  if (state.status !== 'signed-in') return;
  set({ status: 'signed-in', me: state.me, ...(setup ? { setup } : {}) });
}

whenUnauthenticated(() => {
  setCsrfToken(undefined);
  if (state.status !== 'signed-out') set({ status: 'signed-out' });
});

/** Asks the controller who this browser is signed in as. */
export async function loadSession(): Promise<SessionState> {
  try {
    adopt(await get<Me>('/auth/me', { expect401: true }));
  } catch (err) {
    if (err instanceof ApiProblem && err.status === 401) set({ status: 'signed-out' });
    else throw err;
  }
  return state;
}

export interface SignInResult {
  csrfToken: string;
  expiresAt: string;
  mustChangePassword: boolean;
  account: Account;
}

/** Password and code; the cookie session comes back. Throws ApiProblem (401: wrong username, password or code). */
export async function signIn(username: string, password: string, totp: string | undefined): Promise<Me> {
  const r = await post<SignInResult>('/auth/login', { username, password, ...(totp ? { totp } : {}), session: 'cookie' }, { expect401: true });
  setCsrfToken(r.csrfToken);
  const m = await get<Me>('/auth/me');
  return adopt({ ...m, csrfToken: m.csrfToken ?? r.csrfToken });
}

/** Refreshes the account (after a password change or an enrolment). */
export async function reloadMe(): Promise<Me> {
  return adopt(await get<Me>('/auth/me'));
}

export async function signOut(): Promise<void> {
  try {
    await post('/auth/logout');
  } catch {
    /* signed out here whatever the controller answered */
  }
  setCsrfToken(undefined);
  set({ status: 'signed-out' });
}

/** Switches the language and remembers it for the account (PATCH /auth/me). */
export async function chooseLanguage(l: Language): Promise<void> {
  setLanguage(l);
  if (state.status !== 'signed-in' || state.me.mustChangePassword) return;
  const updated = await patch<Account>('/auth/me', { language: l });
  if (state.status === 'signed-in') set({ ...state, me: { ...state.me, ...updated, language: l } });
}
