// People (access holders and visitors), their credentials, training and pledges. A change of status
// applies to the next read at any door: the door flow reads the person from SQLite every time.
// PIN hashes and OTP seeds never leave the controller: summaries show only kind, use and status.
import { generateSecret, generateURI } from 'otplib';
import { z } from 'zod';
import { trainingLapsesAt } from '../../policy/access-rules.js';
import type { Person } from '../../store/people.js';
import { hashPin, verifyPin } from '../../store/pin.js';
import { Registers, type CredentialSummary } from '../../store/registers.js';
import { ApiError, audit, notFound, principalOf, type Api, type ApiContext } from '../context.js';
import { errorResponses, idParam, numericIdParam, page, pageQuery } from '../schemas.js';
import { grantSchema, grantView, invalidField, timeInput, toIso } from './grants.js';

const personStatuses = ['active', 'suspended', 'left'] as const;
const credentialStatuses = ['active', 'suspended', 'revoked'] as const;

export const personSchema = z.object({
  id: z.string(),
  kind: z.enum(['staff', 'visitor']),
  number: z.number().int().nullable(),
  name: z.string(),
  affiliation: z.string(),
  title: z.string(),
  roles: z.array(z.string()),
  status: z.enum(personStatuses),
});

export const credentialSchema = z.object({
  id: z.number().int(),
  personId: z.string(),
  kind: z.enum(['card', 'pin', 'otp', 'bio']),
  use: z.enum(['normal', 'duress']),
  status: z.enum(credentialStatuses),
  createdAt: z.string(),
  /** Card numbers and biometric references only; never a PIN hash or an OTP seed. */
  value: z.string().nullable(),
});

export const trainingStandingSchema = z.object({
  status: z.enum(['current', 'lapsed', 'none']),
  lastAt: z.string().nullable(),
  lapsesAt: z.string().nullable(),
});

export const pledgeStandingSchema = z.object({
  status: z.enum(['on-file', 'none']),
  signedAt: z.string().nullable(),
});

const trainingSchema = z.object({ id: z.number().int(), personId: z.string(), completedAt: z.string(), course: z.string(), recordedBy: z.string(), recordedAt: z.string() });
const pledgeSchema = z.object({
  id: z.number().int(), personId: z.string(), signedAt: z.string(), document: z.string(), withdrawnAt: z.string().nullable(), recordedBy: z.string(), recordedAt: z.string(),
});

const personView = (p: Person): z.infer<typeof personSchema> => ({ ...p });
/** Belt and braces: whatever the query returned, a PIN or OTP value never goes out. */
const credentialView = (c: CredentialSummary): z.infer<typeof credentialSchema> => ({ ...c, value: c.kind === 'card' || c.kind === 'bio' ? c.value : null });

/** Training (current while within the site's validity period) and pledge, as the policy judges them. */
export function standingOf(ctx: ApiContext, personId: string, now: Date): { training: z.infer<typeof trainingStandingSchema>; pledge: z.infer<typeof pledgeStandingSchema> } {
  const s = ctx.store.people.standing(personId);
  let training: z.infer<typeof trainingStandingSchema> = { status: 'none', lastAt: null, lapsesAt: null };
  if (s.lastTrainingAt) {
    const lapses = trainingLapsesAt(s.lastTrainingAt, ctx.controller.ctx.site.policy.trainingValidityMonths);
    const lapsesAt = Number.isNaN(lapses.getTime()) ? null : lapses.toISOString();
    training = { status: lapsesAt && lapses.getTime() > now.getTime() ? 'current' : 'lapsed', lastAt: s.lastTrainingAt, lapsesAt };
  }
  return { training, pledge: s.pledgeSignedAt ? { status: 'on-file', signedAt: s.pledgeSignedAt } : { status: 'none', signedAt: null } };
}

const name = z.string().trim().min(1).max(200);
const text = z.string().trim().max(200);
const roleList = z.array(z.string().trim().min(1).max(64)).max(20);
const staffNumber = z.number().int().min(1).max(999_999_999);

/** Two calls racing for one staff number or card: the database's unique index decides, as a 409. */
function uniqueOr409<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new ApiError(409, `${what} is taken`);
    throw err;
  }
}

export async function peopleRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const registers = new Registers(ctx.store.db);
  const readers = ['manager', 'auditor'] as const;
  const managers = ['manager'] as const;
  const now = () => ctx.controller.ctx.now();
  const personOr404 = (id: string): Person => {
    const p = ctx.store.people.person(id);
    if (!p) throw notFound('person');
    return p;
  };
  const numberFree = (number: number | null | undefined, except?: string) => {
    if (number === null || number === undefined) return;
    const holder = registers.personByNumber(number);
    if (holder && holder.id !== except) throw new ApiError(409, `staff number ${number} is taken`);
  };

  api.get('/people', {
    config: { roles: readers },
    schema: {
      tags: ['people'], summary: 'List people (filter by status, kind; q: part of the name or affiliation)',
      querystring: pageQuery.extend({
        status: z.enum(personStatuses).optional(), kind: z.enum(['staff', 'visitor']).optional(), q: z.string().trim().min(1).max(200).optional(),
      }),
      response: { 200: page(personSchema), ...errorResponses },
    },
  }, async (req) => {
    const { items, total } = registers.people(req.query);
    return { items: items.map(personView), total, limit: req.query.limit, offset: req.query.offset };
  });

  api.post('/people', {
    config: { roles: managers, action: 'person.create' },
    schema: {
      tags: ['people'], summary: 'Register an access holder (staff); number: the staff number typed as "number#PIN" where a PIN comes first',
      body: z.strictObject({ name, affiliation: text, title: text, number: staffNumber.optional(), roles: roleList.optional() }),
      response: { 201: personSchema, ...errorResponses },
    },
  }, async (req, reply) => {
    const b = req.body;
    numberFree(b.number);
    const person = uniqueOr409('the staff number', ctx.store.db.transaction(() => {
      const p = ctx.store.people.addPerson({ kind: 'staff', name: b.name, affiliation: b.affiliation, title: b.title, number: b.number ?? null, roles: b.roles ?? [] });
      audit(ctx, req, `person:${p.id}`, { name: p.name, affiliation: p.affiliation, title: p.title, number: p.number, roles: p.roles });
      return p;
    }));
    return reply.code(201).send(personView(person));
  });

  api.get('/people/:id', {
    config: { roles: readers },
    schema: {
      tags: ['people'], summary: 'One person with credentials (no secrets), training, pledge and grants', params: idParam,
      response: {
        200: personSchema.extend({
          credentials: z.array(credentialSchema), training: trainingStandingSchema, pledge: pledgeStandingSchema, grants: z.array(grantSchema),
        }),
        ...errorResponses,
      },
    },
  }, async (req) => {
    const person = personOr404(req.params.id);
    const grants = registers.grants({ personId: person.id, limit: 1000, offset: 0, now: now().toISOString() }).items;
    return {
      ...personView(person),
      credentials: registers.credentialsOf(person.id).items.map(credentialView),
      ...standingOf(ctx, person.id, now()),
      grants: grants.map(grantView),
    };
  });

  api.patch('/people/:id', {
    config: { roles: managers, action: 'person.update' },
    schema: {
      tags: ['people'], summary: 'Change a person\'s details or status (suspended or left: refused at the next read)', params: idParam,
      body: z.strictObject({
        name: name.optional(), affiliation: text.optional(), title: text.optional(), status: z.enum(personStatuses).optional(),
        roles: roleList.optional(), number: staffNumber.nullable().optional(),
      }),
      response: { 200: personSchema, ...errorResponses },
    },
  }, async (req) => {
    const before = personOr404(req.params.id);
    numberFree(req.body.number, before.id);
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    for (const [key, value] of Object.entries(req.body) as [keyof typeof req.body, unknown][]) {
      if (value !== undefined && JSON.stringify(value) !== JSON.stringify(before[key])) changes[key] = { from: before[key], to: value };
    }
    const after = uniqueOr409('the staff number', ctx.store.db.transaction(() => {
      registers.updatePerson(before.id, req.body);
      // Someone who has left is no longer an access holder: their grants end with them.
      const revoked: number[] = [];
      if (req.body.status === 'left' && before.status !== 'left') {
        for (const g of ctx.store.db.prepare('SELECT id FROM grants WHERE person_id = ? AND revoked_at IS NULL').all(before.id) as { id: number }[]) {
          ctx.store.people.revokeGrant(g.id, principalOf(req).account.username);
          revoked.push(g.id);
        }
      }
      audit(ctx, req, `person:${before.id}`, { changes, ...(revoked.length ? { revokedGrants: revoked } : {}) });
      return ctx.store.people.person(before.id)!;
    }));
    return personView(after);
  });

  // Credentials

  api.get('/people/:id/credentials', {
    config: { roles: readers },
    schema: {
      tags: ['credentials'], summary: 'A person\'s credentials: kind, use, status, created; card numbers shown, PIN and OTP values never',
      params: idParam, querystring: pageQuery, response: { 200: page(credentialSchema), ...errorResponses },
    },
  }, async (req) => {
    const person = personOr404(req.params.id);
    const { items, total } = registers.credentialsOf(person.id, req.query);
    return { items: items.map(credentialView), total, limit: req.query.limit, offset: req.query.offset };
  });

  api.post('/people/:id/credentials', {
    config: { roles: managers, action: 'credential.enrol' },
    schema: {
      tags: ['credentials'], summary: 'Enrol a card or a biometric reference (409 when it is enrolled already)', params: idParam,
      body: z.strictObject({ kind: z.enum(['card', 'bio']), value: z.string().trim().min(1).max(256) }),
      response: { 201: credentialSchema, ...errorResponses },
    },
  }, async (req, reply) => {
    const person = personOr404(req.params.id);
    const { kind, value } = req.body;
    if (kind === 'card' && !/[0-9A-Za-z]/.test(value)) throw invalidField('value', 'a card number needs at least one letter or digit');
    const existing = ctx.store.people.findCredential(kind, value);
    if (existing) throw new ApiError(409, `this ${kind} is enrolled already${existing.personId === person.id ? ' for this person' : ''} (credential ${existing.id}, ${existing.status})`);
    const created = uniqueOr409(`this ${kind}`, ctx.store.db.transaction(() => {
      const c = ctx.store.people.addCredential(person.id, kind, value);
      audit(ctx, req, `credential:${c.id}`, { personId: person.id, kind, value: c.value });
      return registers.credential(c.id)!;
    }));
    return reply.code(201).send(credentialView(created));
  });

  api.put('/people/:id/pin', {
    config: { roles: managers, action: 'credential.pin-set' },
    schema: {
      tags: ['credentials'], summary: 'Set a PIN (or the duress PIN), replacing the previous one; kept only as an argon2id hash', params: idParam,
      body: z.strictObject({ pin: z.string().regex(/^\d{4,12}$/, '4 to 12 digits'), duress: z.boolean().optional() }),
      response: { 201: credentialSchema, ...errorResponses },
    },
  }, async (req, reply) => {
    const person = personOr404(req.params.id);
    const use = req.body.duress ? 'duress' : 'normal';
    // The duress PIN must differ from the normal one, or a normal entry would raise the alarm (or the reverse).
    for (const other of ctx.store.people.credentialsOf(person.id, 'pin').filter((c) => c.use !== use)) {
      if (await verifyPin(other.value, req.body.pin)) throw new ApiError(409, 'the duress PIN and the PIN must differ');
    }
    const pinHash = await hashPin(req.body.pin);
    const created = ctx.store.db.transaction(() => {
      const replaced = registers.revokeCredentialsOf(person.id, 'pin', use);
      const c = ctx.store.people.addCredential(person.id, 'pin', pinHash, use);
      ctx.store.people.clearPinFailures(person.id);
      audit(ctx, req, `credential:${c.id}`, { personId: person.id, use, replaced });
      return registers.credential(c.id)!;
    })();
    return reply.code(201).send(credentialView(created));
  });

  api.post('/people/:id/totp', {
    config: { roles: managers, action: 'credential.otp-enrol' },
    schema: {
      tags: ['credentials'], summary: 'A new door OTP seed (replacing any): returns its otpauth:// URI once, to scan into the person\'s authenticator',
      params: idParam, response: { 201: z.object({ credential: credentialSchema, otpauthUri: z.string() }), ...errorResponses },
    },
  }, async (req, reply) => {
    const person = personOr404(req.params.id);
    const secret = generateSecret();
    const otpauthUri = generateURI({ issuer: 'tobira', label: person.name, secret });
    const created = ctx.store.db.transaction(() => {
      const replaced = registers.revokeCredentialsOf(person.id, 'otp');
      const c = ctx.store.people.addCredential(person.id, 'otp', secret);
      audit(ctx, req, `credential:${c.id}`, { personId: person.id, replaced });
      return registers.credential(c.id)!;
    })();
    return reply.code(201).send({ credential: credentialView(created), otpauthUri });
  });

  api.patch('/credentials/:id', {
    config: { roles: managers, action: 'credential.status-change' },
    schema: {
      tags: ['credentials'], summary: 'Suspend, reactivate or revoke a credential (a revocation is final); applies to the next read',
      params: numericIdParam, body: z.strictObject({ status: z.enum(credentialStatuses) }),
      response: { 200: credentialSchema, ...errorResponses },
    },
  }, async (req) => {
    const credential = registers.credential(req.params.id);
    if (!credential) throw notFound('credential');
    if (credential.status === 'revoked' && req.body.status !== 'revoked') throw new ApiError(409, 'a revoked credential stays revoked: enrol a new one');
    const after = ctx.store.db.transaction(() => {
      ctx.store.people.setCredentialStatus(credential.id, req.body.status);
      audit(ctx, req, `credential:${credential.id}`, { personId: credential.personId, kind: credential.kind, from: credential.status, to: req.body.status });
      return registers.credential(credential.id)!;
    })();
    return credentialView(after);
  });

  // Training and pledges

  api.get('/people/:id/trainings', {
    config: { roles: readers },
    schema: { tags: ['people'], summary: 'A person\'s completed trainings, newest first', params: idParam, querystring: pageQuery, response: { 200: page(trainingSchema), ...errorResponses } },
  }, async (req) => {
    const person = personOr404(req.params.id);
    return { ...registers.trainingsOf(person.id, req.query), limit: req.query.limit, offset: req.query.offset };
  });

  api.post('/people/:id/trainings', {
    config: { roles: managers, action: 'training.record' },
    schema: {
      tags: ['people'], summary: 'Record a completed training (access lapses the site\'s validity period after the last one)', params: idParam,
      body: z.strictObject({ completedAt: timeInput, course: z.string().trim().min(1).max(200) }),
      response: { 201: trainingSchema, ...errorResponses },
    },
  }, async (req, reply) => {
    const person = personOr404(req.params.id);
    const completedAt = toIso(req.body.completedAt);
    if (completedAt > now().toISOString()) throw invalidField('completedAt', 'is in the future');
    const by = principalOf(req).account.username;
    const record = ctx.store.db.transaction(() => {
      ctx.store.people.addTraining(person.id, completedAt, req.body.course, by);
      const id = registers.lastInsertRowid();
      audit(ctx, req, `person:${person.id}`, { trainingId: id, completedAt, course: req.body.course });
      return registers.training(id)!;
    })();
    return reply.code(201).send(record);
  });

  api.get('/people/:id/pledges', {
    config: { roles: readers },
    schema: { tags: ['people'], summary: 'A person\'s confidentiality pledges, newest first', params: idParam, querystring: pageQuery, response: { 200: page(pledgeSchema), ...errorResponses } },
  }, async (req) => {
    const person = personOr404(req.params.id);
    return { ...registers.pledgesOf(person.id, req.query), limit: req.query.limit, offset: req.query.offset };
  });

  api.post('/people/:id/pledges', {
    config: { roles: managers, action: 'pledge.record' },
    schema: {
      tags: ['people'], summary: 'Record a signed confidentiality pledge', params: idParam,
      body: z.strictObject({ signedAt: timeInput, document: z.string().trim().min(1).max(200) }),
      response: { 201: pledgeSchema, ...errorResponses },
    },
  }, async (req, reply) => {
    const person = personOr404(req.params.id);
    const signedAt = toIso(req.body.signedAt);
    if (signedAt > now().toISOString()) throw invalidField('signedAt', 'is in the future');
    const by = principalOf(req).account.username;
    const record = ctx.store.db.transaction(() => {
      ctx.store.people.addPledge(person.id, signedAt, req.body.document, by);
      const id = registers.lastInsertRowid();
      audit(ctx, req, `person:${person.id}`, { pledgeId: id, signedAt, document: req.body.document });
      return registers.pledge(id)!;
    })();
    return reply.code(201).send(record);
  });
}
