// Accounts: only an admin creates them, changes roles, resets passwords and TOTP seeds, exempts a
// reading auditor from the second factor, and disables them.
import { z } from 'zod';
import type { Account } from '../../store/accounts.js';
import { CONSOLE_LANGUAGES } from '../../policy/vocabulary.js';
import { actorOf, audited, type Api, type ApiContext } from '../context.js';
import { accountRoleSchema, accountStatusSchema, errorResponses, idParam, page, pageQuery } from '../schemas.js';

export const accountSchema = z.object({
  id: z.string(),
  username: z.string(),
  displayName: z.string(),
  role: accountRoleSchema,
  status: accountStatusSchema,
  mustChangePassword: z.boolean(),
  totpEnrolled: z.boolean(),
  totpExempt: z.boolean().describe('an auditor an admin let sign in without a code: may only read'),
  lockedUntil: z.string().nullable(),
  createdAt: z.string(),
  createdBy: z.string(),
  language: z.enum(CONSOLE_LANGUAGES).nullable().describe("the console's language the account chose (null: not chosen yet)"),
});

export function accountView(a: Account): z.infer<typeof accountSchema> {
  return {
    id: a.id,
    username: a.username,
    displayName: a.displayName,
    role: a.role,
    status: a.status,
    mustChangePassword: a.mustChangePassword,
    totpEnrolled: a.totpSecret !== null,
    totpExempt: a.totpExempt,
    lockedUntil: a.lockedUntil,
    createdAt: a.createdAt,
    createdBy: a.createdBy,
    language: a.language,
  };
}

const username = z.string().regex(/^[a-z0-9][a-z0-9._-]{2,63}$/, 'lower-case letters, digits, ".", "_" or "-", 3 to 64 characters');

export async function accountRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { accounts } = ctx.services;
  const admin = ['admin'] as const;

  api.get(
    '/accounts',
    {
      config: { roles: admin },
      schema: {
        tags: ['accounts'],
        summary: 'List accounts',
        querystring: pageQuery.extend({ role: accountRoleSchema.optional(), status: accountStatusSchema.optional() }),
        response: { 200: page(accountSchema), ...errorResponses },
      },
    },
    async (req) => {
      const all = accounts.list({ role: req.query.role, status: req.query.status });
      return {
        items: all.slice(req.query.offset, req.query.offset + req.query.limit).map(accountView),
        total: all.length,
        limit: req.query.limit,
        offset: req.query.offset,
      };
    },
  );

  api.post(
    '/accounts',
    {
      config: { roles: admin, action: 'account.create' },
      schema: {
        tags: ['accounts'],
        summary: 'Create an account: returns a one-time password and the TOTP enrolment URI (every role signs in with a code)',
        body: z.strictObject({ username, displayName: z.string().min(1).max(200), role: accountRoleSchema }),
        response: { 201: z.object({ account: accountSchema, oneTimePassword: z.string(), totpUri: z.string().nullable() }), ...errorResponses },
      },
    },
    async (req, reply) => {
      const created = audited(req, await accounts.create(actorOf(req), req.body));
      return reply.code(201).send({ account: accountView(created.account), oneTimePassword: created.oneTimePassword, totpUri: created.totpUri });
    },
  );

  api.patch(
    '/accounts/:id',
    {
      config: { roles: admin, action: 'account.update' },
      schema: {
        tags: ['accounts'],
        summary: "Change an account's role or status, or exempt an auditor who only reads from TOTP (ends its sessions; a role change ends an exemption)",
        params: idParam,
        body: z.strictObject({
          role: accountRoleSchema.optional(),
          status: accountStatusSchema.optional(),
          totpExempt: z.boolean().optional().describe('true: this auditor signs in without a code and may then only read (never approve)'),
        }),
        response: { 200: accountSchema, ...errorResponses },
      },
    },
    async (req) => accountView(audited(req, accounts.update(actorOf(req), req.params.id, req.body))),
  );

  api.post(
    '/accounts/:id/reset-totp',
    {
      config: { roles: admin, action: 'account.reset-totp' },
      schema: {
        tags: ['accounts'],
        summary: 'Give an account a new TOTP seed (lost phone, or an account made before every role needed one): the old one stops working; ends its sessions',
        params: idParam,
        response: { 200: z.object({ totpUri: z.string() }), ...errorResponses },
      },
    },
    async (req) => ({ totpUri: audited(req, accounts.resetTotp(actorOf(req), req.params.id)) }),
  );

  api.post(
    '/accounts/:id/reset-password',
    {
      config: { roles: admin, action: 'account.reset-password' },
      schema: {
        tags: ['accounts'],
        summary: 'Reset a password: returns a one-time password to change at next login; unlocks the account',
        params: idParam,
        response: { 200: z.object({ oneTimePassword: z.string() }), ...errorResponses },
      },
    },
    async (req) => ({ oneTimePassword: audited(req, await accounts.resetPassword(actorOf(req), req.params.id)) }),
  );
}
