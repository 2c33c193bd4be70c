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
  /** Set while the test has dropped the network: the browser's own network errors are then expected. */
  networkDown: boolean;
  close(): Promise<void>;
}

/**
 * Answers the page asks for knowing they may be refused: the browser logs every 4xx as a console
 * error, but these are the page working (who am I, before sign-in: 401; a wrong password or code:
 * 401; a new password the policy refuses, a wrong enrolment code: 400), not faults. Any other
 * status on them (a 403 for a missing CSRF token, say) still counts.
 */
const EXPECTED_REFUSALS: { url: RegExp; status: number }[] = [
  { url: /\/api\/v1\/auth\/me$/, status: 401 },
  { url: /\/api\/v1\/auth\/login$/, status: 401 },
  { url: /\/api\/v1\/auth\/password$/, status: 400 },
  { url: /\/api\/v1\/auth\/totp\/confirm$/, status: 400 },
];

function expectedRefusal(text: string, url: string): boolean {
  const status = Number(/Failed to load resource: the server responded with a status of (\d{3})/.exec(text)?.[1]);
  return EXPECTED_REFUSALS.some((r) => r.status === status && r.url.test(url));
}

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
  const opened: OpenedPage = { context, page, errors, networkDown: false, close: () => context.close() };
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const url = msg.location().url;
    if (expectedRefusal(msg.text(), url)) return;
    if (opened.networkDown && /Failed to load resource: net::ERR_/.test(msg.text())) return;
    errors.push(`console error: ${msg.text()}${url ? ` (${url})` : ''}`);
  });
  page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
  return opened;
}
