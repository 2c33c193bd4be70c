// Shared request and response shapes.
import { z } from 'zod';

/** An error: RFC 9457 problem details (application/problem+json), plus the failing fields of a 400. */
export const errorSchema = z.object({
  type: z.string().describe('about:blank: the status says the kind of problem'),
  title: z.string().describe('the HTTP status phrase'),
  status: z.number().int(),
  detail: z.string().describe('what went wrong, in words'),
  details: z.array(z.object({ path: z.string(), message: z.string(), problem: z.string().optional() })).optional()
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
