// A view's words in English and Japanese. Typed so that the Japanese half has exactly the English
// half's keys: a missing or extra key does not compile.
export type Language = 'en' | 'ja';
export const LANGUAGES: readonly Language[] = ['en', 'ja'];

export interface Dictionary<K extends string> {
  readonly en: Readonly<Record<K, string>>;
  readonly ja: Readonly<Record<K, string>>;
}

/** Declares a dictionary; `{name}` in a text is filled from t()'s values. */
export function dictionary<K extends string>(d: { en: Record<K, string>; ja: Record<NoInfer<K>, string> }): Dictionary<K> {
  return d;
}
