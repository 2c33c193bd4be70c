// Hardware-in-the-loop: backups of a live gateway. The real daemon (embedded broker, TLS) with the
// firmware simulator reading cards at the example site's doors while `tobira backup` runs beside
// it and the daemon's own scheduled backups run every couple of seconds; the archive restored into
// a new directory, verified, and a daemon started on it whose entry log continues where the backup
// left off. The scheduled backups write, verify and prune, and a failing one raises backup-failed.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { CLI, enrol, entries, events, type RawSite, startDaemon, type Daemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/ports.js';
import { cardAndPin } from '../helpers/flows.js';

function tobira(
  args: string[],
  env: Record<string, string> = {},
): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; running: () => boolean } {
  const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  let exited = false;
  p.stdout.on('data', (c) => (stdout += c));
  p.stderr.on('data', (c) => (stderr += c));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((r) =>
    p.on('exit', (code) => {
      exited = true;
      r({ code, stdout, stderr });
    }),
  );
  return { done, running: () => !exited };
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('backup of a live gateway', () => {
  let work: string;
  let scheduled: string;
  let identityFile: string;
  let daemon: Daemon;
  let sim: Simulator;
  let restored: Daemon | undefined;
  let restoredSim: Simulator | undefined;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tobira-hil-backup-'));
    scheduled = join(work, 'scheduled');
    const identity = await generateIdentity();
    const recipient = await identityToRecipient(identity);
    identityFile = join(work, 'identity.txt');
    writeFileSync(identityFile, `${identity}\n`, { mode: 0o600 });
    // A backup every 1.8 s, two kept.
    const edit = (raw: RawSite) => (raw.backups = { directory: scheduled, everyHours: 0.0005, retention: 2, recipient });
    daemon = await startDaemon({ broker: { kind: 'embedded' }, edit });
    await enrol(daemon, { name: '佐藤 花子', card: '04A1B2C3', pin: '2580', areas: ['lab'] });
    sim = await Simulator.start({ site: daemon.site, url: daemon.mqttUrl, ca: daemon.ca, secrets: daemon.secrets, heartbeatMs: 2000 });
    await waitFor(() => sim.lockState('lab-lock') === 'locked' && sim.observed('lab-lock').length > 0, 5000, 'lab-lock driven to rest');
  });

  afterAll(async () => {
    await restoredSim?.stop();
    await restored?.stop();
    await sim?.stop();
    await daemon?.stop();
  });

  it('backs up during a burst of reads, restores, verifies, and a gateway started on it continues the log', async () => {
    const before = entries(daemon).length;
    const archive = join(work, 'live.tobira-backup');
    const backup = tobira(['backup', '--data', daemon.dataDir, '--site', daemon.siteFile, '--out', archive], {
      TOBIRA_BACKUP_PASSPHRASE: 'pass phrase for the test',
    });
    // Reads at two doors for as long as the backup runs (and at least 20): every one decided and answered.
    let reads = 0;
    let duringBackup = 0;
    while (backup.running() || reads < 20) {
      const running = backup.running();
      if (reads % 5 === 0) {
        const unlocked = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 5000, 'lab-lock unlock');
        await cardAndPin(sim, 'lab', '04A1B2C3', '2580');
        await unlocked;
      } else {
        const answered = sim.expectCommand('vault-reader', (c) => c.command === 'indicate', 5000, 'vault-reader answers');
        await sim.swipe('vault-reader', `DEAD${String(reads).padStart(4, '0')}`);
        await answered;
      }
      reads++;
      if (running) duringBackup++;
    }
    const r = await backup.done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(duringBackup).toBeGreaterThan(0);
    await waitFor(() => entries(daemon).length >= before + reads, 5000, 'every read logged');
    expect(entries(daemon).length).toBe(before + reads);

    const into = join(work, 'restored');
    const restore = await tobira(['restore', archive, '--data', into], { TOBIRA_BACKUP_PASSPHRASE: 'pass phrase for the test' }).done;
    expect(restore.stderr).toBe('');
    expect(restore.code).toBe(0);
    expect(restore.stdout).toMatch(/entry log OK: \d+ records, hash chain intact; \d+ checkpoints, signatures valid/);
    expect(restore.stdout).toMatch(/audit log OK/);
    for (const f of ['secrets.json', 'log-signing-key.pem', 'secrets-key'])
      if (existsSync(join(daemon.dataDir, f))) expect(sha(join(into, f))).toBe(sha(join(daemon.dataDir, f)));

    // The backup is one consistent snapshot: its head is a record of the live log, hash and all.
    const copy = new Database(join(into, 'tobira.db'), { readonly: true });
    const head = copy.prepare('SELECT seq, hash FROM entry_log ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string };
    copy.close();
    const live = entries(daemon).find((e) => e.seq === head.seq);
    expect(live?.hash).toBe(head.hash);

    // A gateway started on the restored directory continues from the record after the backup's head.
    await sim.stop();
    await daemon.stop();
    restored = await startDaemon({ broker: { kind: 'embedded' }, dataDir: into });
    restoredSim = await Simulator.start({ site: restored.site, url: restored.mqttUrl, ca: restored.ca, secrets: restored.secrets, heartbeatMs: 2000 });
    await waitFor(() => restoredSim!.lockState('lab-lock') === 'locked' && restoredSim!.observed('lab-lock').length > 0, 5000, 'lab-lock driven to rest');
    const unlocked = restoredSim.expectCommand('lab-lock', (c) => c.command === 'unlock', 5000, 'lab-lock unlock after restore');
    await cardAndPin(restoredSim, 'lab', '04A1B2C3', '2580');
    await unlocked;
    const after = entries(restored);
    const next = after.find((e) => e.seq === head.seq + 1)!;
    expect(next.prev_hash).toBe(head.hash);
    expect(after.at(-1)).toMatchObject({ decision: 'granted', door_id: 'lab-main' });
    await restoredSim.stop();
    restoredSim = undefined;
    await restored.stop();
    const verify = await tobira(['log', 'verify', '--data', into]).done;
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/^entry log OK/);
  }, 180_000);

  it('the scheduled backups wrote, verified and pruned to the retention count', async () => {
    // The first daemon ran several scheduled backups meanwhile (one every 1.8 s, two kept).
    const written = daemon.output().match(/scheduled backup written and verified/g)?.length ?? 0;
    expect(written).toBeGreaterThanOrEqual(3);
    const files = readdirSync(scheduled).sort();
    const archives = files.filter((f) => f.endsWith('.tobira-backup'));
    expect(archives).toHaveLength(2);
    expect(files).toEqual([...archives.flatMap((a) => [a, `${a}.sha256`])].sort());
    for (const a of archives) expect(readFileSync(join(scheduled, `${a}.sha256`), 'utf8')).toBe(`${sha(join(scheduled, a))}  ${a}\n`);
    const into = join(work, 'from-scheduled');
    const r = await tobira(['restore', join(scheduled, archives.at(-1)!), '--data', into, '--identity', identityFile]).done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/entry log OK/);
  }, 60_000);

  it('a scheduled backup that cannot be written raises backup-failed', async () => {
    const d = await startDaemon({ broker: { kind: 'embedded' } });
    try {
      const blocker = join(work, 'a-file');
      writeFileSync(blocker, 'not a directory');
      const raw = parse(readFileSync(d.siteFile, 'utf8')) as RawSite;
      raw.backups = { directory: join(blocker, 'backups'), everyHours: 0.0005, retention: 1, recipient: await identityToRecipient(await generateIdentity()) };
      writeFileSync(d.siteFile, stringify(raw));
      d.proc.kill('SIGHUP');
      const failed = await waitFor(() => events(d, 'backup-failed')[0], 20_000, 'backup-failed');
      expect(failed).toMatchObject({ category: 'system', severity: 'warning', source: 'backups' });
      expect(JSON.parse(failed.detail as string).error).toMatch(/ENOTDIR|not a directory/);
    } finally {
      await d.stop();
    }
  }, 60_000);
});
