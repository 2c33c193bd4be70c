// Accounts: only an admin creates them, changes roles, resets passwords and TOTP seeds, exempts a
// reading auditor from the second factor, and disables them.
import { z } from 'zod';
import { roles, type Account } from '../../store/accounts.js';
import { oneTimePassword } from '../auth.js';
import { ApiError, audit, notFound, principalOf, type Api, type ApiContext } from '../context.js';
import { errorResponses, idParam, page, pageQuery } from '../schemas.js';

export const accountSchema = z.object({
  id: z.string(),
  username: z.string(),
  displayName: z.string(),
  role: z.enum(roles),
  status: z.enum(['active', 'disabled']),
  mustChangePassword: z.boolean(),
  totpEnrolled: z.boolean(),
  totpExempt: z.boolean().describe('an auditor an admin let sign in without a code: may only read'),
  lockedUntil: z.string().nullable(),
  createdAt: z.string(),
  createdBy: z.string(),
});

export function accountView(a: Account): z.infer<typeof accountSchema> {
  return {
    id: a.id, username: a.username, displayName: a.displayName, role: a.role, status: a.status, mustChangePassword: a.mustChangePassword,
    totpEnrolled: a.totpSecret !== null, totpExempt: a.totpExempt, lockedUntil: a.lockedUntil, createdAt: a.createdAt, createdBy: a.createdBy,
  };
}

const username = z.string().regex(/^[a-z0-9][a-z0-9._-]{2,63}$/, 'lower-case letters, digits, ".", "_" or "-", 3 to 64 characters');

export async function accountRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const admin = ['admin'] as const;

  api.get('/accounts', {
    config: { roles: admin },
    schema: {
      tags: ['accounts'], summary: 'List accounts', querystring: pageQuery.extend({ role: z.enum(roles).optional(), status: z.enum(['active', 'disabled']).optional() }),
      response: { 200: page(accountSchema), ...errorResponses },
    },
  }, async (req) => {
    const all = ctx.auth.accounts.list().filter((a) => (!req.query.role || a.role === req.query.role) && (!req.query.status || a.status === req.query.status));
    return { items: all.slice(req.query.offset, req.query.offset + req.query.limit).map(accountView), total: all.length, limit: req.query.limit, offset: req.query.offset };
  });

  api.post('/accounts', {
    config: { roles: admin, action: 'account.create' },
    schema: {
      tags: ['accounts'], summary: 'Create an account: returns a one-time password and the TOTP enrolment URI (every role signs in with a code)',
      body: z.strictObject({ username, displayName: z.string().min(1).max(200), role: z.enum(roles) }),
      response: { 201: z.object({ account: accountSchema, oneTimePassword: z.string(), totpUri: z.string().nullable() }), ...errorResponses },
    },
  }, async (req, reply) => {
    const by = principalOf(req).account.username;
    const created = await ctx.auth.createAccount(by, req.body);
    audit(ctx, req, `account:${created.account.id}`, { username: created.account.username, role: created.account.role });
    return reply.code(201).send({ account: accountView(created.account), oneTimePassword: created.oneTimePassword, totpUri: created.totpUri });
  });

  api.patch('/accounts/:id', {
    config: { roles: admin, action: 'account.update' },
    schema: {
      tags: ['accounts'], summary: 'Change an account\'s role or status, or exempt an auditor who only reads from TOTP (ends its sessions; a role change ends an exemption)', params: idParam,
      body: z.strictObject({
        role: z.enum(roles).optional(),
        status: z.enum(['active', 'disabled']).optional(),
        totpExempt: z.boolean().optional().describe('true: this auditor signs in without a code and may then only read (never approve)'),
      }),
      response: { 200: accountSchema, ...errorResponses },
    },
  }, async (req) => {
    const account = ctx.auth.accounts.byId(req.params.id);
    if (!account) throw notFound('account');
    const me = principalOf(req).account;
    if (account.id === me.id && (req.body.status === 'disabled' || (req.body.role && req.body.role !== 'admin'))) {
      throw new ApiError(409, 'an admin cannot disable or demote their own account');
    }
    const role = req.body.role ?? account.role;
    if (req.body.totpExempt === true && role !== 'auditor') {
      throw new ApiError(400, 'only an auditor (who only reads) may sign in without a second factor', [{ path: 'totpExempt', message: `a ${role} opens doors, approves or grants: TOTP is required` }]);
    }
    ctx.store.db.transaction(() => {
      if (req.body.role && req.body.role !== account.role) {
        ctx.auth.accounts.setRole(account.id, req.body.role);
        // Without a seed the account cannot sign in until an admin resets its TOTP (POST …/reset-totp).
        audit(ctx, req, `account:${account.id}`, { from: account.role, to: req.body.role, ...(account.totpExempt ? { totpExemptEnded: true } : {}) }, 'account.role-change');
      }
      // After a role change (which ends any exemption): an exemption asked for the new auditor role applies.
      const exemptNow = req.body.role && req.body.role !== account.role ? false : account.totpExempt;
      if (req.body.totpExempt !== undefined && req.body.totpExempt !== exemptNow) {
        ctx.auth.accounts.setTotpExempt(account.id, req.body.totpExempt);
        audit(ctx, req, `account:${account.id}`, { role, totpExempt: req.body.totpExempt }, 'account.totp-exempt');
      }
      if (req.body.status && req.body.status !== account.status) {
        ctx.auth.accounts.setStatus(account.id, req.body.status);
        audit(ctx, req, `account:${account.id}`, { from: account.status, to: req.body.status }, 'account.status-change');
      }
      ctx.auth.accounts.deleteSessionsOf(account.id);
      req.audited = true;
    })();
    return accountView(ctx.auth.accounts.byId(account.id)!);
  });

  api.post('/accounts/:id/reset-totp', {
    config: { roles: admin, action: 'account.reset-totp' },
    schema: {
      tags: ['accounts'], summary: 'Give an account a new TOTP seed (lost phone, or an account made before every role needed one): the old one stops working; ends its sessions', params: idParam,
      response: { 200: z.object({ totpUri: z.string() }), ...errorResponses },
    },
  }, async (req) => {
    const account = ctx.auth.accounts.byId(req.params.id);
    if (!account) throw notFound('account');
    const uri = ctx.store.db.transaction(() => {
      const u = ctx.auth.resetTotp(account);
      audit(ctx, req, `account:${account.id}`);
      return u;
    })();
    return { totpUri: uri };
  });

  api.post('/accounts/:id/reset-password', {
    config: { roles: admin, action: 'account.reset-password' },
    schema: {
      tags: ['accounts'], summary: 'Reset a password: returns a one-time password to change at next login; unlocks the account', params: idParam,
      response: { 200: z.object({ oneTimePassword: z.string() }), ...errorResponses },
    },
  }, async (req) => {
    const account = ctx.auth.accounts.byId(req.params.id);
    if (!account) throw notFound('account');
    const password = oneTimePassword();
    const hash = await ctx.auth.hashPassword(password);
    ctx.store.db.transaction(() => {
      ctx.auth.accounts.setPassword(account.id, hash, [hash, ...account.passwordHistory].slice(0, 5), true);
      ctx.auth.accounts.clearFailures(account.id);
      ctx.auth.accounts.deleteSessionsOf(account.id);
      audit(ctx, req, `account:${account.id}`);
    })();
    return { oneTimePassword: password };
  });
}
