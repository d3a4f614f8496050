/**
 * The Bull Board in a real browser: Debian's Chromium driven by playwright-core, against a real
 * callguard and HTTP server. test/support/global-setup.ts installs Chromium when it is missing (as
 * root) or stops the run with the command to run: this test never skips.
 */
import type { Page } from 'playwright-core';
import { beforeEach, describe, expect, it } from 'vitest';
import { UI_TIMEOUT_MS, useChromium } from './support/chromium.js';
import { ticks } from './support/fences.js';
import { request, tokenOf, USERS, type TestHttp } from './support/http.js';

const RULES = { twilio: { threshold_count: 5, window_minutes: 2, log_patterns: ['twilio api error'] } };
const SCREENSHOT = '/tmp/board.png';

type Who = 'admin' | 'viewer';

/** A queue in the board's sidebar; its text gains "[ Paused ]", its title stays the name. */
const queueLink = (page: Page, name: string) => page.getByRole('navigation').locator(`a[title="${name}"]`);

interface SignIn {
  status: number;
  /** What the browser shows and what it sent, for assertion messages. */
  detail: string;
}

/** Fills the sign-in form like a person and submits it. */
async function signIn(page: Page, who: Who, secret = USERS[who].secret): Promise<SignIn> {
  await page.fill('#name', USERS[who].name);
  await page.fill('#secret', secret);
  const [posted] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/admin/login') && r.request().method() === 'POST'),
    page.click('button[type=submit]'),
  ]);
  await page.waitForLoadState();
  const origin = await posted.request().headerValue('origin');
  const shown = (await page.textContent('body'))?.trim().slice(0, 300);
  return {
    status: posted.status(),
    detail: `sign-in as ${who} answered ${posted.status()} (the browser sent Origin: ${origin}): ${shown}`,
  };
}

async function expectSignedIn(page: Page, who: Who): Promise<void> {
  const { status, detail } = await signIn(page, who);
  expect(status, detail).toBe(303);
  expect(new URL(page.url()).pathname).toBe('/admin/queues/');
  await queueLink(page, 'calls').waitFor({ timeout: UI_TIMEOUT_MS });
}

/** Opens a queue's page from the sidebar and waits until it has rendered and loaded its data. */
async function openQueue(page: Page, name: string): Promise<void> {
  await queueLink(page, name).click();
  await page.waitForURL(`**/queue/${name}`);
  await page.locator(`main a[href$="/queue/${name}?status=active"]`).waitFor();
  // The page re-renders as its data arrives; menus counted before that can vanish under the click.
  await page.waitForLoadState('networkidle');
}

/** Opens each menu on the page in turn; returns every item offered. */
async function menuItems(page: Page): Promise<string[]> {
  const triggers = page.locator('button[aria-haspopup="menu"]');
  const items: string[] = [];
  for (let i = 0; i < (await triggers.count()); i++) {
    await triggers.nth(i).click();
    await page.getByRole('menuitem').first().waitFor({ timeout: UI_TIMEOUT_MS });
    items.push(...(await page.getByRole('menuitem').allTextContents()).map((s) => s.trim()));
    await page.keyboard.press('Escape');
  }
  return items;
}

/** Clicks the queue action `label` (its menu, the item, then Confirm in Bull Board's dialog) and waits for the board's API call. */
async function queueAction(page: Page, queue: string, label: 'Pause' | 'Resume'): Promise<number> {
  const triggers = page.locator('button[aria-haspopup="menu"]');
  for (let i = 0; i < (await triggers.count()); i++) {
    await triggers.nth(i).click();
    await page.getByRole('menuitem').first().waitFor();
    const item = page.getByRole('menuitem', { name: label, exact: true });
    if ((await item.count()) === 0) {
      await page.keyboard.press('Escape');
      continue;
    }
    await item.click();
    const dialog = page.getByRole('alertdialog');
    await dialog.getByText(`want to ${label.toLowerCase()} queue processing`).waitFor({ timeout: UI_TIMEOUT_MS });
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/api/queues/${queue}/${label.toLowerCase()}`) && r.request().method() === 'PUT'),
      dialog.getByRole('button', { name: 'Confirm' }).click(),
    ]);
    return answer.status();
  }
  throw new Error(`no menu on ${page.url()} offers ${label}`);
}

const isPaused = (t: TestHttp, queue: string) => t.cg.dispatch.get(queue)!.isPaused();

describe('Bull Board in Chromium', () => {
  const browser = useChromium(RULES, { CALLGUARD_QUEUES: 'calls,sms' });
  let t: TestHttp;
  let page: Page;
  beforeEach(() => void ({ t, page } = browser));

  it('when a viewer opens the board, then sign-in comes first, a wrong secret is refused, and the board is read-only', async () => {
    await page.goto(`${t.url}/admin/queues`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    await page.locator('form[action="/admin/login"]').waitFor();

    const wrong = await signIn(page, 'viewer', 'not-the-viewer-secret');
    expect(wrong.status, wrong.detail).toBe(401);
    expect(await page.getByRole('alert').textContent()).toContain('Unknown name or wrong secret');
    expect(new URL(page.url()).pathname).toBe('/admin/login');

    await expectSignedIn(page, 'viewer');
    expect(await page.title()).toBe('callguard (read-only)');
    const queues = await page
      .getByRole('navigation')
      .getByRole('link')
      .evaluateAll((links) => links.map((a) => a.getAttribute('title')));
    expect(queues.sort()).toEqual(['callguard.events', 'callguard.notifications', 'calls', 'sms']);

    await openQueue(page, 'calls');
    const offered = await menuItems(page);
    expect(offered).not.toContain('Pause');
    expect(offered).not.toContain('Resume');
    // The board's own API call, from the viewer's page: refused, whatever the UI shows.
    const status = await page.evaluate(async () => (await fetch('api/queues/calls/pause', { method: 'PUT' })).status);
    expect(status).toBe(403);
    expect(await t.cg.ledger.list()).toEqual([]);
    expect(await isPaused(t, 'calls')).toBe(false);
  });

  it('when an admin pauses calls on the board, then a manual hold in the admin’s name pauses it through the next tick, and resume releases it', async () => {
    await page.goto(`${t.url}/admin/queues/`);
    await expectSignedIn(page, 'admin');
    expect(await page.title()).toBe('callguard');

    await openQueue(page, 'calls');
    expect(await queueAction(page, 'calls', 'Pause')).toBe(200);

    const status = (await request(`${t.url}/health/service`, { token: tokenOf('admin') })).json;
    expect(status.holds).toEqual([
      expect.objectContaining({ kind: 'manual', scope: ['calls'], by: USERS.admin.name, reason: 'paused from Bull Board' }),
    ]);
    expect(status.queues.calls).toMatchObject({ paused: true, held: true });
    expect(await isPaused(t, 'calls')).toBe(true);
    expect(await isPaused(t, 'sms')).toBe(false);

    // Two evaluator ticks that began after the pause: a silent Queue.pause() would be repaired away.
    await ticks(t.cg.events, 2);
    expect(await isPaused(t, 'calls')).toBe(true);
    expect((await t.cg.ledger.list()).map((h) => h.by)).toEqual([USERS.admin.name]);

    await page.goto(`${t.url}/admin/queues/`);
    await page.getByRole('navigation').getByText('Paused').waitFor();
    for (const queue of ['calls', 'sms', 'callguard.events', 'callguard.notifications'])
      await page.locator(`main a[title="${queue}"]`).waitFor();
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    await openQueue(page, 'calls');
    expect(await queueAction(page, 'calls', 'Resume')).toBe(200);
    expect(await t.cg.ledger.list()).toEqual([]);
    expect(await isPaused(t, 'calls')).toBe(false);
    const [released] = await t.cg.ledger.audit(1);
    expect(released).toMatchObject({ event: 'hold-released', by: USERS.admin.name, reason: 'resumed from Bull Board', resumed: ['calls'] });
  });
});
