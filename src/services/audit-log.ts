// The audit log for its readers (auditors, admins): query it and verify it.
import { createPublicKey } from 'node:crypto';
import type { AuditInput, AuditQuery } from '../store/audit-log.js';
import { loadLogKey, publicKeyPem } from '../store/log-key.js';
import type { ServiceDeps } from './index.js';
import { running } from './running.js';

export class AuditLogService {
  constructor(private readonly deps: ServiceDeps) {}

  /**
   * Records an attempt the services did not record themselves: a refusal, invalid input, a failure
   * (the API's edge; `at` is now).
   */
  recordAttempt(entry: Omit<AuditInput, 'at'>): void {
    this.deps.store.audit.append({ at: new Date().toISOString(), ...entry });
  }

  /** Newest first, paged by seq. */
  query(q: AuditQuery) {
    return this.deps.store.audit.query(q);
  }

  /** Walks the hash chain and checks the signed checkpoints with the gateway's public key. */
  verify() {
    const key = loadLogKey(running(this.deps).dataDir);
    const result = this.deps.store.verifyAuditLog(key ? createPublicKey(key) : undefined);
    return { ...result, publicKey: key ? publicKeyPem(key) : null };
  }
}
