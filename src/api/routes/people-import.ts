// POST /api/v1/people/import: the CSV file of an HR system (docs/people-import.md) sent as the body,
// as it is on disk (text/csv or application/octet-stream: the bytes, so a Shift_JIS file arrives
// untouched). A dry run unless ?apply=true; the report says, line by line, what is (or would be)
// added, changed, left as it is and refused. Managers only.
import { z } from 'zod';
import { IMPORT_COLUMNS, importEncoding, MAX_IMPORT_ROWS, type ImportReport } from '../../services/people-import.js';
import { actorOf, ApiError, type Api, type ApiContext } from '../context.js';
import { errorResponses } from '../schemas.js';

/** Enough for MAX_IMPORT_ROWS rows of a wide HR export. */
const IMPORT_BODY_LIMIT = 8 * 1024 * 1024;

const FIELDS = IMPORT_COLUMNS.map((c) => c.field) as [ImportReport['columns'][number], ...ImportReport['columns']];

const reportSchema = z.object({
  dryRun: z.boolean(),
  encoding: z.enum(['utf-8', 'shift_jis']),
  bom: z.boolean(),
  sha256: z.string(),
  columns: z.array(z.enum(FIELDS)),
  ignoredColumns: z.array(z.string()),
  rows: z.number().int(),
  added: z.number().int(),
  changed: z.number().int(),
  unchanged: z.number().int(),
  refused: z.number().int(),
  pendingGrants: z.number().int(),
  lines: z.array(
    z.object({
      line: z.number().int(),
      staffNumber: z.number().int().nullable(),
      name: z.string(),
      outcome: z.enum(['add', 'change', 'unchanged', 'refused']),
      changes: z.array(z.string()),
      reasons: z.array(z.string()),
      notes: z.array(z.string()),
      personId: z.string().optional(),
    }),
  ),
}) satisfies z.ZodType<ImportReport>;

export async function peopleImportRoutes(api: Api, ctx: ApiContext): Promise<void> {
  // Its own scope: the raw-bytes parser serves this route and no other.
  await api.register(async (scope: Api) => {
    scope.addContentTypeParser(['text/csv', 'application/octet-stream'], { parseAs: 'buffer', bodyLimit: IMPORT_BODY_LIMIT }, (_req, body, done) =>
      done(null, body),
    );
    scope.post(
      '/people/import',
      {
        bodyLimit: IMPORT_BODY_LIMIT,
        config: { roles: ['manager'], action: 'people.import' },
        schema: {
          tags: ['people'],
          summary: `Import people, cards, grants, training and pledge dates from a CSV file (body: the file as text/csv; up to ${MAX_IMPORT_ROWS} rows). A dry run unless apply=true`,
          description:
            'Columns by English or Japanese header (社員番号, 氏名, 所属, カード番号, 区域, 有効期限, 研修日, 誓約日, ...): docs/people-import.md. ' +
            'encoding: utf-8 (default; a BOM is fine) or sjis; also taken from the charset of the Content-Type. ' +
            'Each good row is applied on its own (all its parts or none) and audited; refused rows are listed with line and reason. ' +
            'Grants follow the four-eyes rule: pending until a second person approves.',
          querystring: z.object({
            apply: z.enum(['true', 'false']).optional(),
            encoding: z.string().max(32).optional(),
          }),
          response: { 200: reportSchema, ...errorResponses },
        },
      },
      async (req) => {
        if (!Buffer.isBuffer(req.body)) {
          throw new ApiError(400, 'send the CSV file itself as the body, with Content-Type text/csv (or application/octet-stream)', [
            { path: 'body', message: 'the file, as text/csv' },
          ]);
        }
        const charset = /charset="?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1];
        const encoding = importEncoding(req.query.encoding ?? charset);
        const apply = req.query.apply === 'true';
        const report = await ctx.services.peopleImport.run(actorOf(req), req.body, { encoding, apply });
        // Applied, the service audited every row and the file; a dry run is recorded like any call.
        if (apply) req.audited = true;
        return report;
      },
    );
  });
}
