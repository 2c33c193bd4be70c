// Shared request and response shapes.
import { z } from 'zod';

export const errorSchema = z.object({
  error: z.string(),
  details: z.array(z.object({ path: z.string(), message: z.string(), problem: z.string().optional() })).optional(),
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
