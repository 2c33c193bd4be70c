// English / 日本語: each language named in itself, so a reader of either finds it. Signed in, the
// choice is remembered for the account.
import { useState } from 'preact/hooks';
import { type Language, t, useLanguage } from '../i18n/index.js';
import { chooseLanguage } from '../session.js';

const NAMES: Record<Language, string> = { en: 'English', ja: '日本語' };

export function LanguageSwitch() {
  const current = useLanguage();
  const [busy, setBusy] = useState(false);
  return (
    // biome-ignore lint/a11y/useSemanticElements: a group of toggle buttons, not a form's fieldset
    <div class="language-switch" role="group" aria-label={t('common.language')}>
      {(Object.keys(NAMES) as Language[]).map((l) => (
        <button
          key={l}
          type="button"
          lang={l}
          class="btn btn-quiet"
          aria-pressed={current === l}
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            try {
              await chooseLanguage(l);
            } catch {
              /* shown in this language here; the account keeps its previous choice */
            } finally {
              setBusy(false);
            }
          }}
        >
          {NAMES[l]}
        </button>
      ))}
    </div>
  );
}
