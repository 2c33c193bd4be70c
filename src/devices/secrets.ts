// Device secrets: one random secret per device and one for the controller, kept in the data
// directory (mode 0600), never in the site file or the logs.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CONTROLLER_USERNAME, OBSERVER_USERNAME } from './protocol.js';
import { HOMEASSISTANT_USERNAME } from './homeassistant.js';

export const SECRETS_FILE = 'secrets.json';

const secretsSchema = z.strictObject({
  version: z.literal(1),
  controller: z.strictObject({ username: z.string(), password: z.string().min(16) }),
  /**
   * The read-only login for an off-gateway copy of the log checkpoints: may only subscribe to
   * `{base}/log/checkpoints`. Absent in files from before it existed; ensureSecrets adds it.
   */
  observer: z.strictObject({ username: z.string(), password: z.string().min(16) }).optional(),
  /** Home Assistant's read-only login (discovery configs and tobira's states for it); ensureSecrets adds it. */
  homeassistant: z.strictObject({ username: z.string(), password: z.string().min(16) }).optional(),
  devices: z.record(z.string(), z.string().min(16)),
  /** The bearer token /metrics needs when the API listens beyond loopback (a Prometheus scraper's); ensureSecrets adds it. */
  metrics: z.string().min(16).optional(),
  /** HTTP cameras' logins by device id (basic or digest auth), written by the operator. */
  cameras: z.record(z.string(), z.strictObject({ username: z.string().min(1), password: z.string().min(1) })).optional(),
  /** Standard Webhooks signing secrets by webhook id ("whsec_" + base64): each one's receiver holds a copy. */
  webhooks: z.record(z.string(), z.string().regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'a Standard Webhooks secret: whsec_ and base64')).optional(),
});
export type Secrets = z.infer<typeof secretsSchema>;

function newSecret(): string {
  return randomBytes(24).toString('base64url');
}

export function secretsPath(dataDir: string): string {
  return join(dataDir, SECRETS_FILE);
}

export function loadSecrets(dataDir: string): Secrets {
  const file = secretsPath(dataDir);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read device secrets ${file}: ${(err as Error).message}`);
  }
  const parsed = secretsSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`device secrets ${file} are malformed: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/**
 * Loads the secrets file, creating it or adding secrets for new devices as needed.
 * Secrets of devices no longer in the site are kept: removing a device from the site should not
 * silently re-key it if it comes back. Returns the secrets and the ids that were added.
 */
export function ensureSecrets(dataDir: string, deviceIds: readonly string[]): { secrets: Secrets; added: string[] } {
  const file = secretsPath(dataDir);
  const secrets: Secrets = existsSync(file)
    ? loadSecrets(dataDir)
    : { version: 1, controller: { username: CONTROLLER_USERNAME, password: newSecret() }, devices: {} };
  const added: string[] = [];
  let changed = !existsSync(file);
  if (!secrets.observer) {
    secrets.observer = { username: OBSERVER_USERNAME, password: newSecret() };
    changed = true;
  }
  if (!secrets.homeassistant) {
    secrets.homeassistant = { username: HOMEASSISTANT_USERNAME, password: newSecret() };
    changed = true;
  }
  if (!secrets.metrics) {
    secrets.metrics = newSecret();
    changed = true;
  }
  for (const id of deviceIds) {
    if (!secrets.devices[id]) {
      secrets.devices[id] = newSecret();
      added.push(id);
    }
  }
  if (added.length > 0 || changed) {
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, file);
  }
  chmodSync(file, 0o600);
  return { secrets, added };
}

/**
 * The signing secret of each webhook named, created for those without one (ensureSecrets must have
 * made the file). A secret put in the file by hand (the receiver's own) is kept.
 */
export function ensureWebhookSecrets(dataDir: string, webhookIds: readonly string[]): Record<string, string> {
  const secrets = loadSecrets(dataDir);
  const webhooks = { ...(secrets.webhooks ?? {}) };
  const missing = webhookIds.filter((id) => !webhooks[id]);
  if (missing.length === 0) return webhooks;
  for (const id of missing) webhooks[id] = `whsec_${randomBytes(32).toString('base64')}`;
  const file = secretsPath(dataDir);
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ ...secrets, webhooks }, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return webhooks;
}
