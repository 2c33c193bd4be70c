// End to end in headless Chromium against the real daemon and the firmware simulator, as a guard:
// signing in with TOTP; an intrusion in the armed lab zone (the beam held broken) and a forced lab
// door appear in the alarm list with the lab camera's pictures (the time from the simulator's action
// to the alarm on the page is measured and printed); acknowledging and clearing them (a forced door
// still open is refused in words); the network dropping between browser and daemon (a TCP proxy in
// this test, cut and restored): the "not live" banner, and an alarm raised meanwhile arriving after
// the reconnection; a second guard's page following the first guard's acknowledgement and clearing
// live, and a door closing and relocking on its board; the door board and zones, the muster list as printed, the visitor desk with a
// badge issued and returned. Japanese pages without English left, no console errors, no serious
// axe violations; screenshots for the README.
import { createServer, type Server, type Socket, connect } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../firmware-sim/index.js';
import { enrol } from '../helpers/daemon.js';
import { cardAndPin } from '../helpers/flows.js';
import { waitFor } from '../helpers/ports.js';
import { seriousViolations } from './helpers/axe.js';
import { launchBrowser, type OpenedPage, openPage, requireChromium, VIEWPORTS } from './helpers/browser.js';
import { type ConsoleAccount, type ConsoleEnv, englishWords, expectHeading, signIn, startConsole, totpCode } from './helpers/console.js';
import { screenshot } from './helpers/screenshot.js';

const run = requireChromium('the guard console tests');

/**
 * A TCP proxy between the browser and the daemon that the test can cut (every connection destroyed,
 * new ones refused: nothing listens) and restore on the same port, as a network drop would.
 */
class CuttableProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly targetPort: number) {}

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  async restore(): Promise<void> {
    await this.start();
  }

  async stop(): Promise<void> {
    await this.cut();
  }
}

/** The time (ms since the epoch, the test machine's clock) each alarm card was first in the page. */
async function watchAlarms(page: Page): Promise<void> {
  await page.evaluate(`(() => {
    window.__alarmSeen = {};
    const note = () => {
      for (const li of document.querySelectorAll('li.alarm-card[data-alarm-id]')) {
        const id = li.getAttribute('data-alarm-id');
        if (!(id in window.__alarmSeen)) window.__alarmSeen[id] = { at: Date.now(), kind: li.querySelector('h2')?.textContent ?? '' };
      }
    };
    note();
    new MutationObserver(note).observe(document.body, { childList: true, subtree: true });
  })()`);
}

async function seenAt(page: Page, kind: string, timeoutMs: number): Promise<{ id: number; at: number }> {
  return waitFor(
    async () => {
      const seen = (await page.evaluate('window.__alarmSeen')) as Record<string, { at: number; kind: string }>;
      const hit = Object.entries(seen).find(([, v]) => v.kind.includes(kind));
      return hit ? { id: Number(hit[0]), at: hit[1].at } : undefined;
    },
    timeoutMs,
    `the ${kind} alarm on the page`,
  );
}

/** The alarm card of one kind (the newest with that heading). */
const card = (page: Page, kind: string) =>
  page
    .locator('li.alarm-card')
    .filter({ has: page.getByRole('heading', { name: kind, exact: true }) })
    .first();

describe.skipIf(!run)('console: the guard', () => {
  let env: ConsoleEnv;
  let sim: Simulator;
  let browser: Browser;
  let proxy: CuttableProxy;
  let opened: OpenedPage;
  let page: Page;
  let guard: ConsoleAccount;
  const latency: Record<string, number> = {};

  beforeAll(async () => {
    [env, browser] = await Promise.all([
      startConsole({
        edit: (raw) => {
          // The lab out of hours all the time: its zone (lab-night) is armed from the start.
          raw.schedules.push({ id: 'never', weekly: [{ days: ['sun'], from: '00:00', to: '00:01' }] });
          raw.areas.find((a: { id: string }) => a.id === 'lab').schedule = 'never';
          const camera = raw.devices.find((d: { id: string }) => d.id === 'lab-camera');
          camera.covers = { doors: ['lab-main'], zones: ['lab-night'] };
          camera.name = { en: 'Lab camera', ja: '研究室カメラ' };
          raw.devices.find((d: { id: string }) => d.id === 'lab-beam').name = { en: 'Lab beam', ja: '研究室ビームセンサー' };
        },
      }),
      launchBrowser(),
    ]);
    sim = env.sim!;
    guard = env.accounts.guard;
    proxy = new CuttableProxy(Number(new URL(env.url).port));
    await proxy.start();
    await waitFor(() => sim.lockState('lab-lock') === 'locked', 5000, 'the lab door locked');
    opened = await openPage(browser, proxy.url);
    page = opened.page;
    // A step that does not happen fails with its locator named, well inside the test's own timeout.
    page.setDefaultTimeout(8000);
  }, 60_000);

  afterAll(async () => {
    await opened?.close();
    await browser?.close();
    await proxy?.stop();
    await env?.stop();
    if (Object.keys(latency).length) console.log(`guard console: simulator action → alarm on the page: ${JSON.stringify(latency)} ms`);
  });

  it('signs in with TOTP and lands on the alarm list', async () => {
    // No address but the console's: a guard starts on the alarm list.
    await page.goto('/');
    await expectHeading(page, 'Sign in');
    await signIn(page, guard);
    await expectHeading(page, 'Alarms');
    await page.getByText('No active alarm.').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('an intrusion and a forced door appear at once, with the camera pictures', async () => {
    await watchAlarms(page);

    // The beam held broken past the zone's minActiveMs (400 ms): the alarm cannot come sooner.
    const beamAt = Date.now();
    await sim.input('lab-beam', true);
    const intrusion = await seenAt(page, 'Intrusion', 10_000);
    latency.intrusion = intrusion.at - beamAt;
    await sim.input('lab-beam', false);

    const forcedAt = Date.now();
    await sim.door('lab-main').force();
    const forced = await seenAt(page, 'Door forced', 10_000);
    latency.forcedDoor = forced.at - forcedAt;

    // Measured on this 2-core machine with other tests running: well under a second is typical, but
    // a loaded machine must not fail the suite (the benchmark holds the speed goal); see the report.
    expect(latency.intrusion).toBeLessThan(5000);
    expect(latency.forcedDoor).toBeLessThan(5000);

    for (const [kind, place] of [
      ['Intrusion', 'Lab after hours · Research lab'],
      ['Door forced', 'Lab main door'],
    ] as const) {
      const c = card(page, kind);
      await c.getByText(place).first().waitFor();
      await c.getByText('Not acknowledged').waitFor();
      // The picture itself, loaded through the session cookie (not just its <img>).
      const img = c.getByRole('img', { name: /^Picture from Lab camera at / });
      await img.waitFor({ timeout: 10_000 });
      await waitFor(() => img.evaluate((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0), 5000, `${kind} picture loaded`);
    }
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'guard-en');

    // The same list in Japanese: no English label left, the buttons named 確認 and 解除.
    await page.getByRole('button', { name: '日本語' }).click();
    await expectHeading(page, '警報');
    await card(page, '侵入検知').getByRole('button', { name: '確認', exact: true }).waitFor();
    await card(page, 'こじ開け').getByRole('button', { name: '解除', exact: true }).waitFor();
    await card(page, '侵入検知')
      .getByRole('img', { name: /^研究室カメラ の画像/ })
      .waitFor();
    expect(await englishWords(page, [guard.username])).toEqual([]);
    await screenshot(page, 'guard-ja');
    await page.getByRole('button', { name: 'English' }).click();
    await expectHeading(page, 'Alarms');
  });

  it('acknowledges both with a note, then clears them with a cause (a door still open is refused in words)', async () => {
    for (const kind of ['Intrusion', 'Door forced']) {
      await card(page, kind).getByRole('button', { name: 'Acknowledge', exact: true }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByLabel('Note').fill(`Checked on camera: ${kind.toLowerCase()}`);
      await dialog.getByRole('button', { name: 'Acknowledge', exact: true }).click();
      await card(page, kind).getByText(`Acknowledged by ${guard.username}`).waitFor();
      await page
        .getByRole('dialog')
        .waitFor({ state: 'detached' })
        .catch(() => {});
    }

    // The lab door is still open: the controller refuses to clear, and the page says why.
    const errorsBefore = opened.errors.length;
    await card(page, 'Door forced').getByRole('button', { name: 'Clear', exact: true }).click();
    let dialog = page.getByRole('dialog');
    await dialog.getByLabel('Cause').selectOption({ label: 'Intrusion' });
    await dialog.getByRole('button', { name: 'Clear', exact: true }).click();
    await dialog.getByText('cannot be cleared while its cause persists').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    // The browser logs the refused call (409) as an error: that one is the page working.
    expect(opened.errors.splice(errorsBefore).filter((e) => !/status of 409 .*\/api\/v1\/alarms\/\d+\/clear\)$/.test(e))).toEqual([]);

    await sim.door('lab-main').close();
    await waitFor(async () => (await fetchDoor(env, 'lab-main')).state.alarm === null, 5000, 'the forced door closed');
    for (const [kind, cause] of [
      ['Door forced', 'Intrusion'],
      ['Intrusion', 'Test'],
    ] as const) {
      await card(page, kind).getByRole('button', { name: 'Clear', exact: true }).click();
      dialog = page.getByRole('dialog');
      await dialog.getByLabel('Cause').selectOption({ label: cause });
      await dialog.getByLabel('Note').fill('Simulated in the end-to-end test');
      await dialog.getByRole('button', { name: 'Clear', exact: true }).click();
      await card(page, kind).waitFor({ state: 'detached' });
    }
    await page.getByText('No active alarm.').waitFor();
  });

  it('shows "not live" while the network is down, and the alarm raised meanwhile after it is back', async () => {
    const errorsBefore = opened.errors.length;
    await proxy.cut();
    await page.getByRole('alert').filter({ hasText: 'Not live: the connection to the controller dropped' }).waitFor({ timeout: 10_000 });

    // An alarm while the page cannot hear: the vault door forced.
    await sim.door('vault-door').force();
    await waitFor(
      () => (env.daemon.db().prepare("SELECT count(*) AS n FROM events WHERE type = 'door-forced' AND source = 'vault-door'").get() as { n: number }).n === 1,
      5000,
      'the vault door-forced event stored',
    );
    expect(await card(page, 'Door forced').count()).toBe(0);

    const restoredAt = Date.now();
    await proxy.restore();
    // The stream resumes from its last id: the missed alarm comes through it (the shell's banner
    // shows only what the stream brings), and the list shows it.
    await page.getByRole('alert').filter({ hasText: 'Alarm: Door forced' }).waitFor({ timeout: 20_000 });
    await card(page, 'Door forced').getByText('Vault door').waitFor({ timeout: 5000 });
    await page.getByRole('alert').filter({ hasText: 'Not live' }).waitFor({ state: 'detached', timeout: 10_000 });
    latency.missedAfterReconnect = Date.now() - restoredAt;
    // What the browser logs while the controller cannot be reached: the cut connections and the
    // refused ones. Nothing else.
    const cutOff =
      /^console error: Failed to load resource: net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|INCOMPLETE_CHUNKED_ENCODING|EMPTY_RESPONSE|CONNECTION_CLOSED) /;
    expect(opened.errors.splice(errorsBefore).filter((e) => !cutOff.test(e))).toEqual([]);
    await sim.door('vault-door').close();
  });

  it('a second guard follows the first live: the alarm acknowledged (who, the note), then cleared; a door closing and relocking on the board', async () => {
    // A second guard, made by the administrator, who chose their own password already (through the
    // API: the first sign-in's password change is the sign-in test's).
    const two = await env.createAccount('guard.two', 'guard', '伊藤 誠');
    const login = await fetch(`${env.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: two.username, password: two.password, totp: await totpCode(two) }),
    });
    expect(login.status, await login.clone().text()).toBe(200);
    const { token } = (await login.json()) as { token: string };
    const newPassword = 'amber-harbour-4-quiet-falcon';
    const changed = await fetch(`${env.url}/api/v1/auth/password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ currentPassword: two.password, newPassword }),
    });
    expect(changed.status, await changed.text()).toBe(204);
    two.password = newPassword;

    const other = await openPage(browser, proxy.url);
    try {
      const b = other.page;
      b.setDefaultTimeout(8000);
      await b.goto('/');
      await signIn(b, two);
      await expectHeading(b, 'Alarms');
      // The vault door forced while the network was down, on both pages; guard two keeps the
      // recently cleared list open.
      const onB = card(b, 'Door forced');
      await onB.getByText('Vault door').waitFor();
      await onB.getByText('Not acknowledged').waitFor();
      await b.getByText('Recently cleared', { exact: true }).click();

      // Guard one acknowledges with a note: guard two's card says so, with no reload.
      await card(page, 'Door forced').getByRole('button', { name: 'Acknowledge', exact: true }).click();
      let dialog = page.getByRole('dialog');
      await dialog.getByLabel('Note').fill('Vault door checked on camera');
      await dialog.getByRole('button', { name: 'Acknowledge', exact: true }).click();
      await dialog.waitFor({ state: 'detached' });
      await onB.getByText(`Acknowledged by ${guard.username}`).waitFor({ timeout: 10_000 });
      await onB.getByText('Vault door checked on camera').waitFor();
      expect(await onB.getByText('Not acknowledged').count()).toBe(0);

      // Guard one clears it: it leaves guard two's list and shows among the recently cleared.
      await waitFor(async () => (await fetchDoor(env, 'vault-door')).state.alarm === null, 5000, 'the vault door closed');
      await card(page, 'Door forced').getByRole('button', { name: 'Clear', exact: true }).click();
      dialog = page.getByRole('dialog');
      await dialog.getByLabel('Cause').selectOption({ label: 'False alarm' });
      await dialog.getByLabel('Note').fill('Closed again, nothing taken');
      await dialog.getByRole('button', { name: 'Clear', exact: true }).click();
      await dialog.waitFor({ state: 'detached' });
      await onB.waitFor({ state: 'detached', timeout: 10_000 });
      const cleared = b.locator('.cleared-list li').filter({ hasText: 'Vault door' }).first();
      await cleared.getByText(`Cleared by ${guard.username}`).waitFor({ timeout: 10_000 });
      await cleared.getByText('False alarm').waitFor();
      await cleared.getByText('Closed again, nothing taken').waitFor();

      // The door board, live from the door's own messages (no poll would be this quick): the exit
      // button unlocks the vault door, a person opens and closes it, and it locks again.
      await b.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Doors and zones' }).click();
      await expectHeading(b, 'Doors and zones');
      const vault = b.locator('tr[data-door-id="vault-door"]');
      const locked = vault.locator('.badge', { hasText: /^\W*Locked$/ });
      await locked.waitFor();
      await vault.getByText('Closed').waitFor();
      await sim.pressRex('vault-rex');
      await vault.getByText(/Unlocked$/).waitFor({ timeout: 10_000 });
      expect(await sim.door('vault-door').open()).toBe(true);
      await vault.getByText(/Open$/).waitFor({ timeout: 10_000 });
      await sim.door('vault-door').close();
      await vault.getByText('Closed').waitFor({ timeout: 10_000 });
      await locked.waitFor({ timeout: 15_000 });
      expect(other.errors).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('the door board shows every door live, asks a manager to confirm a two-factor door, arms and disarms a zone', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Doors and zones' }).click();
    await expectHeading(page, 'Doors and zones');
    const lab = page.locator('tr[data-door-id="lab-main"]');
    await lab.getByText('Locked').waitFor();
    await lab.getByText('Closed').waitFor();

    // Live: a door opened by force shows open and forced without a reload.
    await sim.door('lab-main').force();
    await lab.getByText('Forced').waitFor({ timeout: 5000 });
    await lab.getByText(/Open$/).waitFor();
    await sim.door('lab-main').close();
    await lab.getByText('Closed').waitFor({ timeout: 5000 });

    // The lab asks card and PIN: one account may only ask; the request waits for a manager.
    await lab.getByRole('button', { name: 'Ask to unlock: Lab main door' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Ask to unlock' }).click();
    const requests = page.getByRole('region', { name: 'Remote unlocks waiting for confirmation' });
    await requests.getByText('Lab main door').waitFor();
    await requests.getByText('Waiting for a manager').waitFor();
    expect(sim.lockState('lab-lock')).toBe('locked');

    // The intrusion tripped the lab's zone: it stays tripped (siren on) until a guard disarms it.
    const zone = page.locator('tr[data-zone-id="lab-night"]');
    await zone.getByText(/Tripped$/).waitFor();
    await zone.getByText(/Siren on$/).waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'guard-doors-en');

    await requests.getByRole('button', { name: 'Withdraw' }).click();
    await requests.getByText('No remote unlock is waiting.').waitFor();

    // Asked again, a manager confirms it on their own door board: the lab door opens once.
    await lab.getByRole('button', { name: 'Ask to unlock: Lab main door' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Ask to unlock' }).click();
    await requests.getByText('Lab main door').waitFor();
    const other = await openPage(browser, proxy.url);
    try {
      await other.page.goto('/#/doors');
      await signIn(other.page, env.accounts.manager);
      await expectHeading(other.page, 'Doors and zones');
      const waiting = other.page.getByRole('region', { name: 'Remote unlocks waiting for confirmation' });
      await waiting.getByText(guard.username).waitFor();
      const unlocked = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 5000, 'the lab door unlocked');
      await waiting.getByRole('button', { name: 'Confirm' }).click();
      await unlocked;
      await other.page.getByText('Unlock confirmed: Lab main door opens once.').waitFor();
      expect(other.errors).toEqual([]);
    } finally {
      await other.close();
    }
    await lab.getByText(/Unlocked$/).waitFor({ timeout: 5000 });
    await requests.getByText('No remote unlock is waiting.').waitFor();
    await zone.getByRole('button', { name: 'Disarm: Lab after hours' }).click();
    await zone.getByText(/Disarmed$/).waitFor();
    expect(await zone.getByText(/Siren on$/).count()).toBe(0);
    await zone.getByRole('button', { name: 'Arm: Lab after hours' }).click();
    await zone.getByText(/Armed$/).waitFor();
  });

  it('patrol rounds: the route under way and what is due', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Patrols' }).click();
    await expectHeading(page, 'Patrols');
    const route = page.getByRole('region', { name: 'Night round' });
    await route.getByText('A round every 120 minutes; 10 minutes late counts as missed').waitFor();
    for (const checkpoint of ['Corridor patrol point', 'Storeroom patrol key']) await route.getByRole('cell', { name: checkpoint }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('who is inside, printable as a muster list; the visitor desk checks a visitor in and out with a badge', async () => {
    const host = await enrol(env.daemon, { name: 'Mori Kenji', card: 'C1000001', pin: '1357', areas: ['lab'], outOfHours: true });
    await waitFor(() => sim.lockState('lab-lock') === 'locked', 10_000, 'the lab locked');
    await cardAndPin(sim, 'lab', 'C1000001', '1357');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Who is inside' }).click();
    await expectHeading(page, 'Who is inside');
    const lab = page.getByRole('region', { name: /^Research lab/ });
    await lab.getByRole('rowheader', { name: 'Mori Kenji' }).waitFor({ timeout: 5000 });
    await page.getByRole('button', { name: 'Print muster list' }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.emulateMedia({ media: 'print' });
    await page.getByRole('heading', { level: 1, name: 'Muster list: Example R&D centre' }).waitFor();
    expect(await page.getByRole('navigation', { name: 'Main' }).isVisible()).toBe(false);
    expect(await page.getByRole('button', { name: 'Print muster list' }).isVisible()).toBe(false);
    await page.emulateMedia({ media: 'screen' });

    // A visit registered and approved through the API by a manager and an auditor.
    const manager = await bearer(env, env.accounts.manager);
    const auditor = await bearer(env, env.accounts.auditor);
    const now = Date.now();
    const created = await api(env, manager, 'POST', '/visits', {
      visitor: { name: 'Ueda Aya', affiliation: 'Acme KK' },
      purpose: 'supplier audit',
      hostId: host.personId,
      areas: ['lab'],
      validFrom: new Date(now - 60_000).toISOString(),
      validUntil: new Date(now + 3_600_000).toISOString(),
    });
    await api(env, auditor, 'POST', `/visits/${created.id}/approve`);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Visitor desk' }).click();
    await expectHeading(page, 'Visitor desk');
    const row = page.locator(`tr[data-visit-id="${created.id}"]`);
    await row.getByText('Pledge not signed').waitFor();
    const step = async (button: string, card?: string) => {
      await row.getByRole('button', { name: `${button}: Ueda Aya` }).click();
      const dialog = page.getByRole('dialog');
      if (card) await dialog.getByRole('textbox').fill(card);
      await dialog.getByRole('button', { name: button, exact: true }).click();
      await dialog.waitFor({ state: 'detached' });
    };
    await step('Pledge signed');
    await row.getByText(/Expected$/).waitFor();
    await step('Check in', 'V2000001');
    await row.getByText('Checked in').waitFor();
    await row.getByText('V2000001').waitFor();
    await row.getByText('(works)').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await step('Check out');
    await row.getByText('Checked out').waitFor();
    await row.getByText('Not returned').waitFor();
    await step('Badge returned');
    await row.getByText(/^returned /).waitFor();
    expect(await row.getByText('Not returned').count()).toBe(0);
  });

  it('every guard view in Japanese, on a 10-inch tablet: no English label left, touch-sized controls, no serious accessibility violation', async () => {
    await page.setViewportSize(VIEWPORTS.tablet);
    await page.getByRole('button', { name: '日本語' }).click();
    for (const [link, heading] of [
      ['警報', '警報'],
      ['扉と警戒区域', '扉と警戒区域'],
      ['在室者', '在室者'],
      ['巡回', '巡回'],
      ['受付', '受付'],
    ] as const) {
      await page.getByRole('navigation', { name: 'メイン' }).getByRole('link', { name: link, exact: true }).click();
      await expectHeading(page, heading);
      await page.waitForTimeout(300);
      // Names of people and a card number are not words to translate.
      expect(await englishWords(page, [guard.username, 'Mori', 'Kenji', 'Ueda', 'Aya', 'Acme', 'KK']), heading).toEqual([]);
      expect(await seriousViolations(page), heading).toEqual([]);
      const small = (await page.evaluate(`(() => {
        const out = [];
        for (const el of document.querySelectorAll('main button, main a[href], main input, main select, main textarea, main summary')) {
          if (!el.checkVisibility()) continue;
          const r = el.getBoundingClientRect();
          if (r.height < 44 || r.width < 44) out.push((el.textContent || el.getAttribute('aria-label') || el.tagName).trim() + ' ' + Math.round(r.width) + 'x' + Math.round(r.height));
        }
        return out;
      })()`)) as string[];
      expect(small, heading).toEqual([]);
    }
    await page.getByRole('button', { name: 'English' }).click();
    await page.setViewportSize(VIEWPORTS.desktop);
  });

  it('logged no console error (beyond the refusal and the drop the tests caused, taken out where they happened)', () => {
    expect(opened.errors.join('\n')).toBe('');
  });
});

async function fetchDoor(env: ConsoleEnv, id: string): Promise<{ state: { alarm: string | null } }> {
  const token = await bearer(env, env.accounts.guard);
  return api(env, token, 'GET', `/doors/${id}`);
}

const tokens = new Map<string, string>();

async function bearer(env: ConsoleEnv, account: ConsoleAccount): Promise<string> {
  const known = tokens.get(account.username);
  if (known) return known;
  const res = await fetch(`${env.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: account.username, password: account.password, totp: await totpCode(account) }),
  });
  if (res.status !== 200) throw new Error(`cannot sign in ${account.username}: ${res.status} ${await res.text()}`);
  const token = ((await res.json()) as { token: string }).token;
  tokens.set(account.username, token);
  return token;
}

// biome-ignore lint/suspicious/noExplicitAny: a test's view of JSON answers
async function api(env: ConsoleEnv, token: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${env.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}
