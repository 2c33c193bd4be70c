// The one error an application service raises when its rules refuse an operation. The API answers
// it with the status its kind names; the CLI prints it and exits 1 (2 for invalid input).

/** Why an operation was refused: the kinds map one-to-one to HTTP statuses at the API's edge. */
export type ServiceErrorKind =
  /** 400: the request itself is wrong (details name the fields). */
  | 'invalid'
  /** 403: the rules forbid this actor this operation (four-eyes, own request, role). */
  | 'forbidden'
  /** 404: the thing named does not exist. */
  | 'not-found'
  /** 409: the thing is not in a state that allows it (already approved, revoked, locked down). */
  | 'conflict'
  /** 503: the controller cannot do it now (no link to the lock, storage unwritable). */
  | 'unavailable';

export class ServiceError extends Error {
  constructor(
    readonly kind: ServiceErrorKind,
    message: string,
    readonly details?: { path: string; message: string }[],
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

export const notFound = (what: string): ServiceError => new ServiceError('not-found', `${what} not found`);
