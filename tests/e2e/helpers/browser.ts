// Headless Chromium (Debian's `chromium`, installed by .ci/run) driven by playwright-core. Every page
// collects its console errors and uncaught exceptions; a test ends by expecting none.
import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM_PATH);

/** Fails loudly under CI (a missing browser is a broken machine there), skips with a warning elsewhere. */
export function requireChromium(what: string): boolean {
  if (hasChromium) return true;
  if (process.env.CI === 'true') throw new Error(`chromium is not installed at ${CHROMIUM_PATH}: ${what} cannot run (CI=true: this is a failure)`);
  console.warn(`\n!!! chromium is not installed at ${CHROMIUM_PATH}: SKIPPING ${what}\n`);
  return false;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // Root in a container has no user namespace for the sandbox.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--autoplay-policy=no-user-gesture-required'],
  });
}

/** A desktop monitor in a guard room, and a 10-inch tablet held upright on patrol. */
export const VIEWPORTS = {
  desktop: { width: 1366, height: 800 },
  tablet: { width: 800, height: 1280 },
} as const;

export interface OpenedPage {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught exceptions, in words, except the answers a test expects (see `expected`). */
  errors: string[];
  close(): Promise<void>;
}

/**
 * Answers the page asks for knowing they may be refused: the browser logs every 4xx as a console
 * error, but these are the page working (who am I, before sign-in; a wrong code), not faults.
 */
const EXPECTED_REFUSALS = [/\/api\/v1\/auth\/me$/, /\/api\/v1\/auth\/login$/, /\/api\/v1\/auth\/totp\/confirm$/];

export async function openPage(
  browser: Browser,
  baseURL: string,
  opts: { viewport?: keyof typeof VIEWPORTS; locale?: string; timezoneId?: string } = {},
): Promise<OpenedPage> {
  const context = await browser.newContext({
    baseURL,
    viewport: VIEWPORTS[opts.viewport ?? 'desktop'],
    locale: opts.locale ?? 'en-GB',
    // Not the site's zone: the page must show times in the site's timezone, not the browser's.
    timezoneId: opts.timezoneId ?? 'Europe/London',
    hasTouch: opts.viewport === 'tablet',
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const url = msg.location().url;
    if (/Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text()) && EXPECTED_REFUSALS.some((r) => r.test(url))) return;
    errors.push(`console error: ${msg.text()}${url ? ` (${url})` : ''}`);
  });
  page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
  return { context, page, errors, close: () => context.close() };
}
