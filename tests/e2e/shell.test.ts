// End to end in headless Chromium: the shell every view lives in. A forced door raises the alarm
// banner (in words) and its sound can be muted, remembered; a network drop shows the "not live"
// banner and the event raised meanwhile arrives after reconnection (resumed with the last event
// id); on a 10-inch tablet every control is touch-sized; the keyboard reaches everything with a
// visible focus.
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seriousViolations } from './helpers/axe.js';
import { launchBrowser, type OpenedPage, openPage, requireChromium } from './helpers/browser.js';
import { events } from '../helpers/daemon.js';
import { type ConsoleEnv, expectHeading, signIn, startConsole } from './helpers/console.js';

const run = requireChromium('the console shell tests');

describe.skipIf(!run)('console: the shell', () => {
  let env: ConsoleEnv;
  let browser: Browser;
  const opened: OpenedPage[] = [];
  const open = async (opts?: Parameters<typeof openPage>[2]) => {
    const p = await openPage(browser, env.url, opts);
    opened.push(p);
    return p;
  };

  beforeAll(async () => {
    [env, browser] = await Promise.all([startConsole(), launchBrowser()]);
    await env.sim!.waitFor(() => env.sim!.lockState('lab-lock') === 'locked', 5000, 'lab-lock at rest');
  }, 60_000);

  afterEach(async () => {
    const errors = opened.flatMap((p) => p.errors);
    await Promise.all(opened.splice(0).map((p) => p.close()));
    expect(errors).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await env?.stop();
  });

  it('a forced door raises the alarm banner; a dropped network shows "not live" and the alarm missed meanwhile arrives', async () => {
    const opened = await open();
    const { page } = opened;
    await page.goto('/#/overview');
    await signIn(page, env.accounts.guard);
    await expectHeading(page, 'Overview');
    await page.getByText('Connected: new events appear as they happen.').waitFor();

    const door = env.sim!.door('lab-main');
    await door.force();
    const banner = page.getByRole('alert').filter({ hasText: 'Alarm: Door forced' });
    await banner.waitFor({ timeout: 5000 });
    // The place by its name, as the alarm list says it, not the door's id.
    await page
      .getByRole('alert')
      .filter({ hasText: /Alarm: Door forced at Lab main door/ })
      .waitFor({ timeout: 5000 });
    expect(await banner.textContent()).not.toContain('lab-main');
    expect(await seriousViolations(page)).toEqual([]);
    await banner.getByRole('button', { name: 'Dismiss' }).click();
    await banner.waitFor({ state: 'detached' });
    await door.close();

    // The network drops: the page says it is not live, in words, while it is not.
    opened.networkDown = true;
    env.network.drop();
    const notLive = page.getByRole('alert').filter({ hasText: 'Not live' });
    await notLive.waitFor({ timeout: 5000 });
    // Meanwhile the vault door is forced: the controller raises the alarm, the page cannot hear it.
    const vault = env.sim!.door('vault-door');
    await vault.force();
    await expect.poll(() => events(env.daemon, 'door-forced').length, { timeout: 5000 }).toBe(2);
    expect(await page.getByRole('alert').filter({ hasText: 'Alarm: Door forced' }).count()).toBe(0);

    // Back: the stream resumes after the last id it had, and the missed alarm arrives.
    env.network.restore();
    await notLive.waitFor({ state: 'detached', timeout: 10_000 });
    await banner.waitFor({ timeout: 5000 });
    await expect.poll(() => page.getByRole('cell', { name: 'vault-door' }).count()).toBe(1);
    await page.getByText('Connected: new events appear as they happen.').waitFor();
    opened.networkDown = false;
    await vault.close();
  });

  it('the alarm sound can be muted, and stays muted after a reload', async () => {
    const { page } = await open();
    await page.goto('/#/overview');
    await signIn(page, env.accounts.guard);
    await expectHeading(page, 'Overview');
    const mute = page.getByRole('button', { name: 'Mute alarm sound' });
    expect(await mute.getAttribute('aria-pressed')).toBe('false');
    await mute.click();
    expect(await mute.getAttribute('aria-pressed')).toBe('true');
    await page.reload();
    await expectHeading(page, 'Overview');
    expect(await page.getByRole('button', { name: 'Mute alarm sound' }).getAttribute('aria-pressed')).toBe('true');
  });

  it('on a 10-inch tablet every control is at least 44 px, and the keyboard reaches them with a visible focus', async () => {
    const { page } = await open({ viewport: 'tablet' });
    await page.goto('/#/overview');
    await signIn(page, env.accounts.manager);
    await expectHeading(page, 'Overview');

    const small = (await page.evaluate(`(() => {
      const out = [];
      for (const el of document.querySelectorAll('button, a[href], input, select, textarea')) {
        if (!el.checkVisibility()) continue;
        const r = el.getBoundingClientRect();
        if (r.height < 44 || r.width < 44) out.push((el.textContent || el.getAttribute('aria-label') || el.tagName).trim() + ' ' + Math.round(r.width) + 'x' + Math.round(r.height));
      }
      return out;
    })()`)) as string[];
    expect(small).toEqual([]);

    // Tab from the top: the skip link first, then the nav and the tools, each with a focus ring.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
    const reached: string[] = [];
    while (reached.at(-1) !== 'Sign out' && reached.length < 25) {
      await page.keyboard.press('Tab');
      const { name, outline } = (await page.evaluate(`(() => {
        const el = document.activeElement;
        return { name: el.textContent.trim(), outline: getComputedStyle(el).outlineStyle };
      })()`)) as { name: string; outline: string };
      expect(outline, `focus ring on ${name}`).not.toBe('none');
      reached.push(name);
    }
    // The nav's views first (this role's), then the tools.
    expect(reached).toContain('Overview');
    expect(reached.slice(-4)).toEqual(['Mute alarm sound', 'English', '日本語', 'Sign out']);
    // Enter on a focused button acts: signed out by keyboard alone.
    await page.getByRole('button', { name: 'Sign out' }).focus();
    await page.keyboard.press('Enter');
    await expectHeading(page, 'Sign in');
  });
});
