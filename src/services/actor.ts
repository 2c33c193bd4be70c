// Who does an operation: an account signed in to the API, or the operator at the gateway's shell.
import { userInfo } from 'node:os';
import type { AccountRole } from '../policy/vocabulary.js';
import { ServiceError } from './errors.js';

export interface Actor {
  /** The account's username; for the local operator `local:<os user>`. */
  username: string;
  role: AccountRole | 'local-operator';
  /** The client's address (API), or `local` at the shell. */
  address: string;
  /** Signed in without a second factor (an auditor an admin exempted): may only read, never approve. */
  readOnly?: boolean;
}

/**
 * The operator at the gateway's shell (the CLI). Whoever can run the CLI can read the database
 * file, so the CLI acts with an administrator's reach, but its audit records name it as what it is.
 */
export function localOperator(): Actor {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (a container's arbitrary uid): still named as the local operator.
  }
  return { username: `local:${user}`, role: 'local-operator', address: 'local' };
}

/** Approving (four-eyes grants, visits) opens doors to others: never without a second factor. */
export function assertMayApprove(actor: Actor): void {
  if (actor.readOnly) throw new ServiceError('forbidden', 'an auditor without a second factor may only read');
}
