// The auditor's console, end to end: the real daemon and the firmware simulator make the entry log
// (card reads at the example site's doors), headless Chromium signs an auditor in (password + TOTP),
// lands on the entry log, filters it by door and decision and by person, pages to older records,
// downloads the CSV export (headers in the page's language, only the filtered rows), verifies the
// entry log (the checkpoint used is shown) and the audit log, and reads and exports the audit log, which records
// the exports. In Japanese too: no English label left; axe finds nothing serious; no console errors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrol, type RawSite } from '../helpers/daemon.js';
import { seriousViolations } from './helpers/axe.js';
import { launchBrowser, type OpenedPage, openPage, requireChromium } from './helpers/browser.js';
import { type ConsoleEnv, englishWords, expectHeading, signIn, startConsole, waitForText } from './helpers/console.js';
import { screenshot } from './helpers/screenshot.js';

const GRANTED_AT_LAB = 30;
const DENIED_AT_LAB = 4;
const AT_VAULT = 3;

/** A minimal CSV reader (quoted cells with commas, quotes and line breaks), enough for the export. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** The visible rows of the log table: each row's cells' text. */
async function tableRows(page: Page): Promise<string[][]> {
  return page.locator('.log-results tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim() ?? '')));
}

async function download(page: Page, link: string): Promise<string> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: link, exact: true }).click()]);
  const path = await file.path();
  return readFileSync(path, 'utf8');
}

describe.runIf(requireChromium('the auditor console test'))('the auditor console', () => {
  let env: ConsoleEnv;
  let browser: Browser;
  let opened: OpenedPage;
  let page: Page;

  beforeAll(async () => {
    env = await startConsole({
      edit: (raw: RawSite) => {
        // Card-only doors, so one swipe is one decision; no anti-passback or two-person rule in the way.
        for (const area of raw.areas) {
          area.factors = ['card'];
          delete area.antiPassback;
          delete area.twoPerson;
        }
        // The denials made here are data, not an attack: no repeated-denials alarm over the page.
        raw.alarms = { ...(raw.alarms ?? {}), repeatedDenials: { count: 100, withinMinutes: 1 } };
        // A signed checkpoint every 10 records, so verify checks the records made here against one.
        raw.log = { ...(raw.log ?? {}), checkpointEveryRecords: 10 };
      },
    });
    await enrol(env.daemon, { name: 'Ito Jun', affiliation: '製造部', card: 'C0000001', areas: ['lab', 'vault'], outOfHours: true });
    await enrol(env.daemon, { name: 'Mori Aki', affiliation: '研究開発部', card: 'C0000002', areas: ['lab'], outOfHours: true });
    const sim = env.sim!;
    const swipe = async (reader: string, card: string, expected: 'granted' | 'denied') => {
      const shown = sim.expectCommand(
        reader,
        (c) => c.command === 'indicate' && (c.pattern === 'granted' || c.pattern === 'denied'),
        3000,
        `${reader} decides`,
      );
      await sim.swipe(reader, card);
      expect(((await shown) as { pattern: string }).pattern).toBe(expected);
    };
    for (let i = 0; i < GRANTED_AT_LAB; i++) {
      await swipe('lab-reader', i % 2 ? 'C0000002' : 'C0000001', 'granted');
      if (i % 10 === 0) await swipe('lab-reader', 'DEADBEEF', 'denied');
    }
    await swipe('lab-reader', 'DEADBEE0', 'denied');
    for (let i = 0; i < AT_VAULT; i++) await swipe('vault-reader', 'C0000001', 'granted');
    browser = await launchBrowser();
    opened = await openPage(browser, env.url);
    page = opened.page;
  }, 60_000);

  afterAll(async () => {
    await opened?.close();
    await browser?.close();
    await env?.stop();
  });

  it('signs in and lands on the entry log, newest first', async () => {
    await page.goto('/');
    await signIn(page, env.accounts.auditor);
    await expectHeading(page, 'Entry log');
    await page.locator('.log-results[aria-busy="false"] tbody tr').first().waitFor();
    const rows = await tableRows(page);
    expect(rows.length).toBe(GRANTED_AT_LAB + DENIED_AT_LAB + AT_VAULT);
    const seqs = rows.map((r) => Number(r[0]));
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('filters by door and decision, and pages to older records and back', async () => {
    await page.getByLabel('Door', { exact: true }).selectOption({ label: 'Lab main door' });
    await page.getByLabel('Decision', { exact: true }).selectOption({ label: 'Granted' });
    await page.getByLabel('Rows per page', { exact: true }).selectOption('25');
    await page.getByRole('button', { name: 'Apply filters', exact: true }).click();
    await waitForText(page, 'Filtered by: Door Lab main door · Decision Granted');
    await waitForText(page, 'Page 1');
    await page.locator('.log-results[aria-busy="false"]').waitFor();
    const first = await tableRows(page);
    expect(first).toHaveLength(25);
    for (const r of first) {
      expect(r[2]).toBe('Lab main door');
      expect(r[6]).toContain('Granted');
    }
    expect(first.some((r) => r[4]?.startsWith('Ito Jun')) && first.some((r) => r[4]?.startsWith('Mori Aki'))).toBe(true);
    expect(page.url()).toContain('door=lab-main');

    await page.getByRole('button', { name: 'Older', exact: true }).click();
    await waitForText(page, 'Page 2');
    await page.locator('.log-results[aria-busy="false"]').waitFor();
    const second = await tableRows(page);
    expect(second).toHaveLength(GRANTED_AT_LAB - 25);
    expect(Math.max(...second.map((r) => Number(r[0])))).toBeLessThan(Math.min(...first.map((r) => Number(r[0]))));
    for (const r of second) expect([r[2], r[6]]).toEqual(['Lab main door', expect.stringContaining('Granted')]);
    await waitForText(page, 'The oldest records: nothing older matches.');
    expect(await page.getByRole('button', { name: 'Older', exact: true }).isDisabled()).toBe(true);

    await page.getByRole('button', { name: 'Newer', exact: true }).click();
    await waitForText(page, 'Page 1');
    await page.locator('.log-results[aria-busy="false"]').waitFor();
    expect((await tableRows(page)).map((r) => r[0])).toEqual(first.map((r) => r[0]));
    await page.evaluate('window.scrollTo(0, 0)');
    await screenshot(page, 'auditor-en');
  });

  it('downloads the filtered CSV, its headers in English', async () => {
    const text = await download(page, 'Download CSV');
    expect(text.charCodeAt(0)).toBe(0xfeff);
    const [header, ...rows] = parseCsv(text.slice(1)).filter((r) => r.length > 1);
    expect(header!.slice(0, 5)).toEqual(['seq', 'time', 'kind', 'door', 'area']);
    const door = header!.indexOf('door');
    const decision = header!.indexOf('decision');
    expect(rows).toHaveLength(GRANTED_AT_LAB);
    for (const r of rows) expect([r[door], r[decision]]).toEqual(['lab-main', 'granted']);
  });

  it('filters by a person found by name', async () => {
    await page.getByRole('button', { name: 'Clear filters', exact: true }).click();
    await page.getByLabel('Person', { exact: true }).fill('Mori');
    // The suggestions arrive (the person's name shows once the id is picked or resolved).
    await page.waitForResponse((r) => r.url().includes('/api/v1/people?') && r.status() === 200);
    await page.getByRole('button', { name: 'Apply filters', exact: true }).click();
    await waitForText(page, 'Filtered by: Person Mori Aki');
    await page.locator('.log-results[aria-busy="false"]').waitFor();
    const rows = await tableRows(page);
    expect(rows).toHaveLength(GRANTED_AT_LAB / 2);
    for (const r of rows) expect(r[4]).toMatch(/^Mori Aki/);
  });

  it('verifies the entry log and shows the checkpoint it used, and the audit log', async () => {
    await page.getByRole('link', { name: 'Verify the logs', exact: true }).first().click();
    await expectHeading(page, 'Verify the logs');
    await page.getByRole('button', { name: 'Verify the entry log', exact: true }).click();
    const section = page.locator('section.verify-section', { has: page.locator('#verify-entries') });
    // The verdict is a badge: a symbol (hidden from screen readers) and the word.
    await section
      .locator('.verify-verdict')
      .getByText(/^\W*Verified$/)
      .waitFor({ timeout: 15_000 });
    const text = (await section.textContent()) ?? '';
    const shown = /Checkpoint usedNo\. (\d+) \((\w+)\), covering (\d+) records, signed/.exec(text);
    expect(shown, text).not.toBeNull();
    const hash = (await section.locator('.verify-hash').textContent())?.trim();
    // The checkpoint shown is one the gateway signed: its id, count and head hash as stored.
    const db = new Database(join(env.daemon.dataDir, 'tobira.db'), { readonly: true });
    try {
      const cp = db.prepare('SELECT id, count, head_hash AS headHash FROM checkpoints WHERE id = ?').get(Number(shown![1])) as
        | { id: number; count: number; headHash: string }
        | undefined;
      expect(cp).toEqual({ id: Number(shown![1]), count: Number(shown![3]), headHash: hash });
      expect(cp!.count).toBeGreaterThanOrEqual(30);
    } finally {
      db.close();
    }

    await page.getByRole('button', { name: 'Verify the audit log', exact: true }).click();
    const audit = page.locator('section.verify-section', { has: page.locator('#verify-audit') });
    await audit
      .locator('.verify-verdict')
      .getByText(/^\W*Verified$/)
      .waitFor({ timeout: 15_000 });
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('reads the audit log, filtered to the exports', async () => {
    await page.getByRole('link', { name: 'Audit log', exact: true }).first().click();
    await expectHeading(page, 'Audit log');
    await page.getByLabel('Action', { exact: true }).fill('entry.export');
    await page.getByRole('button', { name: 'Apply filters', exact: true }).click();
    await page.locator('.log-results[aria-busy="false"] tbody tr').first().waitFor();
    await waitFor(async () => (await tableRows(page)).length === 1 && (await tableRows(page))[0]![4] === 'entry.export');
    const [row] = await tableRows(page);
    expect(row![2]).toBe(env.accounts.auditor.username);
    expect(row![6]).toContain('Done');
    expect(await seriousViolations(page)).toEqual([]);

    // The download is what is filtered, whole: the one entry export, not this download's own record.
    const text = await download(page, 'Download CSV');
    const [header, ...rows] = parseCsv(text.replace(/^\uFEFF/, '')).filter((r) => r.length > 1);
    expect(header!.slice(0, 7)).toEqual(['seq', 'at', 'account', 'role', 'action', 'target', 'outcome']);
    expect(rows.map((r) => [r[2], r[4], r[6]])).toEqual([[env.accounts.auditor.username, 'entry.export', 'done']]);
  });

  it('in Japanese: every label translated, the CSV headers in Japanese', async () => {
    await page.getByRole('button', { name: '日本語', exact: true }).click();
    await expectHeading(page, '監査ログ');
    // Format names are proper names (CSV, JSON Lines).
    expect(await englishWords(page, ['CSV', 'JSON', 'Lines'])).toEqual([]);

    await page.getByRole('link', { name: 'ログの検証', exact: true }).first().click();
    await expectHeading(page, 'ログの検証');
    await page.getByRole('button', { name: '入退室記録を検証', exact: true }).click();
    await page.locator('.verify-verdict').getByText('検証済み').waitFor({ timeout: 15_000 });
    expect(await englishWords(page)).toEqual([]);

    await page.getByRole('link', { name: '入退室記録', exact: true }).first().click();
    await expectHeading(page, '入退室記録');
    await page.getByLabel('扉', { exact: true }).selectOption({ label: '研究室正面扉' });
    await page.getByLabel('判定', { exact: true }).selectOption({ label: '許可' });
    await page.getByRole('button', { name: '絞り込む', exact: true }).click();
    await waitForText(page, '絞り込み中：扉 研究室正面扉 · 判定 許可');
    await page.locator('.log-results[aria-busy="false"] tbody tr').first().waitFor();
    expect((await tableRows(page)).every((r) => r[2] === '研究室正面扉' && r[6]?.includes('許可'))).toBe(true);
    // Format names are proper names (CSV, JSON Lines).
    expect(await englishWords(page, ['CSV', 'JSON', 'Lines'])).toEqual([]);
    expect(await seriousViolations(page)).toEqual([]);
    await page.evaluate('window.scrollTo(0, 0)');
    await screenshot(page, 'auditor-ja');

    const text = await download(page, 'CSVをダウンロード');
    const [header, ...rows] = parseCsv(text.replace(/^\uFEFF/, '')).filter((r) => r.length > 1);
    expect(header!.slice(0, 5)).toEqual(['通番', '日時', '種別', '扉', '区域']);
    const decision = header!.indexOf('判定');
    const door = header!.indexOf('扉');
    expect(rows).toHaveLength(GRANTED_AT_LAB);
    for (const r of rows) expect([r[door], r[decision]]).toEqual(['lab-main', 'granted']);
  });

  it('on a 10-inch tablet every control of the three views is touch-sized', async () => {
    await page.setViewportSize({ width: 800, height: 1280 });
    try {
      for (const [hash, heading] of [
        ['#/entries', '入退室記録'],
        ['#/audit', '監査ログ'],
        ['#/verify', 'ログの検証'],
      ] as const) {
        await page.goto(`/${hash}`);
        await expectHeading(page, heading);
        if (hash === '#/verify') {
          await page.getByRole('button', { name: '入退室記録を検証', exact: true }).click();
          await page.locator('.verify-verdict').first().waitFor({ timeout: 15_000 });
        } else await page.locator('.log-results[aria-busy="false"] tbody tr').first().waitFor();
        const small = (await page.evaluate(`(() => {
          const out = [];
          const controls = [...document.querySelectorAll('main button, main a[href], main input, main select, main summary')].filter((el) => el.checkVisibility());
          if (controls.length < 3) out.push('only ' + controls.length + ' controls found');
          for (const el of controls) {
            const r = el.getBoundingClientRect();
            if (r.height < 44 || r.width < 44) out.push((el.textContent || el.tagName).trim() + ' ' + Math.round(r.width) + 'x' + Math.round(r.height));
          }
          return out;
        })()`)) as string[];
        expect(small, hash).toEqual([]);
      }
    } finally {
      await page.setViewportSize({ width: 1366, height: 800 });
    }
  });

  it('made no console errors', () => {
    expect(opened.errors).toEqual([]);
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}
