// Sign in (password + TOTP for admins and managers), sign out, who am I, password change, TOTP enrolment.
import { z } from 'zod';
import { rolesNeedingTotp } from '../auth.js';
import { audit, principalOf, type Api, type ApiContext } from '../context.js';
import { errorResponses } from '../schemas.js';
import { accountView, accountSchema } from './accounts.js';

export async function authRoutes(api: Api, ctx: ApiContext): Promise<void> {
  api.post('/auth/login', {
    config: { public: true, action: 'auth.login' },
    schema: {
      tags: ['auth'], summary: 'Sign in; admins and managers also give a TOTP code', security: [],
      body: z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(256), totp: z.string().max(12).optional() }),
      response: { 200: z.object({ token: z.string(), expiresAt: z.string(), mustChangePassword: z.boolean(), account: accountSchema }), ...errorResponses, 429: errorResponses[401] },
    },
  }, async (req) => {
    req.audited = true; // the auth service records every attempt itself
    const { token, expiresAt, account } = await ctx.auth.login(req.body.username, req.body.password, req.body.totp, req.ip);
    return { token, expiresAt, mustChangePassword: account.mustChangePassword, account: accountView(account) };
  });

  api.post('/auth/logout', {
    config: { action: 'auth.logout' },
    schema: { tags: ['auth'], summary: 'End this session', response: { 204: z.null(), ...errorResponses } },
  }, async (req, reply) => {
    const p = principalOf(req);
    ctx.store.db.transaction(() => {
      ctx.auth.logout(p);
      audit(ctx, req, `account:${p.account.id}`);
    })();
    return reply.code(204).send(null);
  });

  api.get('/auth/me', {
    schema: { tags: ['auth'], summary: 'The signed-in account', response: { 200: accountSchema, ...errorResponses } },
  }, async (req) => accountView(principalOf(req).account));

  api.post('/auth/password', {
    config: { action: 'auth.password.change' },
    schema: {
      tags: ['auth'], summary: 'Change your password (policy: 12+ characters, not one repeated character, not only digits or letters, not your name, not common, not one of your last 5)',
      body: z.strictObject({ currentPassword: z.string().min(1).max(256), newPassword: z.string().min(1).max(256) }),
      response: { 204: z.null(), ...errorResponses },
    },
  }, async (req, reply) => {
    const p = principalOf(req);
    await ctx.auth.changePassword(p, req.body.currentPassword, req.body.newPassword);
    audit(ctx, req, `account:${p.account.id}`);
    return reply.code(204).send(null);
  });

  api.post('/auth/totp', {
    config: { action: 'auth.totp.enrol' },
    schema: {
      tags: ['auth'], summary: 'Start a new TOTP enrolment: returns an otpauth:// URI to scan; confirm with a code',
      response: { 200: z.object({ otpauthUri: z.string() }), ...errorResponses },
    },
  }, async (req) => {
    const p = principalOf(req);
    const otpauthUri = ctx.auth.startTotpEnrolment(p.account);
    audit(ctx, req, `account:${p.account.id}`);
    return { otpauthUri };
  });

  api.post('/auth/totp/confirm', {
    config: { action: 'auth.totp.confirm' },
    schema: {
      tags: ['auth'], summary: 'Confirm a TOTP enrolment with a code from the new seed',
      body: z.strictObject({ code: z.string().regex(/^\d{6}$/) }),
      response: { 204: z.null(), ...errorResponses },
    },
  }, async (req, reply) => {
    const p = principalOf(req);
    await ctx.auth.confirmTotpEnrolment(p.account, req.body.code);
    audit(ctx, req, `account:${p.account.id}`, { required: rolesNeedingTotp.has(p.account.role) });
    return reply.code(204).send(null);
  });
}
