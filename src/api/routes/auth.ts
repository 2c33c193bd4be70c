// Sign in (password + TOTP code), renew (refresh token), sign out, who am I,
// password change, TOTP enrolment.
import QRCode from 'qrcode';
import { z } from 'zod';
import { AuthError } from '../../services/auth.js';
import { CONSOLE_LANGUAGES } from '../../policy/vocabulary.js';
import { actorOf, audited, principalOf, type Api, type ApiContext } from '../context.js';
import { errorResponses } from '../schemas.js';
import { clearSessionCookie, csrfTokenFor, SESSION_COOKIE, sessionCookieOf, setSessionCookie } from '../session-cookie.js';
import { accountView, accountSchema } from './accounts.js';

const bearerLogin = z.object({
  token: z.string(),
  expiresAt: z.string(),
  refreshToken: z.string().nullable().describe('renews the session without password or code (POST /auth/refresh); none until the password is changed'),
  refreshExpiresAt: z.string().nullable().describe("the refresh token's absolute end: sign in again after it"),
  mustChangePassword: z.boolean(),
  account: accountSchema,
});
const cookieLogin = z.object({
  csrfToken: z.string().describe('send as the x-csrf-token header with every change made with the cookie'),
  expiresAt: z.string(),
  mustChangePassword: z.boolean(),
  account: accountSchema,
});

const siteSchema = z.object({
  name: z.object({ en: z.string(), ja: z.string().optional() }),
  timezone: z.string().describe('IANA time zone: the console shows times in it'),
});
const meSchema = accountSchema.extend({
  csrfToken: z.string().optional().describe("the session cookie's CSRF token (console sessions only): the x-csrf-token header of every change"),
  site: siteSchema,
});

export async function authRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { auth, accounts, security, status } = ctx.services;
  api.post(
    '/auth/login',
    {
      config: { public: true, action: 'auth.login' },
      schema: {
        tags: ['auth'],
        summary: 'Sign in with password and TOTP code (an auditor an admin exempted: password alone)',
        security: [],
        description:
          `With \`session: "cookie"\` (the console) the session is an HttpOnly, SameSite=Strict cookie \`${SESSION_COOKIE}\` (Secure under HTTPS) ` +
          'and the answer carries no token but a `csrfToken`: every change made with the cookie sends it as the `x-csrf-token` header (403 without). ' +
          'A cookie session has no refresh token: use keeps it alive, up to its absolute lifetime.',
        body: z.strictObject({
          username: z.string().min(1).max(64),
          password: z.string().min(1).max(256),
          totp: z.string().max(12).optional(),
          session: z.enum(['bearer', 'cookie']).default('bearer').describe('bearer: a token in the answer (API clients); cookie: the console'),
        }),
        response: {
          200: z.union([bearerLogin, cookieLogin]).describe('bearer: token and refresh token; cookie: the CSRF token (the session is the cookie)'),
          ...errorResponses,
          429: errorResponses[401],
        },
      },
    },
    async (req, reply) => {
      req.audited = true; // the auth service records every attempt itself
      const before = auth.accounts.byUsername(req.body.username);
      const { token, expiresAt, account } = await auth.login(req.body.username, req.body.password, req.body.totp, req.ip).catch((err: unknown) => {
        if (err instanceof AuthError && (err.status === 401 || err.status === 429)) {
          security.loginRefused(auth.accounts.byUsername(req.body.username), before?.lockedUntil ?? null, req.ip);
        }
        throw err;
      });
      if (req.body.session === 'cookie') {
        setSessionCookie(req, reply, token, expiresAt);
        return { csrfToken: csrfTokenFor(token), expiresAt, mustChangePassword: account.mustChangePassword, account: accountView(account) };
      }
      // A session that must change its password first gets no refresh token: it can do nothing else.
      const refresh = account.mustChangePassword ? null : auth.issueRefreshToken(account, token);
      return {
        token,
        expiresAt,
        refreshToken: refresh?.refreshToken ?? null,
        refreshExpiresAt: refresh?.refreshExpiresAt ?? null,
        mustChangePassword: account.mustChangePassword,
        account: accountView(account),
      };
    },
  );

  api.post(
    '/auth/refresh',
    {
      config: { public: true, action: 'auth.refresh' },
      schema: {
        tags: ['auth'],
        security: [],
        summary: 'Renew a session without password or code: a new session token and a new refresh token (each refresh token works once)',
        description:
          "The refresh token comes with the login and with each refresh. It ends with its family's absolute lifetime (7 days from the login), " +
          "at logout, and when the account's role, password, status, TOTP seed or TOTP exemption changes (not at a password lockout: " +
          'the lockout guards against password guessing). A stream open on the old session ends with reason session-renewed. ' +
          'A refresh token used a second time was copied: ' +
          'every session and token of its login end, and a security alarm is raised.',
        body: z.strictObject({ refreshToken: z.string().min(1).max(200) }),
        response: {
          200: z.object({ token: z.string(), expiresAt: z.string(), refreshToken: z.string(), refreshExpiresAt: z.string(), account: accountSchema }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      req.audited = true; // the auth service records every refresh itself
      try {
        const r = auth.refresh(req.body.refreshToken, req.ip);
        return { token: r.token, expiresAt: r.expiresAt, refreshToken: r.refreshToken, refreshExpiresAt: r.refreshExpiresAt, account: accountView(r.account) };
      } catch (err) {
        if (err instanceof AuthError && (err.details as { reused?: boolean } | undefined)?.reused) {
          security.refreshTokenReused(req.ip);
        }
        throw err;
      }
    },
  );

  api.post(
    '/auth/logout',
    {
      config: { action: 'auth.logout' },
      schema: { tags: ['auth'], summary: 'End this session (a console session: its cookie is cleared too)', response: { 204: z.null(), ...errorResponses } },
    },
    async (req, reply) => {
      audited(req, accounts.signOut(actorOf(req), principalOf(req)));
      if (sessionCookieOf(req)) clearSessionCookie(req, reply);
      return reply.code(204).send(null);
    },
  );

  api.get(
    '/auth/me',
    {
      schema: {
        tags: ['auth'],
        summary: "The signed-in account, the site's name and timezone, and (a console session) its CSRF token",
        response: { 200: meSchema, ...errorResponses },
      },
    },
    async (req) => {
      const site = status.site();
      return {
        ...accountView(principalOf(req).account),
        ...(req.cookieSession ? { csrfToken: csrfTokenFor(req.cookieSession) } : {}),
        site: { name: typeof site.name === 'string' ? { en: site.name } : site.name, timezone: site.timezone },
      };
    },
  );

  api.patch(
    '/auth/me',
    {
      config: { action: 'auth.language' },
      schema: {
        tags: ['auth'],
        summary: "Choose the console's language for your account (remembered; audited)",
        body: z.strictObject({ language: z.enum(CONSOLE_LANGUAGES) }),
        response: { 200: accountSchema, ...errorResponses },
      },
    },
    async (req) => accountView(audited(req, accounts.setLanguage(actorOf(req), principalOf(req).account, req.body.language))),
  );

  api.post(
    '/auth/password',
    {
      config: { action: 'auth.password.change' },
      schema: {
        tags: ['auth'],
        summary:
          'Change your password (policy: 12+ characters, not one repeated character, not only digits or letters, not your name, not common, not one of your last 5)',
        body: z.strictObject({ currentPassword: z.string().min(1).max(256), newPassword: z.string().min(1).max(256) }),
        response: { 204: z.null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      audited(req, await accounts.changePassword(actorOf(req), principalOf(req), req.body.currentPassword, req.body.newPassword));
      return reply.code(204).send(null);
    },
  );

  api.post(
    '/auth/totp',
    {
      config: { action: 'auth.totp.enrol' },
      schema: {
        tags: ['auth'],
        summary: 'Start a new TOTP enrolment: returns an otpauth:// URI to scan (and its QR code as SVG); confirm with a code',
        response: {
          200: z.object({ otpauthUri: z.string(), qrSvg: z.string().describe('the URI as a QR code: an <svg> element, no script or style') }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const otpauthUri = audited(req, accounts.startTotpEnrolment(actorOf(req), principalOf(req).account));
      return { otpauthUri, qrSvg: await QRCode.toString(otpauthUri, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' }) };
    },
  );

  api.post(
    '/auth/totp/confirm',
    {
      config: { action: 'auth.totp.confirm' },
      schema: {
        tags: ['auth'],
        summary: 'Confirm a TOTP enrolment with a code from the new seed',
        body: z.strictObject({ code: z.string().regex(/^\d{6}$/) }),
        response: { 204: z.null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      audited(req, await accounts.confirmTotpEnrolment(actorOf(req), principalOf(req).account, req.body.code));
      return reply.code(204).send(null);
    },
  );
}
