// The one way the page talks to the controller: same-origin fetch with the session cookie, the CSRF
// token on every change, and problem+json errors turned into ApiProblem (with words for people).
import { type Key, t } from './i18n/index.js';

export const API = '/api/v1';

export interface ProblemDetail {
  path?: string;
  message?: string;
  problem?: string;
}

/** A refused or failed call: the HTTP status (0: no answer at all) and the server's detail. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly details: ProblemDetail[] = [],
  ) {
    super(detail);
    this.name = 'ApiProblem';
  }

  /** The server's detail for one field (400 answers list the failing fields). */
  field(path: string): string | undefined {
    const found = this.details.filter((d) => d.path === path).map((d) => d.message ?? d.problem ?? '');
    return found.length ? found.join('; ') : undefined;
  }

  /** Words for people, in the page's language. */
  words(): string {
    const byStatus: Record<number, Key> = {
      0: 'common.error.network',
      403: 'common.error.forbidden',
      404: 'common.error.notFound',
      409: 'common.error.conflict',
      429: 'common.error.tooMany',
      503: 'common.error.unavailable',
    };
    const key = byStatus[this.status];
    if (key) return t(key);
    if (this.status === 400)
      return t('common.error.invalid', {
        detail:
          this.details
            .map((d) => d.message)
            .filter(Boolean)
            .join('; ') || this.detail,
      });
    return t('common.error.server', { detail: this.detail || String(this.status) });
  }
}

let csrfToken: string | undefined;
let onUnauthenticated: (() => void) | undefined;

export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Called when a call finds the session gone (401): the page goes back to sign-in. */
export function whenUnauthenticated(fn: () => void): void {
  onUnauthenticated = fn;
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** A 401 is the caller's answer (sign-in itself), not a session that ended. */
  expect401?: boolean;
}

export async function request<T>(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(`${API}${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiProblem(0, 'no answer from the controller');
  }
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('content-type') ?? '';
  const data: unknown = type.includes('json') ? await res.json().catch(() => null) : await res.text();
  if (res.ok) return data as T;
  const p = (data && typeof data === 'object' ? data : {}) as { detail?: string; error?: string; details?: ProblemDetail[] };
  const problem = new ApiProblem(res.status, p.detail ?? p.error ?? res.statusText, Array.isArray(p.details) ? p.details : []);
  if (res.status === 401 && !opts.expect401) onUnauthenticated?.();
  throw problem;
}

export const get = <T>(path: string, opts?: RequestOptions) => request<T>('GET', path, undefined, opts);
export const post = <T>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('POST', path, body ?? {}, opts);
export const patch = <T>(path: string, body: unknown, opts?: RequestOptions) => request<T>('PATCH', path, body, opts);
