/**
 * Debian's Chromium driven by playwright-core, for the Bull Board and console tests: one browser
 * profile per file, a fresh callguard and page per test, nothing reached but callguard.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { startTestHttp, stopTestHttp, type TestHttp } from './http.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];
export const UI_TIMEOUT_MS = 10_000;

export interface BrowserTest {
  t: TestHttp;
  page: Page;
}

/** Registers the hooks; the returned object holds the current test's callguard and page. */
export function useChromium(
  rules: Record<string, unknown>,
  env: Record<string, string>,
  viewport?: { width: number; height: number },
): BrowserTest {
  const current = {} as BrowserTest;
  let context: BrowserContext | undefined;
  let profile: string | undefined;

  beforeAll(async () => {
    // Each test fails in beforeEach instead, so a missing Chromium shows as failures, never as skips.
    if (!existsSync(CHROMIUM)) return;
    profile = mkdtempSync(join(tmpdir(), 'callguard-chromium-'));
    // launch() refuses a user-data-dir argument; a persistent context is how Playwright takes one.
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, headless: true, timeout: 15_000 });
  });
  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  beforeEach(async () => {
    expect(
      existsSync(CHROMIUM),
      `Chromium is not installed at ${CHROMIUM}. Install it with \`apt-get install chromium\` (.ci/run does); this test must not be skipped.`,
    ).toBe(true);
    current.t = await startTestHttp(rules, env);
    await context!.clearCookies();
    current.page = await context!.newPage();
    current.page.setDefaultTimeout(UI_TIMEOUT_MS);
    if (viewport) await current.page.setViewportSize(viewport);
    // Pages link web fonts; nothing but callguard is reached, so the tests need no network.
    await current.page.route('**/*', (route) => (route.request().url().startsWith(`${current.t.url}/`) ? route.continue() : route.abort()));
  });
  afterEach(async () => {
    await current.page?.close();
    await stopTestHttp(current.t);
  });
  return current;
}
