// Keys not back in time: once a minute (and at start) each loan past its due-back time raises
// `key-loan-overdue` once; the reminder itself is listed by the keys service while the loan stays out.
import type { Context, Extension } from './context.js';

const SWEEP_MS = 60_000;

export class KeyLoans implements Extension {
  readonly name = 'key-loans';
  private timer?: NodeJS.Timeout;

  constructor(private readonly ctx: Context) {}

  start(): void {
    this.sweep();
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Raises the overdue event for each loan newly past its due-back time. */
  sweep(): void {
    const { store, alarms } = this.ctx;
    const at = this.ctx.now().toISOString();
    try {
      for (const loan of store.keys.overdue(at)) {
        // Marked first, so a loan is reported once even if raising the event fails to store.
        if (!store.keys.markOverdue(loan.id, at)) continue;
        alarms.raise({
          category: 'alarm',
          type: 'key-loan-overdue',
          severity: 'warning',
          source: loan.keyId,
          detail: { loan: loan.id, personId: loan.personId, dueBackAt: loan.dueBackAt, lentAt: loan.lentAt, ...(loan.reason ? { reason: loan.reason } : {}) },
        });
      }
    } catch (err) {
      this.ctx.storageFaults.report(err, { source: 'keys', during: 'overdue key loans' });
    }
  }
}
