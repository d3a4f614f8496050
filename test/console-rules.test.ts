/**
 * The console's rules editor and silences in a real browser (Debian's Chromium via playwright-core)
 * against a real callguard, Redis and HTTP server, rules in Redis (CALLGUARD_RULES_SOURCE=redis).
 * Without Chromium it fails, never skips. Screenshots go to test/artifacts/ (git-ignored).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useChromium } from './support/chromium.js';
import { USERS, type TestHttp } from './support/http.js';

const RULES = {
  twilio: { threshold_count: 5, window_minutes: 60, log_patterns: ['twilio api error'], queues: ['calls'] },
  sendgrid: { threshold_count: 50, window_minutes: 20, log_patterns: ['sendgrid 5xx'], queues: ['sms'] },
};
const ARTIFACTS = new URL('./artifacts/', import.meta.url).pathname;

/** Signs in on the form like a person, then opens the console and waits for the active version. */
async function openConsoleAs(page: Page, url: string, who: 'admin' | 'viewer'): Promise<void> {
  await page.goto(`${url}/admin/login`);
  await page.fill('#name', USERS[who].name);
  await page.fill('#secret', USERS[who].secret);
  await Promise.all([page.waitForURL(`${url}/admin/queues/`), page.click('button[type=submit]')]);
  await page.goto(`${url}/admin/`);
  await page.locator('#rules-version', { hasText: /^\d+$/ }).waitFor();
}

/** Puts text into the editor as typing would (the page hears the input). */
const edit = (page: Page, rules: unknown) =>
  page.locator('#rules-json').fill(typeof rules === 'string' ? rules : JSON.stringify(rules, null, 2));

describe('the console’s rules editor and silences in Chromium', { timeout: 60_000 }, () => {
  const browser = useChromium(RULES, { CALLGUARD_QUEUES: 'calls,sms', CALLGUARD_RULES_SOURCE: 'redis' }, { width: 1280, height: 900 });
  let t: TestHttp;
  let page: Page;
  beforeAll(() => mkdirSync(ARTIFACTS, { recursive: true }));
  beforeEach(() => void ({ t, page } = browser));

  it('when an admin edits a threshold, then a bad edit is refused inline, the diff and dry run show, and the confirmed change is version 2', async () => {
    await openConsoleAs(page, t.url, 'admin');
    expect(await page.locator('#rules-version').textContent()).toBe('1');
    expect(JSON.parse(await page.locator('#rules-json').inputValue())).toEqual(RULES);

    // Not JSON, then a rule the start-up check refuses: the error shows beside the editor, nothing changes.
    await edit(page, '{"twilio": ');
    await page.getByRole('button', { name: 'Review changes…' }).click();
    await page.locator('#rules-error', { hasText: 'Not valid JSON' }).waitFor();
    expect(await page.locator('#rules-json').getAttribute('aria-invalid')).toBe('true');
    await edit(page, { ...RULES, twilio: { ...RULES.twilio, threshold_count: -1 } });
    await page.getByRole('button', { name: 'Review changes…' }).click();
    await page.locator('#rules-error', { hasText: 'rule "twilio": field threshold_count' }).waitFor();
    expect(await page.locator('#rules-review-panel').isHidden()).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'console-rules-invalid.png'), fullPage: true });

    // A good edit: the diff names the change, the dry run draws both timelines; Cancel in the dialog changes nothing.
    await edit(page, { ...RULES, twilio: { ...RULES.twilio, threshold_count: 3 } });
    await page.getByRole('button', { name: 'Review changes…' }).click();
    const row = page.locator('#rules-diff tr[data-path="twilio.threshold_count"]');
    await row.waitFor();
    expect(await row.locator('td').allTextContents()).toEqual(['5', '3']);
    expect(await page.locator('#rules-error').textContent()).toBe('');
    await page.locator('#rules-dry-run .dry-rule[data-rule="twilio"] svg[role=img]').nth(1).waitFor();
    expect(
      await page
        .locator('#rules-dry-run .dry-rule[data-rule="twilio"] svg[role=img]')
        .evaluateAll((s) => s.map((x) => x.getAttribute('aria-label'))),
    ).toEqual([expect.stringMatching(/^in force: /), expect.stringMatching(/^proposed: /)]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-rules-review.png'), fullPage: true });

    await page.getByRole('button', { name: 'Apply…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('Publish 1 change as rules version 2?');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(t.cg.liveRules.version).toBe(1);

    await page.getByRole('button', { name: 'Apply…' }).click();
    await dialog.waitFor();
    const [put] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/admin/api/rules') && r.request().method() === 'PUT'),
      dialog.getByRole('button', { name: 'Apply' }).click(),
    ]);
    expect(put.status()).toBe(200);
    await page.locator('#rules-version', { hasText: '2' }).waitFor();
    expect(await page.locator('#notice').textContent()).toBe('Rules version 2 is in force.');
    expect(await page.locator('#rules-review-panel').isHidden()).toBe(true);
    expect(t.cg.liveRules.version).toBe(2);
    expect(t.cg.rules.find((r) => r.name === 'twilio')?.thresholdCount).toBe(3);
    const published = (await t.cg.ledger.audit()).find((e) => e.event === 'rules-published');
    expect(published).toMatchObject({ by: USERS.admin.name, rules: 2 });
  });

  it('when an admin silences a rule from the console, then it is listed, and ending it early removes it; a viewer reads both', async () => {
    await openConsoleAs(page, t.url, 'admin');
    await page.getByRole('checkbox', { name: 'twilio' }).check();
    await page.getByLabel('For (minutes)').fill('90');
    await page.getByLabel('Why').fill('known false positive <b>OPS-12</b>');
    await page.getByRole('button', { name: 'Silence…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('Silence twilio until');
    const [posted] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/admin/api/silences') && r.request().method() === 'POST'),
      dialog.getByRole('button', { name: 'Silence' }).click(),
    ]);
    expect(posted.status()).toBe(201);
    const [silence] = await t.cg.silencer.list();
    expect(silence).toMatchObject({ rules: ['twilio'], by: USERS.admin.name, reason: 'known false positive <b>OPS-12</b>' });
    const listed = page.locator(`#silences tr[data-silence="${silence!.id}"]`);
    await listed.waitFor();
    // The reason is text, not markup.
    expect(await listed.locator('b').count()).toBe(0);
    expect(await listed.textContent()).toContain('known false positive <b>OPS-12</b>');
    await page.screenshot({ path: join(ARTIFACTS, 'console-silences.png'), fullPage: true });

    // A viewer sees the version and the silence, and nothing to press.
    const viewer = await page.context().newPage();
    await viewer.route('**/*', (route) => (route.request().url().startsWith(`${t.url}/`) ? route.continue() : route.abort()));
    await page.context().clearCookies();
    await openConsoleAs(viewer, t.url, 'viewer');
    await viewer.locator(`#silences tr[data-silence="${silence!.id}"]`).waitFor();
    expect(await viewer.locator('#rules-json').getAttribute('readonly')).not.toBeNull();
    expect(await viewer.getByRole('button').count(), 'a viewer sees no buttons').toBe(0);
    await viewer.close();
    await page.context().clearCookies();
    await openConsoleAs(page, t.url, 'admin');

    await page.getByRole('button', { name: 'End the silence of rule twilio early' }).click();
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('End the silence of rule twilio now?');
    const [ended] = await Promise.all([
      page.waitForResponse((r) => r.url().includes('/admin/api/silences/') && r.request().method() === 'DELETE'),
      dialog.getByRole('button', { name: 'End silence' }).click(),
    ]);
    expect(ended.status()).toBe(200);
    await listed.waitFor({ state: 'detached' });
    expect(await page.locator('#silences').textContent()).toContain('No silences.');
    expect(await t.cg.silencer.list()).toEqual([]);
    const audit = await t.cg.ledger.audit();
    expect(audit.find((e) => e.event === 'silence-ended')).toMatchObject({ by: USERS.admin.name });
  });
});
