// A form control with its own <label for>: the label's words alone name the control (a <select>
// inside a <label> would take its options' text into its name).
import type { ComponentChildren } from 'preact';
import { useId } from 'preact/hooks';

export function Control({ label, wide, children }: { label: string; wide?: boolean; children: (id: string) => ComponentChildren }) {
  const id = useId();
  return (
    <div class={wide ? 'mgr-control mgr-wide' : 'mgr-control'}>
      <label for={id}>{label}</label>
      {children(id)}
    </div>
  );
}
