// Reminders of every kind in one list: each kind is a source registered here (dial-code rotations;
// key loans overdue, …), asked at the moment of the request. Soonest (most overdue) first.
import type { Names } from './doors.js';

export interface Reminder {
  /** The source's kind: `dial-rotation`, `key-loan`, … */
  kind: string;
  /** What it is about, as `<resource>:<id>` (`dial-lock:doc-safe`, `key:k-12`). */
  subject: string;
  name?: Names;
  dueAt: string;
  overdue: boolean;
  reasons: string[];
  detail?: Record<string, unknown>;
}

/** A source: every reminder due soon or overdue at `now`. */
export type ReminderSource = (now: Date) => Reminder[];

export class ReminderService {
  private readonly sources = new Map<string, ReminderSource>();

  constructor(private readonly now: () => Date) {}

  /** Adds a kind of reminder; one source per kind. */
  register(kind: string, source: ReminderSource): void {
    if (this.sources.has(kind)) throw new Error(`a reminder source "${kind}" is registered already`);
    this.sources.set(kind, source);
  }

  kinds(): string[] {
    return [...this.sources.keys()];
  }

  list(now = this.now()): Reminder[] {
    return [...this.sources.values()].flatMap((source) => source(now)).sort((a, b) => a.dueAt.localeCompare(b.dueAt) || a.subject.localeCompare(b.subject));
  }
}
