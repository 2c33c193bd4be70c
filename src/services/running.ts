// The running controller a site operation needs: the CLI's services work on the database alone.
import type { Controller } from '../controller/controller.js';
import { ServiceError } from './errors.js';
import type { ServiceDeps } from './index.js';
import type { Actor } from './actor.js';

export function running(deps: ServiceDeps): Controller {
  if (!deps.controller) throw new ServiceError('unavailable', 'the controller is not running in this process');
  return deps.controller;
}

/** How an actor is named where the controller records who did something (the entry log's `by`). */
export function byOf(actor: Actor): string {
  return actor.role === 'local-operator' ? actor.username : `api:${actor.username}`;
}
