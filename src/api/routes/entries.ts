// The entry log through the API: query it (newest first, paged by seq), export it (the same bytes
// as `tobira log export`, streamed from a read-only snapshot), verify it, and serve its signed
// checkpoints (with the public key), so an auditor can keep copies off the gateway.
import { z } from 'zod';
import { SCAN_WINDOW, type EntryFilter } from '../../store/entry-log.js';
import { actorOf, audited, type Api, type ApiContext, sendLogExport } from '../context.js';
import { checkpointKindSchema, errorResponses, isoTime } from '../schemas.js';

export const entrySchema = z.object({
  seq: z.number().int(),
  at: z.string(),
  kind: z.enum(['decision', 'door', 'mode', 'evidence']),
  doorId: z.string().nullable(),
  areaId: z.string().nullable(),
  direction: z.enum(['in', 'out']).nullable(),
  personId: z.string().nullable(),
  personName: z.string().nullable(),
  affiliation: z.string().nullable().describe('null for guards'),
  purpose: z.string().nullable().describe('null for guards'),
  factors: z.array(z.string()).nullable(),
  decision: z.enum(['granted', 'denied']).nullable(),
  reason: z.string().nullable(),
  deviceId: z.string().nullable(),
  deviceBoot: z.number().int().nullable(),
  deviceSeq: z.number().int().nullable(),
  linkedSeq: z.number().int().nullable(),
  linkedPersonId: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()).nullable(),
  prevHash: z.string(),
  hash: z.string(),
});

const time = z.union([isoTime, z.iso.date()]);
/** The filters of the query and the export (as `tobira log export` has them). */
const filterQuery = z.object({
  areaId: z.string().max(64).optional(),
  doorId: z.string().max(64).optional(),
  personId: z.string().max(100).optional(),
  decision: z.enum(['granted', 'denied']).optional(),
  reason: z.string().max(64).optional(),
  from: time.optional().describe('at or after (ISO date or time)'),
  to: time.optional().describe('before (ISO date or time)'),
});

const filterOf = (q: z.infer<typeof filterQuery>): EntryFilter => ({
  areaId: q.areaId,
  doorId: q.doorId,
  personId: q.personId,
  decision: q.decision,
  reason: q.reason,
  from: q.from,
  to: q.to,
});

export async function entryRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { entries } = ctx.services;

  api.get(
    '/entries',
    {
      config: { roles: ['manager', 'auditor', 'guard'] },
      schema: {
        tags: ['entries'],
        summary: 'The entry log, newest first, paged by seq (before=nextBefore); guards see no affiliation or purpose',
        description:
          'Page on while nextBefore is not null. A filter no index serves (an area, decision or reason without a person or a door) ' +
          `walks at most ${SCAN_WINDOW.toLocaleString('en')} records a page: such a page may hold fewer records than asked, none even, and still have a nextBefore.`,
        querystring: filterQuery.extend({
          before: z.coerce.number().int().positive().optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(50),
        }),
        response: { 200: z.object({ items: z.array(entrySchema), nextBefore: z.number().int().nullable() }), ...errorResponses },
      },
    },
    async (req) => entries.query(actorOf(req), { ...filterOf(req.query), before: req.query.before, limit: req.query.limit }),
  );

  api.get(
    '/entries/export',
    {
      config: { roles: ['auditor', 'manager'] },
      schema: {
        tags: ['entries'],
        summary: 'Export the entry log, oldest first: CSV (UTF-8 with BOM, headers in English or Japanese) or JSON Lines ending with the signed checkpoint',
        description:
          'The same bytes as `tobira log export`. Verify a JSON Lines export offline with `tobira log verify --export FILE --pubkey KEY.pem`. Each export is recorded in the audit log.',
        querystring: filterQuery.extend({ format: z.enum(['csv', 'jsonl']), lang: z.enum(['en', 'ja']).default('en') }),
        response: { 200: z.unknown().describe('text/csv or application/jsonl, streamed'), ...errorResponses },
      },
    },
    async (req, reply) => {
      const { format, lang } = req.query;
      const { out, ended } = audited(req, entries.export(actorOf(req), { format, lang, filter: filterOf(req.query) }));
      void ended.then((err) => {
        if (err) req.log.warn({ err }, 'entry-log export ended early');
      });
      return sendLogExport(reply, 'entries', format, out);
    },
  );

  api.get(
    '/entries/checkpoints',
    {
      config: { roles: ['auditor', 'manager'] },
      schema: {
        tags: ['entries'],
        summary: "The entry log's signed checkpoints, oldest first, paged by id (after=nextAfter), with the gateway's public key",
        description:
          "Each checkpoint signs (count, headHash, at, …) with the gateway's Ed25519 key; since checkpoints v2 also its ordinal " +
          '(the n-th checkpoint written) and nextWithin (the most records that may follow it before the next). Keep copies off the gateway: ' +
          '`tobira log verify --checkpoint FILE` checks the log against one, and an independent verifier can check the signatures with publicKey.',
        querystring: z.object({
          after: z.coerce.number().int().min(0).default(0).describe('checkpoints with a larger id'),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
        response: {
          200: z.object({
            items: z.array(
              z.object({
                id: z.number().int(),
                kind: checkpointKindSchema,
                count: z.number().int(),
                headHash: z.string(),
                at: z.string(),
                anchorSeq: z.number().int().nullable(),
                anchorPrevHash: z.string().nullable(),
                ordinal: z.number().int().nullable().describe('null: a v1 checkpoint (signed before ordinals)'),
                nextWithin: z.number().int().nullable().describe('the most records that may follow before the next checkpoint'),
                nextWithinSeconds: z.number().int().nullable().describe('the most seconds (of record time) that may follow before the next'),
                signature: z.string().describe('Ed25519, base64'),
              }),
            ),
            nextAfter: z.number().int().nullable(),
            publicKey: z.string().nullable().describe('SPKI PEM of the signing key'),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => entries.checkpoints(req.query.after, req.query.limit),
  );

  // One verification at a time (the service's): closing the API stops it.
  api.addHook('onClose', async () => entries.close());

  api.get(
    '/entries/verify',
    {
      config: { roles: ['auditor', 'manager'] },
      schema: {
        tags: ['entries'],
        summary: "Walk the entry log's hash chain and check its signed checkpoints with the gateway's public key",
        description:
          'Runs in worker threads, one per core, each on its own read-only connection: doors keep being decided meanwhile ' +
          '(about 800,000 records a second on a two-core machine). One verification runs at a time: a request made while one runs ' +
          'waits for it and gets its result. Records appended after it started are not covered. `breakAt` is the first record, ' +
          'in seq order, where the log does not hold.',
        response: {
          200: z.object({
            ok: z.boolean(),
            records: z.number().int(),
            checkpoints: z.number().int(),
            breakAt: z.object({ seq: z.number().int(), problem: z.string() }).optional(),
            publicKey: z.string().nullable(),
            checkpoint: z
              .object({
                id: z.number().int(),
                kind: checkpointKindSchema,
                ordinal: z.number().int().nullable(),
                count: z.number().int(),
                headHash: z.string(),
                at: z.string(),
              })
              .nullable()
              .describe('the newest signed checkpoint the chain was checked against (null: none yet); compare it with a copy kept off the gateway'),
          }),
          ...errorResponses,
        },
      },
    },
    async () => await entries.verify(),
  );
}
