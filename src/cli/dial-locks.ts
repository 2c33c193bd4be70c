// `tobira dial-locks rotate`: records at the shell that a dial code changed, through the same service
// as the API (audited as the local operator). The code itself is never taken: a flag named for one,
// or a code written out in --by or --reason, is refused before anything is opened.
import { findDialCode } from '../policy/dial-rotation.js';
import { createServices, localOperator, ServiceError } from '../services/index.js';
import { loadSiteFile } from '../site/load.js';
import { openStore } from '../store/index.js';
import { dataDir, sitePath, UsageError, type CommonFlags } from './options.js';
import { signAuditHead } from './sign-audit.js';

/** Flags declared only to be refused with a clear word (commander would call them unknown). */
export const CODE_FLAGS = ['--code <code>', '--combination <code>', '--digits <code>', '--new-code <code>'] as const;

export interface DialRotateFlags extends CommonFlags {
  by: string;
  reason: string;
  at?: string;
  code?: string;
  combination?: string;
  digits?: string;
  newCode?: string;
}

export function dialLockRotate(lockId: string, flags: DialRotateFlags): void {
  const carried = findDialCode(
    { code: flags.code, combination: flags.combination, digits: flags.digits, newCode: flags.newCode, by: flags.by, reason: flags.reason },
    '',
  );
  if (carried) {
    const flag = `--${carried.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new UsageError(`${flag}: a dial code is never stored or accepted: record that the code changed (--by, --reason), not the code`);
  }
  const rotatedAt = flags.at ?? new Date().toISOString();
  if (Number.isNaN(Date.parse(rotatedAt))) throw new UsageError(`--at: "${flags.at}" is not a time (e.g. 2026-12-03T10:00+09:00)`);
  const site = loadSiteFile(sitePath(flags));
  const store = openStore(dataDir(flags));
  try {
    const services = createServices({ store, now: () => new Date(), site: () => site });
    const lock = services.dialLocks.rotate(localOperator(), lockId, { rotatedAt: new Date(rotatedAt).toISOString(), by: flags.by, reason: flags.reason });
    process.stdout.write(`recorded: ${lock.id}'s code changed at ${lock.lastRotatedAt} by ${lock.lastRotatedBy}; next due ${lock.dueAt}\n`);
    signAuditHead(store, dataDir(flags));
  } catch (err) {
    if (err instanceof ServiceError) throw new UsageError(err.details?.[0] ? `${err.details[0].path}: ${err.details[0].message}` : err.message);
    throw err;
  } finally {
    store.close();
  }
}
