// The alarm's sound: a short two-tone beep made with WebAudio (no file to fetch), which the guard
// can mute; the choice is remembered on this browser. A browser only lets a page make sound after
// the user touched it, so the audio context is made at the first click or key press.
import { useEffect, useState } from 'preact/hooks';

const STORAGE_KEY = 'tobira.alarmMuted';
let context: AudioContext | undefined;
let muted = readMuted();
const listeners = new Set<(m: boolean) => void>();

function readMuted(): boolean {
  try {
    return localStorage.getItem(STORAGE_KEY) === '1';
  } catch {
    return false;
  }
}

function unlock(): void {
  try {
    context ??= new AudioContext();
    if (context.state === 'suspended') void context.resume();
  } catch {
    /* no audio on this device: the banner still shows */
  }
}
window.addEventListener('pointerdown', unlock, { passive: true });
window.addEventListener('keydown', unlock);

export function isMuted(): boolean {
  return muted;
}

export function setMuted(m: boolean): void {
  muted = m;
  try {
    localStorage.setItem(STORAGE_KEY, m ? '1' : '0');
  } catch {
    /* remembered for this page only */
  }
  for (const fn of listeners) fn(m);
}

export function useMuted(): boolean {
  const [m, set] = useState(muted);
  useEffect(() => {
    listeners.add(set);
    return () => void listeners.delete(set);
  }, []);
  return m;
}

/** Three short beeps, high-low-high, unless muted. */
export function beep(): void {
  if (muted || !context || context.state !== 'running') return;
  const start = context.currentTime;
  [880, 660, 880].forEach((frequency, i) => {
    const osc = context!.createOscillator();
    const gain = context!.createGain();
    osc.type = 'square';
    osc.frequency.value = frequency;
    const t0 = start + i * 0.25;
    gain.gain.setValueAtTime(0.0001, t0);
    gain.gain.exponentialRampToValueAtTime(0.2, t0 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.2);
    osc.connect(gain).connect(context!.destination);
    osc.start(t0);
    osc.stop(t0 + 0.22);
  });
}
