// A state in words with a colour and a symbol: colour is never the only signal.
import type { ComponentChildren } from 'preact';

export type Tone = 'ok' | 'info' | 'warning' | 'alarm' | 'muted';

const SYMBOL: Record<Tone, string> = { ok: '●', info: 'ℹ', warning: '▲', alarm: '■', muted: '○' };

export function Badge({ tone, children }: { tone: Tone; children: ComponentChildren }) {
  return (
    <span class={`badge badge-${tone}`}>
      <span class="badge-symbol" aria-hidden="true">
        {SYMBOL[tone]}
      </span>
      {children}
    </span>
  );
}
