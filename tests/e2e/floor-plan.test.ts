// The floor plan in headless Chromium against the real daemon and the firmware simulator: a guard
// sees the example site's plan with its doors and zone; a door forced open on the simulator turns its
// marker into an alarm, live; choosing the door shows its state; the door closing and a zone armed
// elsewhere show live too. The Japanese page has no English
// left, axe finds nothing serious, and the page logs no error. Managers and auditors see it too,
// administrators do not.
// biome-ignore-all lint/performance/useDomNodeTextContent: Playwright's Locator.innerText (the rendered text, with its line breaks), not the DOM's
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/daemon.js';
import { waitFor } from '../helpers/ports.js';
import { seriousViolations } from './helpers/axe.js';
import { launchBrowser, openPage, requireChromium } from './helpers/browser.js';
import { type ConsoleEnv, englishWords, expectHeading, signIn, startConsole } from './helpers/console.js';
import { screenshot } from './helpers/screenshot.js';

const EXAMPLE_SVG = join(ROOT, 'examples/floor-plan.svg');

describe.runIf(requireChromium('the floor plan e2e test'))('console: floor plan', () => {
  let env: ConsoleEnv;
  let browser: Browser;

  beforeAll(async () => {
    env = await startConsole({
      // The daemon's site file is written into its data directory: the example's picture by its full path.
      edit: (raw) => {
        raw.floorPlans[0].image = EXAMPLE_SVG;
      },
    });
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await env?.stop();
  });

  it('a guard sees the plan; a forced door turns its marker into an alarm, live; the door shows its state', async () => {
    const { page, errors, close } = await openPage(browser, env.url);
    try {
      await page.goto('/#/floor-plan');
      await signIn(page, env.accounts.guard);
      await expectHeading(page, 'Floor plan', 20_000);
      const image = page.getByRole('img', { name: 'Floor plan: Ground floor' });
      await image.waitFor();
      await waitFor(() => image.evaluate((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0), 5000, 'the picture');

      const labMain = page.locator('button[data-door="lab-main"]');
      // The simulated contacts have not reported yet: the plan says so rather than guess.
      await waitFor(async () => /Locked · Open\/closed unknown/.test(await labMain.innerText()), 5000, 'the lab door locked');
      expect(await labMain.innerText()).toContain('Lab main door');
      expect(await page.locator('button[data-door="vault-door"]').innerText()).toMatch(/Vault door\s+Locked · Open\/closed unknown/);
      expect(await page.locator('.fp-zone-label').innerText()).toMatch(/Lab after hours\s+. (Armed|Disarmed)/);
      expect(await page.locator('.fp-area-label').allInnerTexts()).toEqual(['Research lab', 'Document vault']);
      expect(await labMain.getAttribute('class')).not.toContain('fp-flash');

      await env.sim!.door('lab-main').force();
      await waitFor(async () => /Forced open/.test(await labMain.innerText()), 5000, 'the forced door on the plan');
      expect(await labMain.getAttribute('class')).toContain('fp-door-alarm');
      expect(await labMain.getAttribute('class')).toContain('fp-flash');
      expect(await labMain.innerText()).toMatch(/Forced open · Locked · Open/);
      expect(await page.locator('.fp-alarms').innerText()).toMatch(/Alarm on this plan\s+Lab main door: Forced open/);
      // The vault door is untouched.
      expect(await page.locator('button[data-door="vault-door"]').getAttribute('class')).not.toContain('fp-door-alarm');

      await labMain.click();
      expect(await labMain.getAttribute('aria-pressed')).toBe('true');
      const details = page.locator('.fp-details');
      expect(await details.innerText()).toMatch(/Door\s+Lab main door\s+Area\s+Research lab\s+Lock\s+\S*\s*Locked\s+Door\s+Open\s+Alarm\s+\S*\s*Forced open/);

      // Under reduced motion the alarm does not flash: it stays lit.
      await page.emulateMedia({ reducedMotion: 'reduce' });
      expect(await labMain.locator('.fp-door-icon').evaluate((el) => getComputedStyle(el).animationName)).toBe('none');
      await page.emulateMedia({ reducedMotion: 'no-preference' });
      expect(await labMain.locator('.fp-door-icon').evaluate((el) => getComputedStyle(el).animationName)).toBe('fp-ring');

      await screenshot(page, 'floor-plan-en');
      expect(await seriousViolations(page)).toEqual([]);

      await page.getByRole('button', { name: '日本語', exact: true }).click();
      await expectHeading(page, 'フロアマップ');
      await waitFor(async () => /こじ開け/.test(await labMain.innerText()), 5000, 'the marker in Japanese');
      expect(await labMain.innerText()).toMatch(/研究室正面扉\s+こじ開け · 施錠 · 開/);
      expect(await englishWords(page)).toEqual([]);
      await screenshot(page, 'floor-plan-ja');
      expect(await seriousViolations(page)).toEqual([]);
      // Back to English for the other tests (the account remembers the choice).
      await page.getByRole('button', { name: 'English', exact: true }).click();
      await expectHeading(page, 'Floor plan');

      // The door closes and a zone is armed (or disarmed) elsewhere: both reach the plan from the
      // stream's state messages (the plan reads the state itself only at a (re)connect and each minute).
      await env.sim!.door('lab-main').close();
      await waitFor(async () => /Locked · Closed/.test(await labMain.innerText()), 10_000, 'the door closed, on the plan');
      const zoneLabel = page.locator('.fp-zone-label');
      const wasArmed = /Armed/.test(await zoneLabel.innerText());
      const changed = await page.evaluate(
        async (path) => {
          const me = (await (await fetch('/api/v1/auth/me')).json()) as { csrfToken: string };
          return (await fetch(path, { method: 'POST', headers: { 'x-csrf-token': me.csrfToken } })).status;
        },
        `/api/v1/zones/lab-night/${wasArmed ? 'disarm' : 'arm'}`,
      );
      expect(changed).toBe(200);
      await waitFor(async () => (wasArmed ? /Disarmed/ : /Armed/).test(await zoneLabel.innerText()), 10_000, 'the zone, on the plan');
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  }, 60_000);

  it('managers and auditors see the plan; administrators have no floor plan', async () => {
    for (const role of ['manager', 'auditor'] as const) {
      const { page, errors, close } = await openPage(browser, env.url, { viewport: 'tablet' });
      try {
        await page.goto('/#/floor-plan');
        await signIn(page, env.accounts[role]);
        await expectHeading(page, 'Floor plan', 20_000);
        await page.locator('button[data-door="vault-door"]').waitFor();
        expect(await page.getByRole('link', { name: 'Floor plan', exact: true }).count()).toBe(1);
        expect(errors).toEqual([]);
      } finally {
        await close();
      }
    }
    const { page, errors, close } = await openPage(browser, env.url);
    try {
      await page.goto('/#/floor-plan');
      await signIn(page, env.accounts.admin);
      await page.getByRole('heading', { level: 1 }).waitFor();
      expect(await page.getByRole('link', { name: 'Floor plan', exact: true }).count()).toBe(0);
      expect(await page.locator('.fp-canvas').count()).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  }, 60_000);
});
