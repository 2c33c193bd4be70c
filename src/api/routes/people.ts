// People (access holders and visitors), their credentials, training and pledges. A change of status
// applies to the next read at any door: the door flow reads the person from SQLite every time.
// PIN hashes and OTP seeds never leave the controller: summaries show only kind, use and status.
import { z } from 'zod';
import { CREDENTIAL_KINDS, CREDENTIAL_STATUSES, CREDENTIAL_USES, PERSON_KINDS, PERSON_STATUSES } from '../../policy/vocabulary.js';
import type { PledgeStanding, TrainingStanding } from '../../services/people.js';
import type { CredentialSummary } from '../../store/credentials.js';
import type { Person } from '../../store/people.js';
import type { PledgeRecord, TrainingRecord } from '../../store/training.js';
import { actorOf, type Api, type ApiContext } from '../context.js';
import { errorResponses, idParam, numericIdParam, page, pageQuery } from '../schemas.js';
import { grantSchema, timeInput } from './grants.js';

export const personSchema = z.object({
  id: z.string(),
  kind: z.enum(PERSON_KINDS),
  number: z.number().int().nullable(),
  name: z.string(),
  affiliation: z.string(),
  title: z.string(),
  roles: z.array(z.string()),
  status: z.enum(PERSON_STATUSES),
}) satisfies z.ZodType<Person>;

export const credentialSchema = z.object({
  id: z.number().int(),
  personId: z.string(),
  kind: z.enum(CREDENTIAL_KINDS),
  use: z.enum(CREDENTIAL_USES),
  status: z.enum(CREDENTIAL_STATUSES),
  createdAt: z.string(),
  /** Card numbers and biometric references only; never a PIN hash or an OTP seed. */
  value: z.string().nullable(),
}) satisfies z.ZodType<CredentialSummary>;

export const trainingStandingSchema = z.object({
  status: z.enum(['current', 'lapsed', 'none']),
  lastAt: z.string().nullable(),
  lapsesAt: z.string().nullable(),
}) satisfies z.ZodType<TrainingStanding>;

export const pledgeStandingSchema = z.object({
  status: z.enum(['on-file', 'none']),
  signedAt: z.string().nullable(),
}) satisfies z.ZodType<PledgeStanding>;

const trainingSchema = z.object({
  id: z.number().int(),
  personId: z.string(),
  completedAt: z.string(),
  course: z.string(),
  recordedBy: z.string(),
  recordedAt: z.string(),
}) satisfies z.ZodType<TrainingRecord>;
const pledgeSchema = z.object({
  id: z.number().int(),
  personId: z.string(),
  signedAt: z.string(),
  document: z.string(),
  withdrawnAt: z.string().nullable(),
  recordedBy: z.string(),
  recordedAt: z.string(),
}) satisfies z.ZodType<PledgeRecord>;

const personView = (p: Person): z.infer<typeof personSchema> => ({ ...p });
/** Belt and braces: whatever the query returned, a PIN or OTP value never goes out. */
const credentialView = (c: CredentialSummary): z.infer<typeof credentialSchema> => ({ ...c, value: c.kind === 'card' || c.kind === 'bio' ? c.value : null });

const name = z.string().trim().min(1).max(200);
const text = z.string().trim().max(200);
const roleList = z.array(z.string().trim().min(1).max(64)).max(20);
const staffNumber = z.number().int().min(1).max(999_999_999);

export async function peopleRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { people, credentials } = ctx.services;
  const readers = ['manager', 'auditor'] as const;
  const managers = ['manager'] as const;

  api.get(
    '/people',
    {
      config: { roles: readers },
      schema: {
        tags: ['people'],
        summary: 'List people (filter by status, kind; q: part of the name or affiliation)',
        querystring: pageQuery.extend({
          status: z.enum(PERSON_STATUSES).optional(),
          kind: z.enum(PERSON_KINDS).optional(),
          q: z.string().trim().min(1).max(200).optional(),
        }),
        response: { 200: page(personSchema), ...errorResponses },
      },
    },
    async (req) => {
      const { items, total } = people.list(req.query);
      return { items: items.map(personView), total, limit: req.query.limit, offset: req.query.offset };
    },
  );

  api.post(
    '/people',
    {
      config: { roles: managers, action: 'person.create' },
      schema: {
        tags: ['people'],
        summary: 'Register an access holder (staff); number: the staff number typed as "number#PIN" where a PIN comes first',
        body: z.strictObject({ name, affiliation: text, title: text, number: staffNumber.optional(), roles: roleList.optional() }),
        response: { 201: personSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const person = people.enrol(actorOf(req), req.body);
      req.audited = true;
      return reply.code(201).send(personView(person));
    },
  );

  api.get(
    '/people/:id',
    {
      config: { roles: readers },
      schema: {
        tags: ['people'],
        summary: 'One person with credentials (no secrets), training, pledge and grants',
        params: idParam,
        response: {
          200: personSchema.extend({
            credentials: z.array(credentialSchema),
            training: trainingStandingSchema,
            pledge: pledgeStandingSchema,
            grants: z.array(grantSchema),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const { credentials: held, grants, training, pledge, ...person } = people.file(req.params.id);
      return { ...personView(person), credentials: held.map(credentialView), training, pledge, grants };
    },
  );

  api.patch(
    '/people/:id',
    {
      config: { roles: managers, action: 'person.update' },
      schema: {
        tags: ['people'],
        summary: "Change a person's details or status (suspended or left: refused at the next read)",
        params: idParam,
        body: z.strictObject({
          name: name.optional(),
          affiliation: text.optional(),
          title: text.optional(),
          status: z.enum(PERSON_STATUSES).optional(),
          roles: roleList.optional(),
          number: staffNumber.nullable().optional(),
        }),
        response: { 200: personSchema, ...errorResponses },
      },
    },
    async (req) => {
      const after = people.update(actorOf(req), req.params.id, req.body);
      req.audited = true;
      return personView(after);
    },
  );

  // Credentials

  api.get(
    '/people/:id/credentials',
    {
      config: { roles: readers },
      schema: {
        tags: ['credentials'],
        summary: "A person's credentials: kind, use, status, created; card numbers shown, PIN and OTP values never",
        params: idParam,
        querystring: pageQuery,
        response: { 200: page(credentialSchema), ...errorResponses },
      },
    },
    async (req) => {
      const { items, total } = credentials.of(req.params.id, req.query);
      return { items: items.map(credentialView), total, limit: req.query.limit, offset: req.query.offset };
    },
  );

  api.post(
    '/people/:id/credentials',
    {
      config: { roles: managers, action: 'credential.enrol' },
      schema: {
        tags: ['credentials'],
        summary: 'Enrol a card or a biometric reference (409 when it is enrolled already)',
        params: idParam,
        body: z.strictObject({ kind: z.enum(['card', 'bio']), value: z.string().trim().min(1).max(256) }),
        response: { 201: credentialSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const created = credentials.enrol(actorOf(req), req.params.id, req.body);
      req.audited = true;
      return reply.code(201).send(credentialView(created));
    },
  );

  api.put(
    '/people/:id/pin',
    {
      config: { roles: managers, action: 'credential.pin-set' },
      schema: {
        tags: ['credentials'],
        summary: 'Set a PIN (or the duress PIN), replacing the previous one; kept only as an argon2id hash',
        params: idParam,
        body: z.strictObject({ pin: z.string().regex(/^\d{4,12}$/, '4 to 12 digits'), duress: z.boolean().optional() }),
        response: { 201: credentialSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const created = await credentials.setPin(actorOf(req), req.params.id, req.body);
      req.audited = true;
      return reply.code(201).send(credentialView(created));
    },
  );

  api.post(
    '/people/:id/totp',
    {
      config: { roles: managers, action: 'credential.otp-enrol' },
      schema: {
        tags: ['credentials'],
        summary: "A new door OTP seed (replacing any): returns its otpauth:// URI once, to scan into the person's authenticator",
        params: idParam,
        response: { 201: z.object({ credential: credentialSchema, otpauthUri: z.string() }), ...errorResponses },
      },
    },
    async (req, reply) => {
      const { credential: created, otpauthUri } = credentials.enrolOtp(actorOf(req), req.params.id);
      req.audited = true;
      return reply.code(201).send({ credential: credentialView(created), otpauthUri });
    },
  );

  api.patch(
    '/credentials/:id',
    {
      config: { roles: managers, action: 'credential.status-change' },
      schema: {
        tags: ['credentials'],
        summary: 'Suspend, reactivate or revoke a credential (a revocation is final); applies to the next read',
        params: numericIdParam,
        body: z.strictObject({ status: z.enum(CREDENTIAL_STATUSES) }),
        response: { 200: credentialSchema, ...errorResponses },
      },
    },
    async (req) => {
      const after = credentials.setStatus(actorOf(req), req.params.id, req.body.status);
      req.audited = true;
      return credentialView(after);
    },
  );

  // Training and pledges

  api.get(
    '/people/:id/trainings',
    {
      config: { roles: readers },
      schema: {
        tags: ['people'],
        summary: "A person's completed trainings, newest first",
        params: idParam,
        querystring: pageQuery,
        response: { 200: page(trainingSchema), ...errorResponses },
      },
    },
    async (req) => {
      return { ...people.trainingsOf(req.params.id, req.query), limit: req.query.limit, offset: req.query.offset };
    },
  );

  api.post(
    '/people/:id/trainings',
    {
      config: { roles: managers, action: 'training.record' },
      schema: {
        tags: ['people'],
        summary: "Record a completed training (access lapses the site's validity period after the last one)",
        params: idParam,
        body: z.strictObject({ completedAt: timeInput, course: z.string().trim().min(1).max(200) }),
        response: { 201: trainingSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const record = people.recordTraining(actorOf(req), req.params.id, req.body);
      req.audited = true;
      return reply.code(201).send(record);
    },
  );

  api.get(
    '/people/:id/pledges',
    {
      config: { roles: readers },
      schema: {
        tags: ['people'],
        summary: "A person's confidentiality pledges, newest first",
        params: idParam,
        querystring: pageQuery,
        response: { 200: page(pledgeSchema), ...errorResponses },
      },
    },
    async (req) => {
      return { ...people.pledgesOf(req.params.id, req.query), limit: req.query.limit, offset: req.query.offset };
    },
  );

  api.post(
    '/people/:id/pledges',
    {
      config: { roles: managers, action: 'pledge.record' },
      schema: {
        tags: ['people'],
        summary: 'Record a signed confidentiality pledge',
        params: idParam,
        body: z.strictObject({ signedAt: timeInput, document: z.string().trim().min(1).max(200) }),
        response: { 201: pledgeSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const record = people.recordPledge(actorOf(req), req.params.id, req.body);
      req.audited = true;
      return reply.code(201).send(record);
    },
  );
}
