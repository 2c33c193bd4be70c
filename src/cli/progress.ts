// Progress of long work (log verify, log export, people import, backup, restore): one line on
// stderr, redrawn in place, saying what is done, the rate and the time left. Only when stderr is a
// terminal: a script, a pipe or a journal gets the command's result lines alone, never a stream of
// carriage returns.

/** Where the line goes: anything with `write`; drawn only when `isTTY` is true. */
export interface ProgressStream {
  isTTY?: boolean;
  write(chunk: string): unknown;
}

export interface ProgressOptions {
  /** How many in all, when known: then a percentage and the time left are shown. */
  total?: number;
  /** The word after the counts ("records", "rows"); "bytes" shows kB, MB and GB. Default "records". */
  unit?: string;
  /** Default process.stderr. */
  stream?: ProgressStream;
  /** Milliseconds since some fixed point (default Date.now): the rate's clock. Tests give their own. */
  now?: () => number;
  /** The line is redrawn at most this often (default 200 ms); the last update of a phase always draws. */
  everyMs?: number;
}

/**
 * Counts one piece of long work, or several in turn (`phase`). Cheap to call on every record:
 * nothing is written between redraws, and nothing at all without a terminal.
 *
 *   const p = progress('verifying', { total: n });
 *   for (...) p.add();           // or p.update(doneSoFar)
 *   p.end();                      // the final line, then a newline
 */
export class Progress {
  /** Whether anything is drawn (stderr is a terminal). */
  readonly enabled: boolean;
  private label: string;
  private total?: number;
  private unit: string;
  private count = 0;
  private started: number;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private drawn = false;
  /** What the line on screen shows (done), to skip redrawing the same state at the end. */
  private shown = -1;
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly everyMs: number;

  constructor(label: string, opts: ProgressOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.enabled = this.stream.isTTY === true;
    this.now = opts.now ?? Date.now;
    this.everyMs = opts.everyMs ?? 200;
    this.label = label;
    this.total = opts.total;
    this.unit = opts.unit ?? 'records';
    this.started = this.now();
  }

  /** Done so far. */
  get done(): number {
    return this.count;
  }

  /** Sets what is done so far (and the total, when it becomes known). */
  update(done: number, total?: number): void {
    this.count = done;
    if (total !== undefined) this.total = total;
    if (!this.enabled) return;
    const now = this.now();
    const finished = this.total !== undefined && done >= this.total;
    if (!finished && now - this.lastDraw < this.everyMs) return;
    this.draw(now);
  }

  /** Adds `n` (default 1) to what is done. */
  add(n = 1): void {
    this.update(this.count + n);
  }

  /** Ends the current line and starts counting the next piece of work (its own rate and total). */
  phase(label: string, opts: { total?: number; unit?: string } = {}): void {
    this.finishLine();
    this.label = label;
    this.total = opts.total;
    if (opts.unit) this.unit = opts.unit;
    this.count = 0;
    this.shown = -1;
    this.started = this.now();
    this.lastDraw = Number.NEGATIVE_INFINITY;
  }

  /** Draws the final state and ends the line; call it on failure too (before the error is printed). */
  end(): void {
    if (this.enabled && this.drawn && this.shown !== this.count) this.draw(this.now());
    this.finishLine();
  }

  private finishLine(): void {
    if (this.enabled && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }

  private draw(now: number): void {
    this.lastDraw = now;
    const secs = (now - this.started) / 1000;
    const rate = secs > 0 ? this.count / secs : Number.NaN;
    const rateText = Number.isFinite(rate) ? `${this.amount(rate)}/s` : '…/s';
    let text: string;
    if (this.total !== undefined && this.total > 0) {
      const pct = Math.min(100, Math.floor((100 * this.count) / this.total));
      const left = this.count >= this.total ? 0 : rate > 0 ? (this.total - this.count) / rate : Number.NaN;
      text = `${this.label}: ${pct}% (${this.amount(this.count)} of ${this.amount(this.total)}${this.unitWord()}, ${rateText}, ${
        this.count >= this.total ? `took ${duration(secs)}` : `${duration(left)} left`
      })`;
    } else {
      text = `${this.label}: ${this.amount(this.count)}${this.unitWord()} (${rateText}, ${duration(secs)})`;
    }
    // \r back to the line's start, \x1b[K erases what a longer previous line left.
    this.stream.write(`\r${text}\x1b[K`);
    this.drawn = true;
    this.shown = this.count;
  }

  private unitWord(): string {
    return this.unit === 'bytes' ? '' : ` ${this.unit}`;
  }

  private amount(n: number): string {
    if (this.unit === 'bytes') return bytes(n);
    return Math.round(n).toLocaleString('en');
  }
}

/** A progress line on stderr (shown only when stderr is a terminal). */
export function progress(label: string, opts: ProgressOptions = {}): Progress {
  return new Progress(label, opts);
}

function bytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

/** 42s, 3m05s, 1h02m; "--" while unknown. */
export function duration(secs: number): string {
  if (!Number.isFinite(secs) || secs < 0) return '--';
  const s = Math.round(secs);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
