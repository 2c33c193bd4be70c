// A real <button> (never a clickable div), at least 44 px high for a tablet on patrol.
import type { ComponentChildren, JSX } from 'preact';

export interface ButtonProps extends Omit<JSX.ButtonHTMLAttributes<HTMLButtonElement>, 'type' | 'class'> {
  variant?: 'primary' | 'secondary' | 'danger' | 'quiet';
  type?: 'button' | 'submit';
  /** Shows that the action is under way and keeps it from running twice. */
  busy?: boolean;
  class?: string;
  children: ComponentChildren;
}

export function Button({ variant = 'secondary', type = 'button', busy = false, disabled, class: extra, children, ...rest }: ButtonProps) {
  return (
    <button type={type} class={`btn btn-${variant}${extra ? ` ${extra}` : ''}`} disabled={disabled || busy} aria-busy={busy || undefined} {...rest}>
      {children}
    </button>
  );
}
