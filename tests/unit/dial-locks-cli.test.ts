// `tobira dial-locks rotate` run as the built CLI: it records a rotation through the service (audited
// as the local operator) and refuses any flag carrying a code before it opens anything.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli/main.js');

function tobira(...args: string[]) {
  // The bundled example site, whose document safe has a dial.
  const env = { ...process.env };
  delete env.TOBIRA_SITE;
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('tobira dial-locks rotate', () => {
  it.each([
    [['--code', '12-34-56'], '--code'],
    [['--combination', '1'], '--combination'],
    [['--digits', '1'], '--digits'],
    [['--new-code', '1'], '--new-code'],
    [['--reason', 'now 12 34 56'], '--reason'],
  ])('refuses %j (exit 2) and opens no database', (extra, flag) => {
    const data = join(mkdtempSync(join(tmpdir(), 'tobira-dial-')), 'data');
    const r = tobira('dial-locks', 'rotate', 'doc-safe', '--data', data, '--by', '1001', '--reason', 'yearly', ...extra);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${flag}: a dial code is never stored or accepted`);
    expect(r.stderr).not.toMatch(/12-34-56|12 34 56/);
    expect(existsSync(data)).toBe(false);
  });

  it('records a rotation, audited as the local operator', () => {
    const data = mkdtempSync(join(tmpdir(), 'tobira-dial-'));
    const r = tobira('dial-locks', 'rotate', 'doc-safe', '--data', data, '--by', '1001', '--reason', 'yearly');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^recorded: doc-safe's code changed at .* by 1001; next due /);
    const db = openDatabase(data, { readonly: true });
    try {
      expect(db.prepare('SELECT lock_id, by, reason FROM dial_rotations').all()).toEqual([{ lock_id: 'doc-safe', by: '1001', reason: 'yearly' }]);
      expect(db.prepare("SELECT count(*) AS n FROM audit_log WHERE action = 'dial-lock.rotate'").get()).toEqual({ n: 1 });
    } finally {
      db.close();
    }
    expect(tobira('dial-locks', 'rotate', 'no-such', '--data', data, '--by', '1001', '--reason', 'yearly').stderr).toContain('dial lock not found');
  });
});
