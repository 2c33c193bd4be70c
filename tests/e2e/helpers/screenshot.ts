// Screenshots of the console for the README, under docs/console/<name>.png. A test run rewrites the
// committed ones only when asked (UPDATE_SCREENSHOTS=1) or when one is missing: every run would
// otherwise change them (the clock, a new TOTP secret) and leave the tree dirty. Otherwise they go
// to a temporary directory, so the path is exercised all the same.
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';

export const SCREENSHOT_DIR = resolve(import.meta.dirname, '../../../docs/console');
let scratch: string | undefined;

export async function screenshot(page: Page, name: string): Promise<string> {
  const committed = join(SCREENSHOT_DIR, `${name}.png`);
  const update = process.env.UPDATE_SCREENSHOTS === '1' || !existsSync(committed);
  let path = committed;
  if (update) mkdirSync(SCREENSHOT_DIR, { recursive: true });
  else {
    scratch ??= mkdtempSync(join(tmpdir(), 'tobira-screenshots-'));
    path = join(scratch, `${name}.png`);
  }
  // No blinking caret or half-finished transition in a picture.
  await page.screenshot({ path, fullPage: false, animations: 'disabled', caret: 'hide' });
  return path;
}
