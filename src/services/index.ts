// The application services: the one way into the rules for the API and the CLI. An operation
// checks its rules, makes its change and its audit record in one transaction, and returns a typed
// result or throws a ServiceError. Routes and CLI commands call only these; they hold no rules and
// no SQL.
import type { Controller } from '../controller/controller.js';
import type { Store } from '../store/index.js';

export type { Actor } from './actor.js';
export { assertMayApprove, localOperator } from './actor.js';
export { recordChange } from './audit.js';
export { ServiceError, type ServiceErrorKind } from './errors.js';

export interface ServiceDeps {
  store: Store;
  now: () => Date;
  /** The running controller; absent in CLI commands that work on the database alone. */
  controller?: Controller;
}

/** Every service, built once per process (the API decorates fastify with it). */
export interface Services {
  deps: ServiceDeps;
}

export function createServices(deps: ServiceDeps): Services {
  return { deps };
}
