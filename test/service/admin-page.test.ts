import { mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureText } from '../support/events.js';
import { startRunProcess, type RunningService } from '../support/service.js';

/** The admin page in a real browser (Debian's Chromium): sign in, read the schedules, run one, see it in the history. */
describe('admin page in Chromium', () => {
  let service: RunningService;
  let browser: Browser;

  beforeAll(async () => {
    const executablePath = process.env['GRADESTREAM_CHROMIUM'];
    if (!executablePath) throw new Error('GRADESTREAM_CHROMIUM is not set: run the suite with `npm test` (scripts/tools.sh installs Chromium)');
    service = await startRunProcess();
    browser = await chromium.launch({
      executablePath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  it('signs in, runs a schedule now and shows who ran it', async () => {
    await fetch(`${service.base}/events`, { method: 'POST', body: fixtureText('grade_change'), headers: { 'x-gradestream-secret': 's3cret' } });
    const page = await browser.newPage();
    await page.goto(`${service.base}/`);
    await page.fill('input[name=token]', 'wrong');
    await page.click('button[type=submit]');
    expect(await page.textContent('body')).toContain('That token is not valid.');

    await page.fill('input[name=token]', 'adm');
    await page.click('button[type=submit]');
    const headings = await page.$$eval('#schedules th', (ths) => ths.map((th) => th.textContent));
    expect(headings).toEqual(['Schedule', 'Hour of Day', 'Next Run', 'Status', 'Posted By', 'Actions']);
    const cells = await page.$$eval('#schedules tbody td', (tds) => tds.map((td) => td.textContent?.trim()));
    expect(cells.slice(0, 5)).toEqual(['nightly', '02:00 America/Denver', expect.stringMatching(/^\d{4}-\d\d-\d\d 02:00 M[SD]T$/), 'Enabled', 'Registrar']);

    // Each row's buttons say which schedule they act on (every row has the same ones).
    expect(await page.getAttribute('#schedules button:has-text("Run this schedule now")', 'aria-label')).toBe('Run this schedule now: nightly');
    await page.click('text=Run this schedule now');
    // The button answers once the run is in the history, not when it ends: reload until it has.
    const historyRows = () => page.$$eval('#history tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
    let history = await historyRows();
    for (let i = 0; i < 50 && history[0]?.[6] === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      await page.reload();
      history = await historyRows();
    }
    expect(history).toHaveLength(1);
    expect(history[0]!.slice(2, 4)).toEqual(['manual', 'ada']);
    expect(history[0]![6]).toBe('succeeded');
    expect(history[0]![7]).toBe('1');
    expect(history[0]![9]).toMatch(/gradestream-.*-nightly-r1\.csv$/); // where the batch went

    await page.click('text=Pause');
    expect(await page.textContent('#schedules tbody')).toContain('Suspended');
    mkdirSync('var', { recursive: true });
    await page.screenshot({ path: 'var/admin-page.png', fullPage: true });

    // The session cookie is HttpOnly: scripts on the page cannot read it.
    expect(await page.evaluate('document.cookie')).toBe('');
  });
});
