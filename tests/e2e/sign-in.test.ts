// End to end in headless Chromium against the real daemon: signing in with password and TOTP code,
// a first sign-in's forced password change and new authenticator (QR code) in the page, the
// language remembered per account, no untranslated English on the Japanese pages, no console
// errors, and no serious accessibility violation.
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seriousViolations } from './helpers/axe.js';
import { launchBrowser, type OpenedPage, openPage, requireChromium } from './helpers/browser.js';
import { type ConsoleEnv, englishWords, expectHeading, signIn, startConsole, totpCode } from './helpers/console.js';
import { screenshot } from './helpers/screenshot.js';

const run = requireChromium('the console sign-in tests');

describe.skipIf(!run)('console: signing in', () => {
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
  }, 60_000);

  afterEach(async () => {
    // Every page a test opened: no console error and no uncaught exception, whatever it tested.
    const errors = opened.flatMap((p) => p.errors);
    await Promise.all(opened.splice(0).map((p) => p.close()));
    expect(errors).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await env?.stop();
  });

  it('a guard signs in with password and code, after a wrong code is refused in words', async () => {
    const { page } = await open();
    await page.goto('/#/overview');
    await expectHeading(page, 'Sign in');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'sign-in');

    const guard = env.accounts.guard;
    await signIn(page, guard, { code: '000000' });
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'Wrong username, password or code' }).count()).toBe(1);

    await signIn(page, guard);
    await expectHeading(page, 'Overview');
    await page.getByText('Example R&D centre').first().waitFor();
    await page.getByText(guard.username, { exact: true }).waitFor();
    // Live: the stream is open (the badge says so in words, not only in colour).
    await page.getByText('Connected: new events appear as they happen.').waitFor();
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).getAttribute('aria-current')).toBe('page');
    expect(await seriousViolations(page)).toEqual([]);

    // Signed out, the page is the sign-in page again, and the cookie no longer works.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expectHeading(page, 'Sign in');
    await page.reload();
    await expectHeading(page, 'Sign in');
  });

  it('a first sign-in changes the password and sets up a new authenticator through the QR page', async () => {
    const fresh = await env.createAccount('guard.new', 'guard', '山本 光');
    const { page } = await open({ viewport: 'tablet' });
    await page.goto('/#/overview');
    await expectHeading(page, 'Sign in');
    await signIn(page, fresh);

    await expectHeading(page, 'Choose a new password');
    const newPassword = 'amber-harbour-4-silent-fjord';
    // The policy's refusal comes back in words, on the field.
    await page.getByLabel('New password', { exact: true }).fill('password1234');
    await page.getByLabel('New password again', { exact: true }).fill('password1234');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('The new password does not meet the rules').waitFor();
    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await page.getByLabel('New password again', { exact: true }).fill(newPassword);
    await page.getByRole('button', { name: 'Change password' }).click();

    await expectHeading(page, 'Set up your authenticator app');
    const qr = page.getByRole('img', { name: 'QR code to add this account to an authenticator app' });
    await qr.waitFor();
    expect(await qr.getAttribute('src')).toMatch(/^data:image\/svg\+xml/);
    const secret = ((await page.locator('.totp-secret').textContent()) ?? '').replace(/\s/g, '');
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    expect(secret).not.toBe(fresh.totpSecret);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'totp-setup');

    // A wrong code is refused in words; the code from the new seed confirms it.
    await page.getByLabel('Code', { exact: true }).fill('000000');
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText('The code does not match').waitFor();
    const renewed = { ...fresh, password: newPassword, totpSecret: secret, lastStep: undefined };
    await page.getByLabel('Code', { exact: true }).fill(await totpCode(renewed));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expectHeading(page, 'Overview');

    // Signing in again takes the new password and the new seed; the old seed no longer works.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expectHeading(page, 'Sign in');
    await signIn(page, { ...renewed, totpSecret: fresh.totpSecret, lastStep: renewed.lastStep });
    await page.getByText('Wrong username, password or code').waitFor();
    await signIn(page, renewed);
    await expectHeading(page, 'Overview');
  });

  it('日本語 is remembered for the account: across a reload, and in another browser', async () => {
    const manager = env.accounts.manager;
    const first = await open();
    await first.page.goto('/#/overview');
    await signIn(first.page, manager);
    await expectHeading(first.page, 'Overview');
    await first.page.getByRole('button', { name: '日本語' }).click();
    await expectHeading(first.page, '概要');
    expect(await first.page.evaluate('document.documentElement.lang')).toBe('ja');
    await first.page.reload();
    await expectHeading(first.page, '概要');

    // Another browser (nothing in its storage, an English locale) signs in in English and turns
    // Japanese as soon as the account is known.
    const second = await open({ locale: 'en-US' });
    await second.page.goto('/#/overview');
    await expectHeading(second.page, 'Sign in');
    await signIn(second.page, manager);
    await expectHeading(second.page, '概要');

    // Back to English, remembered the same way.
    await second.page.getByRole('button', { name: 'English' }).click();
    await expectHeading(second.page, 'Overview');
    await first.page.reload();
    await expectHeading(first.page, 'Overview');
  });

  it('the Japanese sign-in and overview pages have no untranslated English, and pass axe', async () => {
    const auditor = env.accounts.auditor;
    const { page } = await open({ locale: 'ja-JP' });
    await page.goto('/#/overview');
    // A Japanese browser gets the Japanese page before anyone signs in.
    await expectHeading(page, 'ログイン');
    expect(await englishWords(page)).toEqual([]);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'sign-in-ja');

    await signIn(page, auditor, { code: '000000', language: 'ja' });
    await page.getByText('ユーザー名、パスワード、または確認コードが正しくありません').waitFor();
    expect(await englishWords(page)).toEqual([]);

    await signIn(page, auditor, { language: 'ja' });
    await expectHeading(page, '概要');
    await page.getByText('サンプル研究開発センター').first().waitFor();
    await page.getByText('接続中：新しい出来事がすぐに表示されます。').waitFor();
    expect(await englishWords(page)).toEqual([]);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'overview-ja');

    await page.getByRole('button', { name: 'English' }).click();
    await expectHeading(page, 'Overview');
    await screenshot(page, 'overview');
  });
});
