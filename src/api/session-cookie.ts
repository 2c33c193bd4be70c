// The console's session: the same session as a bearer token, carried in an HttpOnly cookie, so no
// script of the page can read it. A cookie goes with every request the browser makes, including
// ones another site makes it send; so every change made with the cookie carries an x-csrf-token
// header too, which only the page that signed in (or asked GET /auth/me) knows.
//
// The CSRF token is an HMAC of a fixed text keyed by the session token: bound to that session
// (ends with it, another session's token does not fit), stateless (nothing stored, and it survives a
// restart of the daemon as the session does), and it tells nothing about the session token itself.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'tobira_session';
export const CSRF_HEADER = 'x-csrf-token';

export function csrfTokenFor(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('tobira console csrf v1').digest('base64url');
}

/** Whether the request's x-csrf-token header is the one of this session. */
export function csrfMatches(req: FastifyRequest, sessionToken: string): boolean {
  const given = req.headers[CSRF_HEADER];
  if (typeof given !== 'string' || given.length > 100) return false;
  const expected = Buffer.from(csrfTokenFor(sessionToken));
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** The session token the cookie carries, if any. */
export function sessionCookieOf(req: FastifyRequest): string | undefined {
  const value = req.cookies?.[SESSION_COOKIE];
  return value && value.length <= 200 ? value : undefined;
}

const cookieOptions = (req: FastifyRequest) =>
  ({
    path: '/',
    httpOnly: true,
    sameSite: 'strict',
    // Under HTTPS the browser must never send it in clear; on loopback HTTP it could not be Secure.
    secure: req.protocol === 'https',
  }) as const;

export function setSessionCookie(req: FastifyRequest, reply: FastifyReply, token: string, expiresAt: string): void {
  reply.setCookie(SESSION_COOKIE, token, { ...cookieOptions(req), expires: new Date(expiresAt) });
}

export function clearSessionCookie(req: FastifyRequest, reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, cookieOptions(req));
}
