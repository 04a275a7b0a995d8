/**
 * Vaults, credentials and reveal in a real Chromium: create through the forms, reveal with a
 * reason (and the value gone from the page once hidden, after 30 s, on navigation), rotate, the
 * controls each role sees, another tenant's credential, accessibility and a narrow screen.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegistryClient } from '../../src/client/index.js';
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
  tokenWithRole,
} from './console-harness.js';

/** How long a condition may take to hold on a busy machine (expect.poll's default is one second). */
const WAIT = { timeout: 20_000 };

let server: ConsoleServer;
let browser: Browser;
let admin: RegistryClient;
let adminToken: string;
/** A vault and a credential of tenant A made through the API, for the role and tenant checks. */
let seeded: { vaultId: string; credentialId: string; password: string };

beforeAll(async () => {
  const dir = await buildConsole();
  [server, browser] = await Promise.all([startConsoleServer(dir), launchBrowser()]);
  ({ admin, adminToken } = await newTenant(server, 'creds'));
  const vault = await admin.createVault({ name: 'seeded' });
  const password = `seeded-${Math.random().toString(36).slice(2)}`;
  const credential = await admin.storeCredential(vault.id, {
    name: 'seeded-db',
    type: 'basic_auth',
    value: { username: 'app', password },
    expiresAt: new Date(Date.now() + 10 * 86_400_000).toISOString(),
  });
  seeded = { vaultId: vault.id, credentialId: credential.id, password };
});

afterAll(async () => {
  await browser?.close();
  server?.stop();
});

/** Whether `secret` is anywhere the page keeps text: the DOM, the URL, local or session storage. */
async function findSecret(page: Page, secret: string): Promise<string[]> {
  const places: string[] = [];
  if ((await page.content()).includes(secret)) places.push('DOM');
  if (page.url().includes(secret)) places.push('URL');
  const storage = await page.evaluate(() => JSON.stringify([localStorage, sessionStorage]));
  if (storage.includes(secret)) places.push('storage');
  return places;
}

/** A `datetime-local` input's text for `d`, in local time (the browser's is the same machine's). */
function localInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

const idInUrl = (page: Page) => new URL(page.url()).pathname.split('/').at(-1)!;

const heading = (page: Page, name: string) => page.getByRole('heading', { level: 1, name, exact: true });

async function reveal(page: Page, reason: string): Promise<void> {
  await page.getByLabel('Reason', { exact: true }).fill(reason);
  await page.getByRole('button', { name: 'Reveal', exact: true }).click();
  await page.getByText('recorded in the access log').waitFor();
}

describe('vaults and credentials in the console', () => {
  it('creates a vault and a basic_auth credential through the forms, reveals, hides and rotates it', async () => {
    const password = `pw-${Math.random().toString(36).slice(2)}-first`;
    const rotated = `pw-${Math.random().toString(36).slice(2)}-second`;
    const { page, foreign, errors } = await openPage(browser, server.addr);
    await signIn(page, server.addr, adminToken);
    await heading(page, 'Vaults').waitFor();
    await page.getByRole('link', { name: 'seeded', exact: true }).waitFor();

    await page.getByRole('button', { name: 'New vault' }).click();
    await page.getByLabel('Name', { exact: true }).fill('payments');
    await page.getByLabel('Description (optional)').fill('Card processing');
    await page.getByRole('button', { name: 'Create vault' }).click();
    await page.getByRole('link', { name: 'payments', exact: true }).waitFor();
    await page.getByLabel('Search vaults by name').fill('pay');
    await expect.poll(() => page.getByRole('link', { name: 'seeded', exact: true }).count(), WAIT).toBe(0);
    await expectAccessible(page, 'vaults');
    await screenshot(page, 'vaults');

    await page.getByRole('link', { name: 'payments', exact: true }).click();
    await heading(page, 'payments').waitFor();
    await page.getByText('No credentials in this vault yet.').waitFor();
    await page.getByRole('button', { name: 'New credential' }).click();
    await page.getByLabel('Type', { exact: true }).selectOption('basic_auth');
    await page.getByLabel('Name', { exact: true }).fill('db-main');
    await page.getByLabel('Username', { exact: true }).fill('app');
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByLabel('Expires at (optional)').fill(localInput(new Date(Date.now() + 12 * 86_400_000)));
    await expectAccessible(page, 'create credential form');
    await screenshot(page, 'create-credential');
    await page.getByRole('button', { name: 'Create credential' }).click();
    const row = page.getByRole('row').filter({ hasText: 'db-main' });
    await row.waitFor();
    expect(await row.textContent()).toContain('Username and password');
    expect(await row.textContent()).toMatch(/expires in 1[12] days/);
    await expectAccessible(page, 'vault');
    await screenshot(page, 'vault');

    await page.getByRole('link', { name: 'db-main', exact: true }).click();
    await heading(page, 'db-main').waitFor();
    await page.getByTestId('version-1').waitFor();
    await expectAccessible(page, 'credential');
    await screenshot(page, 'credential');

    // Reveal: the value arrives masked, is shown on "Show", and leaves the page on "Hide".
    await reveal(page, 'checking the console');
    expect(await findSecret(page, password)).toEqual([]);
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await expect.poll(() => page.getByTestId('revealed-password').textContent(), WAIT).toBe(password);
    expect(await page.getByTestId('revealed-username').textContent()).toBe('app');
    await expectAccessible(page, 'reveal panel');
    await screenshot(page, 'reveal');
    await page.getByRole('button', { name: 'Hide', exact: true }).click();
    await page.getByRole('button', { name: 'Show', exact: true }).waitFor();
    expect(await findSecret(page, password)).toEqual([]);

    // Navigation drops it: back on the credential, the reason is asked again.
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await page.getByTestId('revealed-password').waitFor();
    await page.getByRole('link', { name: 'payments', exact: true }).click();
    await heading(page, 'payments').waitFor();
    await page.goBack();
    await heading(page, 'db-main').waitFor();
    await page.getByLabel('Reason', { exact: true }).waitFor();
    expect(await findSecret(page, password)).toEqual([]);

    // Rotate through the type's form: version 2 becomes current.
    await page.getByRole('button', { name: 'Rotate with a new value' }).click();
    await page.getByLabel('Username', { exact: true }).fill('app');
    await page.getByLabel('Password', { exact: true }).fill(rotated);
    await page.getByRole('button', { name: 'Rotate to this value' }).click();
    await expect.poll(() => page.getByTestId('current-version').textContent(), WAIT).toBe('2');
    await expect.poll(() => page.getByTestId('version-2').textContent(), WAIT).toContain('current');
    expect(await page.getByTestId('version-1').textContent()).toContain('previous');
    await reveal(page, 'after the rotation');
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await expect.poll(() => page.getByTestId('revealed-password').textContent(), WAIT).toBe(rotated);
    await page.getByRole('button', { name: 'Hide', exact: true }).click();
    await page.getByRole('button', { name: 'Show', exact: true }).waitFor();
    expect(await findSecret(page, rotated)).toEqual([]);
    expect(await findSecret(page, password)).toEqual([]);

    // The access log shows the reveals made here, with their reasons, and never the values.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Access log' }).click();
    await page.getByTestId('audit-row').filter({ hasText: 'checking the console' }).waitFor();
    await page.getByTestId('audit-row').filter({ hasText: 'after the rotation' }).waitFor();
    expect(await findSecret(page, rotated)).toEqual([]);

    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('clears a revealed value from the page after 30 seconds', async () => {
    const { page } = await openPage(browser, server.addr);
    await page.clock.install();
    await signIn(page, server.addr, adminToken);
    await page.goto(`${server.addr}/ui/credentials/${seeded.credentialId}`);
    await heading(page, 'seeded-db').waitFor();
    await reveal(page, 'timer check');
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await expect.poll(() => page.getByTestId('revealed-password').textContent(), WAIT).toBe(seeded.password);
    await page.clock.fastForward('00:31');
    await page.getByText('cleared from the page after 30 seconds. Reveal it again').waitFor();
    await page.getByLabel('Reason', { exact: true }).waitFor();
    expect(await findSecret(page, seeded.password)).toEqual([]);
  });

  it('sends one reveal for a double click: the button is disabled while its call runs', async () => {
    const { page } = await openPage(browser, server.addr);
    await signIn(page, server.addr, adminToken);
    await page.goto(`${server.addr}/ui/credentials/${seeded.credentialId}`);
    await heading(page, 'seeded-db').waitFor();
    const reason = `double ${Math.random().toString(36).slice(2)}`;
    await page.getByLabel('Reason', { exact: true }).fill(reason);
    await page.getByRole('button', { name: 'Reveal', exact: true }).dblclick();
    await page.getByRole('button', { name: 'Show', exact: true }).waitFor();
    const rows = async () =>
      (await admin.listAudit({ credentialId: seeded.credentialId, action: 'reveal' })).items.filter(
        (e) => e.reason === reason,
      ).length;
    expect(await rows()).toBe(1);
  });

  it('deactivates, activates, deletes and restores a credential', async () => {
    const vault = await admin.createVault({ name: 'lifecycle' });
    const c = await admin.storeCredential(vault.id, {
      name: 'short-lived',
      type: 'api_key',
      value: 'k-123456',
    });
    const { page } = await openPage(browser, server.addr);
    await signIn(page, server.addr, adminToken);
    await page.goto(`${server.addr}/ui/credentials/${c.id}`);
    await heading(page, 'short-lived').waitFor();
    await page.getByRole('button', { name: 'Deactivate' }).click();
    await page.getByRole('button', { name: 'Activate', exact: true }).waitFor();
    expect(await page.getByRole('button', { name: 'Reveal', exact: true }).count()).toBe(0);
    await page.getByRole('button', { name: 'Activate', exact: true }).click();
    await page.getByRole('button', { name: 'Deactivate' }).waitFor();
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Type short-lived to confirm').fill('short-lived');
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('button', { name: 'Restore' }).waitFor();
    expect(await page.getByRole('button', { name: 'Reveal', exact: true }).count()).toBe(0);
    await page.getByRole('button', { name: 'Restore' }).click();
    await page.getByRole('button', { name: 'Deactivate' }).waitFor();
    expect((await admin.getCredential(c.id)).deletedAt).toBeNull();
  });

  it('creates a certificate from PEM files and an API key with a random rotator, then runs the rotator', async () => {
    const vault = await admin.createVault({ name: 'pickers' });
    const { page, errors } = await openPage(browser, server.addr);
    await signIn(page, server.addr, adminToken);
    await page.goto(`${server.addr}/ui/vaults/${vault.id}`);
    await heading(page, 'pickers').waitFor();
    await page.getByRole('button', { name: 'New credential' }).click();
    await page.getByLabel('Type', { exact: true }).selectOption('certificate');
    await page.getByLabel('Name', { exact: true }).fill('tls');
    const pem = (label: string) =>
      Buffer.from(`-----BEGIN ${label}-----\nTUlJQg==\n-----END ${label}-----\n`);
    await page
      .getByLabel('Certificate (PEM): read from a file')
      .setInputFiles({ name: 'cert.pem', mimeType: 'application/x-pem-file', buffer: pem('CERTIFICATE') });
    await page
      .getByLabel('Private key (PEM): read from a file')
      .setInputFiles({ name: 'key.pem', mimeType: 'application/x-pem-file', buffer: pem('PRIVATE KEY') });
    await expect
      .poll(() => page.getByLabel('Certificate (PEM)', { exact: true }).inputValue())
      .toContain('BEGIN');
    await page.getByRole('button', { name: 'Create credential' }).click();
    await page.getByRole('link', { name: 'tls', exact: true }).waitFor();

    await page.getByRole('button', { name: 'New credential' }).click();
    await page.getByLabel('Name', { exact: true }).fill('generated');
    await page.getByLabel('API key', { exact: true }).fill('first-key-value');
    await page.getByLabel('Rotator', { exact: true }).selectOption('random');
    await page.getByRole('button', { name: 'Create credential' }).click();
    await page.getByRole('link', { name: 'generated', exact: true }).click();
    await heading(page, 'generated').waitFor();
    await page.getByRole('button', { name: 'Run the rotator' }).click();
    await expect.poll(() => page.getByTestId('current-version').textContent(), WAIT).toBe('2');
    await page.getByTestId('version-2').waitFor();

    // The settings take the rotator away again.
    await page.getByLabel('Rotator', { exact: true }).selectOption('none');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Run the rotator' }).count(), WAIT).toBe(0);
    expect((await admin.getCredential(idInUrl(page))).rotation).toBeNull();
    expect(errors).toEqual([]);
  });

  it("shows a webhook rotator's signing secret once, on the create form's answer", async () => {
    const vault = await admin.createVault({ name: 'hooked' });
    const { page } = await openPage(browser, server.addr);
    await signIn(page, server.addr, adminToken);
    await page.goto(`${server.addr}/ui/vaults/${vault.id}`);
    await page.getByRole('button', { name: 'New credential' }).click();
    await page.getByLabel('Name', { exact: true }).fill('hooked-key');
    await page.getByLabel('API key', { exact: true }).fill('hooked-value');
    await page.getByLabel('Rotator', { exact: true }).selectOption('webhook');
    await page.getByLabel('Rotation endpoint URL').fill('https://rotator.example/rotate');
    await page.getByRole('button', { name: 'Create credential' }).click();
    const notice = page.getByRole('region', { name: 'Signing secret' });
    await notice.waitFor();
    expect(await notice.locator('code').textContent()).toMatch(/^whsec_/);
    await notice.getByRole('button', { name: 'Done' }).click();
    await expect.poll(() => page.getByText('whsec_').count(), WAIT).toBe(0);
    await page.getByRole('link', { name: 'hooked-key', exact: true }).waitFor();
  });

  it('deletes a vault that still holds credentials only after saying so and the name is typed', async () => {
    const vault = await admin.createVault({ name: 'doomed' });
    await admin.storeCredential(vault.id, { name: 'inside', type: 'api_key', value: 'k-doomed' });
    const { page } = await openPage(browser, server.addr);
    await signIn(page, server.addr, adminToken);
    await page.getByRole('button', { name: 'Delete doomed' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('still holds 1 credential').waitFor();
    const confirm = dialog.getByRole('button', { name: 'Delete', exact: true });
    expect(await confirm.isDisabled()).toBe(true);
    await expectAccessible(page, 'delete vault dialog');
    await dialog.getByLabel('Type doomed to confirm').fill('doomed');
    await confirm.click();
    await expect.poll(() => page.getByRole('link', { name: 'doomed', exact: true }).count(), WAIT).toBe(0);
    await expect(admin.getVault(vault.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('shows a reader no rotate, update or delete control, and an auditor no reveal', async () => {
    const url = `${server.addr}/ui/credentials/${seeded.credentialId}`;
    const reader = await openPage(browser, server.addr);
    await signIn(reader.page, server.addr, await tokenWithRole(admin, 'reader'));
    await reader.page.goto(url);
    await heading(reader.page, 'seeded-db').waitFor();
    await reader.page.getByRole('button', { name: 'Reveal', exact: true }).waitFor();
    for (const name of [
      'Rotate with a new value',
      'Run the rotator',
      'Save settings',
      'Delete',
      'Deactivate',
    ]) {
      expect(await reader.page.getByRole('button', { name }).count(), name).toBe(0);
    }
    await reader.page.goto(`${server.addr}/ui/vaults`);
    await reader.page.getByRole('link', { name: 'seeded', exact: true }).waitFor();
    expect(await reader.page.getByRole('button', { name: 'New vault' }).count()).toBe(0);
    expect(await reader.page.getByRole('button', { name: /^Delete/ }).count()).toBe(0);

    const auditor = await openPage(browser, server.addr);
    await signIn(auditor.page, server.addr, await tokenWithRole(admin, 'auditor'));
    await auditor.page.goto(url);
    await heading(auditor.page, 'seeded-db').waitFor();
    await auditor.page.getByTestId('version-1').waitFor();
    expect(await auditor.page.getByRole('button', { name: 'Reveal', exact: true }).count()).toBe(0);
    expect(await auditor.page.getByLabel('Reason', { exact: true }).count()).toBe(0);
    expect(await auditor.page.getByRole('button', { name: 'Rotate with a new value' }).count()).toBe(0);

    const writer = await openPage(browser, server.addr);
    await signIn(writer.page, server.addr, await tokenWithRole(admin, 'writer'));
    await writer.page.goto(url);
    await heading(writer.page, 'seeded-db').waitFor();
    await writer.page.getByRole('button', { name: 'Rotate with a new value' }).waitFor();
    expect(await writer.page.getByRole('button', { name: 'Reveal', exact: true }).count()).toBe(0);
  });

  it("answers another tenant's credential URL with Not found", async () => {
    const other = await newTenant(server, 'creds-other');
    const { page } = await openPage(browser, server.addr);
    await signIn(page, server.addr, other.adminToken);
    await page.goto(`${server.addr}/ui/credentials/${seeded.credentialId}`);
    await heading(page, 'Not found').waitFor();
    await page.goto(`${server.addr}/ui/vaults/${seeded.vaultId}`);
    await heading(page, 'Not found').waitFor();
    expect(await page.getByText('seeded-db').count()).toBe(0);
    await page.goto(`${server.addr}/ui/credentials/not-an-id`);
    await heading(page, 'Not found').waitFor();
  });

  it('fits a 390 px wide screen without scrolling the body sideways', async () => {
    const { page } = await openPage(browser, server.addr, 390);
    await signIn(page, server.addr, adminToken);
    await page.goto(`${server.addr}/ui/vaults/${seeded.vaultId}`);
    await page.getByRole('link', { name: 'seeded-db', exact: true }).waitFor();
    const overflow = () =>
      page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await expectAccessible(page, 'vault at 390 px');
    await screenshot(page, 'vault-390');
    await page.goto(`${server.addr}/ui/credentials/${seeded.credentialId}`);
    await page.getByTestId('version-1').waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await screenshot(page, 'credential-390');
  });
});
