// `tobira people import FILE.csv`: people, cards, grants, training and pledge dates from an HR
// system's CSV export (docs/people-import.md), through the same services as the API, as the local
// operator. A dry run unless --apply. Exit codes: 0 every row fine, 1 some row refused (the rest
// done with --apply), 2 a file that cannot be read as an import (or a usage error).
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadSiteFile } from '../site/load.js';
import { createServices, localOperator, ServiceError } from '../services/index.js';
import { importEncoding, type ImportLine, type ImportReport } from '../services/people-import.js';
import { openStore } from '../store/index.js';
import { dataDir, sitePath, UsageError, type CommonFlags } from './options.js';
import { progress } from './progress.js';
import { signAuditHead } from './sign-audit.js';

const out = (line = '') => process.stdout.write(`${line}\n`);

export interface PeopleImportFlags extends CommonFlags {
  encoding?: string;
  apply?: boolean;
  json?: boolean;
}

/** Adds `import` under `tobira people`; `common` adds --site, --data and --service. */
export function registerPeopleImport(people: Command, common: (cmd: Command) => Command): void {
  common(
    people
      .command('import <file>')
      .description('people, cards, grants, training and pledge dates from a CSV file (HR export); a dry run unless --apply (docs/people-import.md)'),
  )
    .option('--encoding <name>', 'utf-8 (default; a BOM is fine) or sjis (Shift_JIS, as Japanese HR systems export)')
    .option('--apply', 'do it: each good row is imported and audited; refused rows are listed and left out')
    .option('--json', 'print the report as JSON')
    .action(peopleImport);
}

const OUTCOME_WORD: Record<ImportLine['outcome'], string> = { add: 'add', change: 'change', unchanged: 'unchanged', refused: 'REFUSED' };

export async function peopleImport(file: string, flags: PeopleImportFlags): Promise<void> {
  const site = loadSiteFile(sitePath(flags));
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message}`);
  }
  let encoding: ReturnType<typeof importEncoding>;
  try {
    encoding = importEncoding(flags.encoding);
  } catch (e) {
    throw new UsageError(`--encoding: ${(e as Error).message}`);
  }
  const apply = flags.apply === true;
  const store = openStore(dataDir(flags));
  try {
    const services = createServices({ store, now: () => new Date(), site: () => site });
    const actor = localOperator();
    const auditBefore = store.audit.count;
    const bar = progress(apply ? 'importing' : 'checking', { unit: 'rows' });
    let report: ImportReport;
    try {
      report = await services.peopleImport.run(actor, bytes, { encoding, apply, onProgress: (done, total) => bar.update(done, total) });
    } catch (err) {
      // A file that cannot be an import: what is wrong and where, no stack, exit 2.
      if (err instanceof ServiceError) {
        const where = err.details?.find((d) => d.path.startsWith('line '));
        throw new UsageError(`${file}: ${err.message}${where ? ` (${where.path})` : ''}`);
      }
      throw err;
    } finally {
      bar.end();
    }
    if (flags.json) out(JSON.stringify(report, null, 2));
    else printReport(file, report);
    if (apply) {
      if (!flags.json) out(`audit log: ${store.audit.count - auditBefore} records by ${actor.username} (tobira log verify --audit)`);
      signAuditHead(store, dataDir(flags));
    }
    if (report.refused > 0) process.exitCode = 1;
  } finally {
    store.close();
  }
}

function printReport(file: string, r: ImportReport): void {
  const how = `${r.encoding === 'shift_jis' ? 'Shift_JIS' : r.bom ? 'UTF-8 with BOM' : 'UTF-8'}, ${r.rows} rows`;
  out(r.dryRun ? `dry run: nothing is changed; run again with --apply to import (${file}: ${how})` : `imported ${file} (${how})`);
  if (r.ignoredColumns.length) out(`columns not imported: ${r.ignoredColumns.join(', ')}`);
  if (r.columns.includes('kana')) out('kana: read, not kept (the person record has no kana field)');
  const nameWidth = Math.min(20, Math.max(4, ...r.lines.map((l) => width(l.name))));
  for (const l of r.lines) {
    const what = l.outcome === 'refused' ? l.reasons.join('; ') : l.changes.join('; ') || 'nothing to change';
    const notes = l.notes.length ? ` (${l.notes.join('; ')})` : '';
    out(
      `line ${String(l.line).padEnd(5)} ${String(l.staffNumber ?? '-').padEnd(9)} ${pad(l.name, nameWidth)} ${OUTCOME_WORD[l.outcome].padEnd(9)} ${what}${notes}`,
    );
  }
  const verb = r.dryRun ? ['would add', 'change', 'leave unchanged', 'refuse'] : ['added', 'changed', 'unchanged', 'refused'];
  out(
    `${verb[0]} ${r.added}, ${verb[1]} ${r.changed}, ${verb[2]} ${r.unchanged}; ${verb[3]} ${r.refused}${r.refused ? ' (fix those lines and import the file again: rows in already stay unchanged)' : ''}`,
  );
  if (r.pendingGrants) {
    out(
      `${r.pendingGrants} grants ${r.dryRun ? 'would wait' : 'wait'} for a manager's or an auditor's approval (four-eyes): they open nothing until approved (POST /api/v1/grants/ID/approve)`,
    );
  }
}

/** Columns a terminal gives a name: CJK characters take two. */
function width(s: string): number {
  let w = 0;
  for (const ch of s) w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch) ? 2 : 1;
  return w;
}

function pad(s: string, to: number): string {
  return s + ' '.repeat(Math.max(0, to - width(s)));
}
