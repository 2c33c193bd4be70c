// The audit record of a change an actor made: written by the service, inside the change's own
// transaction, so both commit or neither does.
import type { Store } from '../store/index.js';
import type { Actor } from './actor.js';

export function recordChange(
  store: Pick<Store, 'audit'>,
  actor: Actor,
  action: string,
  target: string | null,
  detail: Record<string, unknown> | null = null,
): void {
  store.audit.append({
    // Wall-clock time, as the API's records always had (the controller's clock drives sessions).
    at: new Date().toISOString(),
    actor: actor.username,
    role: actor.role,
    action,
    target,
    outcome: 'ok',
    address: actor.address,
    detail,
  });
}
