// t(key): the words of the page in the current language. Every dictionary is registered here by
// ONE line, under its name; a key is `<name>.<key>` (e.g. `common.signOut`, `alarms.title`), so two
// views can never collide and a key that does not exist does not compile.
import { useEffect, useState } from 'preact/hooks';
import { alarms } from './alarms.js';
import { audit } from './audit.js';
import { common } from './common.js';
import { entries } from './entries.js';
import type { Dictionary, Language } from './dictionary.js';
import { doors } from './doors.js';
import { grants } from './grants.js';
import { inside } from './inside.js';
import { ledger } from './ledger.js';
import { overview } from './overview.js';
import { patrols } from './patrols.js';
import { people } from './people.js';
import { reminders } from './reminders.js';
import { reviews } from './reviews.js';
import { signIn } from './sign-in.js';
import { verify } from './verify.js';
import { visitors } from './visitors.js';
import { zones } from './zones.js';
import { floorPlan } from './floor-plan.js';

export type { Language } from './dictionary.js';

const dictionaries = {
  common,
  signIn,
  overview,
  entries,
  audit,
  verify,
  alarms,
  doors,
  zones,
  inside,
  patrols,
  visitors,
  floorPlan,
  grants,
  people,
  reviews,
  reminders,
  ledger,
} satisfies Record<string, Dictionary<string>>;

type Dictionaries = typeof dictionaries;
type KeysOf<D> = D extends Dictionary<infer K> ? K : never;
/** Every key of every registered dictionary, as `<name>.<key>`. */
export type Key = { [N in keyof Dictionaries]: `${N}.${KeysOf<Dictionaries[N]>}` }[keyof Dictionaries];

const STORAGE_KEY = 'tobira.language';
let current: Language = initialLanguage();
const listeners = new Set<(l: Language) => void>();

function initialLanguage(): Language {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === 'en' || saved === 'ja') return saved;
  } catch {
    /* storage may be off: fall back to the browser's language */
  }
  return navigator.language.toLowerCase().startsWith('ja') ? 'ja' : 'en';
}

export function language(): Language {
  return current;
}

/** Switches the page's language (this browser remembers it until an account's choice says otherwise). */
export function setLanguage(l: Language): void {
  try {
    localStorage.setItem(STORAGE_KEY, l);
  } catch {
    /* not remembered on this browser: the account still remembers it */
  }
  document.documentElement.lang = l;
  if (l === current) return;
  current = l;
  for (const fn of listeners) fn(l);
}

/** The current language; the component renders again when it changes. */
export function useLanguage(): Language {
  const [l, set] = useState(current);
  useEffect(() => {
    listeners.add(set);
    set(current);
    return () => void listeners.delete(set);
  }, []);
  return l;
}

/** The words for a key in the current language, with `{name}` filled from `values`. */
export function t(key: Key, values?: Record<string, string | number>): string {
  const dot = key.indexOf('.');
  const dict = dictionaries[key.slice(0, dot) as keyof Dictionaries] as Dictionary<string>;
  const text = dict[current][key.slice(dot + 1)] ?? key;
  return values ? text.replace(/\{(\w+)\}/g, (m, name: string) => (name in values ? String(values[name]) : m)) : text;
}

/** A label of the site file or the vocabulary ({en, ja?}) in the current language. */
export function localized(label: { en: string; ja?: string } | undefined | null): string {
  if (!label) return '';
  return (current === 'ja' && label.ja) || label.en;
}
