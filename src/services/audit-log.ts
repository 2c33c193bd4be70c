// The audit log for its readers (auditors, admins): query it and verify it.
import { createPublicKey } from 'node:crypto';
import type { AuditInput, AuditPage, AuditQuery } from '../store/audit-log.js';
import { ReadUnavailableError } from '../store/query-pool.js';
import { ServiceError } from './errors.js';
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

  /** Newest first, paged by seq; read on a query worker's connection, off the controller's thread. */
  async query(q: AuditQuery): Promise<AuditPage> {
    const { audit, reads } = this.deps.store;
    try {
      return await audit.queryOn(reads, q);
    } catch (err) {
      if (err instanceof ReadUnavailableError) throw new ServiceError('unavailable', `the audit log cannot be read now (${err.message}); try again`);
      throw err;
    }
  }

  /** Walks the hash chain and checks the signed checkpoints with the gateway's public key. */
  verify() {
    const key = loadLogKey(running(this.deps).dataDir);
    const result = this.deps.store.verifyAuditLog(key ? createPublicKey(key) : undefined);
    return { ...result, publicKey: key ? publicKeyPem(key) : null };
  }
}
