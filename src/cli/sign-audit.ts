// A CLI command that changed the database signs the audit log's head before it exits, as the running
// controller does on its schedule: otherwise records written while the controller is stopped would
// sit after the last checkpoint past its promise, and `tobira log verify --audit` would rightly
// treat them as a tail that could have been cut (or forged) by anyone with the file.
import type { Store } from '../store/index.js';
import { loadOrCreateLogKey } from '../store/log-key.js';

/** Signs an audit-log checkpoint if records were added since the latest one. Returns whether it signed. */
export function signAuditHead(store: Store, dataDir: string, now = new Date()): boolean {
  const latest = store.auditCheckpoints.latest();
  if (store.audit.count === (latest?.count ?? 0)) return false;
  // The data directory's key: the controller creates the same one at its first start.
  store.audit.checkpoint(loadOrCreateLogKey(dataDir), 'periodic', now.toISOString());
  return true;
}
