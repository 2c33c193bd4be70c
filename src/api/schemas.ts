// Shared request and response shapes.
import { z } from 'zod';
import {
  ACCOUNT_ROLES,
  ACCOUNT_STATUSES,
  AREA_MODES,
  CHECKPOINT_KINDS,
  CREDENTIAL_KINDS,
  CREDENTIAL_STATUSES,
  CREDENTIAL_USES,
  DEVICE_KINDS,
  DOOR_ROLE_NAMES,
  EVENT_CATEGORIES,
  PERSON_KINDS,
  PERSON_STATUSES,
  SEVERITIES,
  TRANSPORTS,
} from '../policy/vocabulary.js';

/** An error: RFC 9457 problem details (application/problem+json), plus the failing fields of a 400. */
export const errorSchema = z.object({
  type: z.string().describe('about:blank: the status says the kind of problem'),
  title: z.string().describe('the HTTP status phrase'),
  status: z.number().int(),
  detail: z.string().describe('what went wrong, in words'),
  details: z
    .array(z.object({ path: z.string(), message: z.string(), problem: z.string().optional() }))
    .optional()
    .describe('400: each failing field, as a dotted path into the request (body, query or params)'),
  error: z.string().describe('the same as detail (kept for clients of the first error shape)'),
});

export const errorResponses = {
  400: errorSchema.describe('Invalid input: the failing fields are listed'),
  401: errorSchema.describe('Not signed in, or the session ended'),
  403: errorSchema.describe('Signed in, but this role may not do that'),
  404: errorSchema.describe('Not found'),
  409: errorSchema.describe('Conflicts with the current state'),
};

/** Offset paging for registers (people, grants, visits, accounts). */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

export function page<T>(item: z.ZodType<T>) {
  return z.object({ items: z.array(item), total: z.number().int(), limit: z.number().int(), offset: z.number().int() });
}

export const isoTime = z.iso.datetime({ offset: true });
export const idParam = z.object({ id: z.string().min(1).max(100) });
export const numericIdParam = z.object({ id: z.coerce.number().int().positive() });

// The shared words, as the API's enums: the OpenAPI document lists what the registries hold.
export const credentialKindSchema = z.enum(CREDENTIAL_KINDS);
export const credentialUseSchema = z.enum(CREDENTIAL_USES);
export const credentialStatusSchema = z.enum(CREDENTIAL_STATUSES);
export const personKindSchema = z.enum(PERSON_KINDS);
export const personStatusSchema = z.enum(PERSON_STATUSES);
export const areaModeSchema = z.enum(AREA_MODES);
export const deviceKindSchema = z.enum(DEVICE_KINDS);
export const transportSchema = z.enum(TRANSPORTS);
export const doorRoleSchema = z.enum(DOOR_ROLE_NAMES);
export const eventCategorySchema = z.enum(EVENT_CATEGORIES);
export const severitySchema = z.enum(SEVERITIES);
export const checkpointKindSchema = z.enum(CHECKPOINT_KINDS);
export const accountRoleSchema = z.enum(ACCOUNT_ROLES);
export const accountStatusSchema = z.enum(ACCOUNT_STATUSES);
