/**
 * The console's frame in a real Chromium: sign in, what the token may open, the CSP, sign out.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildConsole,
  type ConsoleServer,
  expectAccessible,
  launchBrowser,
  newTenant,
  openPage,
  screenshot,
  signIn,
  startConsoleServer,
} from './console-harness.js';

let server: ConsoleServer;
let browser: Browser;

beforeAll(async () => {
  const dir = await buildConsole();
  [server, browser] = await Promise.all([startConsoleServer(dir), launchBrowser()]);
});

afterAll(async () => {
  await browser?.close();
  server?.stop();
});

describe('the console shell', () => {
  it('signs in with a tenant token, keeps it in sessionStorage only, and forgets it on sign out', async () => {
    const { adminToken } = await newTenant(server, 'shell');
    const { page, foreign, errors } = await openPage(browser, server.addr);
    await page.goto(`${server.addr}/ui/`);
    await page.getByLabel('API token').waitFor();
    await expectAccessible(page, 'sign-in');
    await screenshot(page, 'sign-in');
    await signIn(page, server.addr, adminToken);
    await expect.poll(() => page.url()).toBe(`${server.addr}/ui/vaults`);
    expect(await page.getByTestId('who').textContent()).toContain('admin');
    expect(page.url()).not.toContain(adminToken);
    expect(await page.evaluate(() => JSON.stringify(localStorage))).toBe('{}');
    expect(await page.evaluate(() => sessionStorage.getItem('credreg.token'))).toBe(adminToken);
    expect(await page.content()).not.toContain(adminToken);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('works from the keyboard alone: sign in, skip to the content, open a view, sign out', async () => {
    const { adminToken } = await newTenant(server, 'keyboard');
    const { page } = await openPage(browser, server.addr);
    await page.goto(`${server.addr}/ui/`);
    await page.getByLabel('API token').waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe(
      await page.getByLabel('API token').getAttribute('id'),
    );
    await page.keyboard.type(adminToken);
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    // Each view starts with the focus on its content, so the next Tab is the view's first control.
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('main');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('New vault');
    // A nav link opens its view on Enter.
    await page.getByRole('link', { name: 'Access log' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.url()).toBe(`${server.addr}/ui/audit`);
    await page.getByRole('button', { name: 'Sign out' }).focus();
    await page.keyboard.press('Enter');
    await page.getByLabel('API token').waitFor();
  });

  it('refuses a bad token with the problem the API answered', async () => {
    const { page } = await openPage(browser, server.addr);
    await page.goto(`${server.addr}/ui/`);
    await page.getByLabel('API token').fill('crt.not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('valid, unexpired');
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it('serves /ui under a strict Content-Security-Policy, the HTML never cached and the assets for good', async () => {
    const { page } = await openPage(browser, server.addr);
    const response = await page.goto(`${server.addr}/ui/vaults/some/deep/link`);
    const headers = response!.headers();
    expect(headers['content-security-policy']).toContain("script-src 'self'");
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['content-security-policy']).not.toContain('unsafe');
    expect(headers['cache-control']).toBe('no-store');
    const script = await page.locator('script[src]').first().getAttribute('src');
    const asset = await fetch(`${server.addr}${script}`);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${server.addr}/ui/assets/gone-123.js`)).status).toBe(404);
  });
});
