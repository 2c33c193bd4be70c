// Sign in (password + TOTP code), renew (refresh token), sign out, who am I,
// password change, TOTP enrolment.
import { z } from 'zod';
import { AuthError } from '../../services/auth.js';
import { actorOf, audited, principalOf, type Api, type ApiContext } from '../context.js';
import { errorResponses } from '../schemas.js';
import { accountView, accountSchema } from './accounts.js';

export async function authRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { auth, accounts, security } = ctx.services;
  api.post(
    '/auth/login',
    {
      config: { public: true, action: 'auth.login' },
      schema: {
        tags: ['auth'],
        summary: 'Sign in with password and TOTP code (an auditor an admin exempted: password alone)',
        security: [],
        body: z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(256), totp: z.string().max(12).optional() }),
        response: {
          200: z.object({
            token: z.string(),
            expiresAt: z.string(),
            refreshToken: z
              .string()
              .nullable()
              .describe('renews the session without password or code (POST /auth/refresh); none until the password is changed'),
            refreshExpiresAt: z.string().nullable().describe("the refresh token's absolute end: sign in again after it"),
            mustChangePassword: z.boolean(),
            account: accountSchema,
          }),
          ...errorResponses,
          429: errorResponses[401],
        },
      },
    },
    async (req) => {
      req.audited = true; // the auth service records every attempt itself
      const before = auth.accounts.byUsername(req.body.username);
      const { token, expiresAt, account } = await auth.login(req.body.username, req.body.password, req.body.totp, req.ip).catch((err: unknown) => {
        if (err instanceof AuthError && (err.status === 401 || err.status === 429)) {
          security.loginRefused(auth.accounts.byUsername(req.body.username), before?.lockedUntil ?? null, req.ip);
        }
        throw err;
      });
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
      schema: { tags: ['auth'], summary: 'End this session', response: { 204: z.null(), ...errorResponses } },
    },
    async (req, reply) => {
      audited(req, accounts.signOut(actorOf(req), principalOf(req)));
      return reply.code(204).send(null);
    },
  );

  api.get(
    '/auth/me',
    {
      schema: { tags: ['auth'], summary: 'The signed-in account', response: { 200: accountSchema, ...errorResponses } },
    },
    async (req) => accountView(principalOf(req).account),
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
        summary: 'Start a new TOTP enrolment: returns an otpauth:// URI to scan; confirm with a code',
        response: { 200: z.object({ otpauthUri: z.string() }), ...errorResponses },
      },
    },
    async (req) => {
      return { otpauthUri: audited(req, accounts.startTotpEnrolment(actorOf(req), principalOf(req).account)) };
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
