/**
 * The console's administration views in a real Chromium: tenants and the root key (platform
 * token), the access log with its filters and exports, principals and tokens, vault keys and
 * webhooks (tenant admin), and what an auditor sees.
 */
import { readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isApiError, RegistryClient } from '../../src/client/index.js';
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

const suffix = () => Math.random().toString(36).slice(2, 8);

/** The secret a view shows once, read from the page as a user would copy it. */
async function shownOnce(page: Page): Promise<string> {
  const box = page.getByTestId('shown-once');
  await box.waitFor();
  return ((await box.textContent()) ?? '').trim();
}

/** A small RFC 4180 reader: quoted fields, doubled quotes, CRLF line ends. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}

/** Clicks `button` and answers the text of the file the page downloads. */
async function download(page: Page, button: string): Promise<{ name: string; text: string }> {
  const [file] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: button }).click(),
  ]);
  const path = await file.path();
  return { name: file.suggestedFilename(), text: await readFile(path, 'utf8') };
}

describe('the console for the platform', () => {
  it('creates a tenant and its first admin token, which signs in; shows and rotates the root key', async () => {
    // A vault somewhere, so that the root key wraps at least one vault key.
    await (await newTenant(server, `root-${suffix()}`)).admin.createVault({ name: 'any' });
    const { page, foreign, errors } = await openPage(browser, server.addr);
    await signIn(page, server.addr, server.platformToken);
    await expect.poll(() => page.url()).toBe(`${server.addr}/ui/tenants`);
    const name = `acme-${suffix()}`;
    await page.getByLabel('Tenant name').fill(name);
    await page.getByRole('button', { name: 'Create tenant' }).click();
    const row = page.getByTestId('tenant-row').filter({ hasText: name });
    await row.waitFor();
    await expectAccessible(page, 'tenants');
    await screenshot(page, 'tenants');

    await row.getByRole('button', { name: `Create admin token for ${name}` }).click();
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.getByLabel('Principal name').inputValue()).toBe(`${name}-admin`);
    await dialog.getByRole('button', { name: 'Create token' }).click();
    const token = await shownOnce(page);
    expect(token).toMatch(/^crt\./);
    expect(await dialog.textContent()).toContain('you will not see it again');
    expect(await dialog.getByRole('button', { name: 'Copy token' }).isVisible()).toBe(true);
    await expectAccessible(page, 'tenant admin token');
    await dialog.getByRole('button', { name: 'Done, I have kept it' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(token);
    expect(page.url()).not.toContain(token);

    await page.getByRole('link', { name: 'Root key' }).click();
    await page.getByRole('table').waitFor();
    await expectAccessible(page, 'root key');
    await page.getByRole('button', { name: /Rotate root/ }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Re-wrapped' }).count()).toBe(1);
    await screenshot(page, 'root-key');

    const tenantPage = await openPage(browser, server.addr);
    await signIn(tenantPage.page, server.addr, token);
    expect(await tenantPage.page.getByTestId('who').textContent()).toContain('admin');
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    expect(tenantPage.errors).toEqual([]);
  });
});

describe('the console for a tenant admin', () => {
  it('shows a reveal in the access log with its reason and actor name, narrows it by filters, exports JSONL and CSV', async () => {
    const name = `audit-${suffix()}`;
    const { admin, adminToken } = await newTenant(server, name);
    const vault = await admin.createVault({ name: 'payments' });
    const stripe = await admin.storeCredential(vault.id, {
      name: 'stripe',
      type: 'api_key',
      value: 'sk_test_1',
    });
    const other = await admin.storeCredential(vault.id, {
      name: 'other',
      type: 'api_key',
      value: 'sk_test_2',
    });
    const reason = 'incident 42, "urgent"';
    await admin.revealCredential(stripe.id, { reason });
    await admin.revealCredential(other.id, { reason: 'routine check' });

    const { page, foreign, errors } = await openPage(browser, server.addr);
    await signIn(page, server.addr, adminToken);
    await page.getByRole('link', { name: 'Access log' }).click();
    const rows = page.getByTestId('audit-row');
    const reveal = rows.filter({ hasText: reason });
    await reveal.waitFor();
    expect(await reveal.textContent()).toContain(`${name}-admin`);
    expect(await reveal.textContent()).toContain('reveal');
    const all = await rows.count();
    expect(all).toBeGreaterThan(2);
    await expectAccessible(page, 'access log');
    await screenshot(page, 'audit');

    await page.getByLabel('Action').selectOption('reveal');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => page.url()).toContain('action=reveal');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.allTextContents()).toEqual([
      expect.stringContaining('routine check'),
      expect.stringContaining(reason),
    ]);

    await page.getByLabel('Credential id').fill(stripe.id);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => page.url()).toContain(`credentialId=${stripe.id}`);
    await expect.poll(() => rows.count()).toBe(1);
    await reveal.waitFor();

    const jsonl = await download(page, 'Export JSONL');
    expect(jsonl.name).toMatch(/\.jsonl$/);
    const entries = jsonl.text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(entries).toEqual([
      expect.objectContaining({
        action: 'reveal',
        credentialId: stripe.id,
        reason,
        actorName: `${name}-admin`,
      }),
    ]);

    const csv = await download(page, 'Export CSV');
    expect(csv.name).toMatch(/\.csv$/);
    expect(csv.text).toContain('"incident 42, ""urgent"""');
    const [header, ...body] = parseCsv(csv.text);
    expect(body).toHaveLength(1);
    const record = Object.fromEntries(header!.map((h, i) => [h, body[0]![i]]));
    expect(record).toMatchObject({
      action: 'reveal',
      outcome: 'granted',
      credentialId: stripe.id,
      reason,
      actorName: `${name}-admin`,
    });

    // The filters are the URL's: a reload keeps them, "Clear" drops them.
    await page.reload();
    await expect.poll(() => rows.count()).toBe(1);
    expect(await page.getByLabel('Credential id').inputValue()).toBe(stripe.id);
    await page.getByRole('button', { name: 'Clear' }).click();
    await expect.poll(() => rows.count()).toBe(all);

    // A time range after every entry matches none.
    await page.getByLabel('From (inclusive)').fill('2099-01-01T00:00');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => page.url()).toContain('from=2099-01-01T');
    await page.getByText('No access-log entries match these filters.').waitFor();
    expect(await rows.count()).toBe(0);
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('reads the access log a page at a time with "Load more"', async () => {
    const { admin, adminToken } = await newTenant(server, `pages-${suffix()}`);
    const vault = await admin.createVault({ name: 'many' });
    // With the tenant's and the vault's own entries, one more than a page of 50.
    for (let i = 0; i < 47; i++) {
      await admin.storeCredential(vault.id, { name: `c${i}`, type: 'api_key', value: `v${i}` });
    }
    const total = (await admin.listAudit({ limit: 1000 })).items.length;
    expect(total).toBeGreaterThan(50);
    const { page, errors } = await openPage(browser, server.addr);
    await signIn(page, server.addr, adminToken);
    await page.getByRole('link', { name: 'Access log' }).click();
    const rows = page.getByTestId('audit-row');
    await expect.poll(() => rows.count()).toBe(50);
    await page.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(() => rows.count()).toBe(total);
    await page.getByRole('button', { name: 'Load more' }).waitFor({ state: 'detached' });
    expect(errors).toEqual([]);
  });

  it('creates a principal and a token for it (shown once, and it works), lists and revokes it', async () => {
    const { admin, adminToken } = await newTenant(server, `access-${suffix()}`);
    await admin.createVault({ name: 'ops' });
    const { page, foreign, errors } = await openPage(browser, server.addr);
    await signIn(page, server.addr, adminToken);
    await page.getByRole('link', { name: 'Principals & tokens' }).click();
    await page.getByLabel('Principal name').fill('ci-bot');
    await page.getByLabel('Kind').selectOption('service');
    await page.getByRole('button', { name: 'Create principal' }).click();
    await page.getByRole('cell', { name: 'ci-bot', exact: true }).waitFor();

    await page.getByLabel('Principal', { exact: true }).selectOption({ label: 'ci-bot (service)' });
    await page.getByLabel('Role').selectOption('reader');
    await page.getByLabel('Vault scope').selectOption({ label: 'ops' });
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = await shownOnce(page);
    expect(await page.getByText('you will not see it again').count()).toBe(1);
    const who = await new RegistryClient({ addr: server.addr, token }).whoami();
    expect(who).toMatchObject({ kind: 'tenant', role: 'reader' });
    expect(who.kind === 'tenant' && who.vaultId).toBeTruthy();
    await expectAccessible(page, 'principals & tokens');
    await screenshot(page, 'access');
    await page.getByRole('button', { name: 'Done, I have kept it' }).click();
    await page.getByTestId('shown-once').waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(token);

    const row = page.getByTestId('token-row').filter({ hasText: 'ci-bot' });
    await row.getByRole('button', { name: 'Revoke reader token of ci-bot' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke token' }).click();
    await row.getByText('revoked').waitFor();
    const refused = await new RegistryClient({ addr: server.addr, token }).whoami().catch((e: unknown) => e);
    expect(isApiError(refused) && refused.status).toBe(401);
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("rotates a vault's key, re-wraps its data keys to 0 remaining and destroys the unused version", async () => {
    const { admin, adminToken } = await newTenant(server, `keys-${suffix()}`);
    const vault = await admin.createVault({ name: 'payments' });
    for (const n of ['a', 'b', 'c']) {
      await admin.storeCredential(vault.id, { name: n, type: 'api_key', value: `v-${n}` });
    }
    const { page, foreign, errors } = await openPage(browser, server.addr);
    await signIn(page, server.addr, adminToken);
    await page.goto(`${server.addr}/ui/vaults/${vault.id}/keys`);
    await page.getByRole('heading', { name: 'Keys of payments' }).waitFor();
    await page.getByRole('button', { name: 'Rotate vault key' }).click();
    const status = page.getByTestId('keys-status');
    await expect.poll(() => status.textContent()).toContain('version 2 is now current');
    await expect.poll(() => page.getByTestId('key-version').count()).toBe(2);
    await page.getByRole('button', { name: 'Re-wrap data keys' }).click();
    await expect.poll(() => status.textContent()).toContain('0 remaining');
    const bar = page.getByLabel('Re-wrap progress');
    expect(await bar.getAttribute('value')).toBe(await bar.getAttribute('max'));
    expect((await admin.vaultKeyStatus(vault.id)).versions.find((v) => v.version === 1)?.dataKeys).toBe(0);
    await expectAccessible(page, 'vault keys');
    await screenshot(page, 'vault-keys');

    await page.getByRole('button', { name: 'Destroy version 1' }).click();
    const confirm = page.getByRole('dialog');
    await confirm.getByLabel('Type v1 to confirm').fill('v1');
    await confirm.getByRole('button', { name: 'Destroy' }).click();
    await expect.poll(() => status.textContent()).toContain('version 1 destroyed');
    expect((await admin.vaultKeyStatus(vault.id)).versions.map((v) => v.version)).not.toContain(1);
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('creates a webhook (its secret shown once), sends it a test event, lists its deliveries and deletes it', async () => {
    const { adminToken } = await newTenant(server, `hooks-${suffix()}`);
    const { page, foreign, errors } = await openPage(browser, server.addr);
    await signIn(page, server.addr, adminToken);
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByText('No webhooks yet.').waitFor();
    const url = 'https://hooks.example.com/credreg';
    await page.getByLabel('Receiver URL').fill(url);
    await page.getByLabel('credential.rotated').check();
    await page.getByRole('button', { name: 'Create webhook' }).click();
    expect(await shownOnce(page)).toMatch(/^whsec_/);
    await page.getByRole('button', { name: 'Done, I have kept it' }).click();
    const row = page.getByTestId('webhook-row').filter({ hasText: url });
    await row.waitFor();
    expect(await row.textContent()).toContain('credential.rotated');
    await expectAccessible(page, 'webhooks');
    await screenshot(page, 'webhooks');

    await row.getByRole('link', { name: url }).click();
    await page.getByRole('heading', { name: 'Webhook', exact: true }).waitFor();
    await page.getByText('No deliveries yet.').waitFor();
    await page.getByRole('button', { name: 'Send test event' }).click();
    const delivery = page.getByTestId('delivery-row').filter({ hasText: 'webhook.test' });
    await delivery.waitFor();
    expect(await delivery.textContent()).toContain('pending');
    await expectAccessible(page, 'webhook');
    await screenshot(page, 'webhook');

    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete webhook' }).click();
    await expect.poll(() => page.url()).toBe(`${server.addr}/ui/webhooks`);
    await page.getByText('No webhooks yet.').waitFor();
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
  });
});

describe('the console at 390 px', () => {
  it('keeps every admin view inside the screen width, accessible', async () => {
    const { admin, adminToken } = await newTenant(server, `narrow-${suffix()}`);
    const vault = await admin.createVault({ name: 'narrow' });
    await admin.storeCredential(vault.id, { name: 'k', type: 'api_key', value: 'v' });
    const hook = await admin.createWebhook({ url: 'https://hooks.example.com/narrow' });
    await admin.testWebhook(hook.id);
    const views: [string, string, string][] = [
      [adminToken, '/access', 'Principals & tokens'],
      [adminToken, `/vaults/${vault.id}/keys`, 'Keys of narrow'],
      [adminToken, '/webhooks', 'Webhooks'],
      [adminToken, `/webhooks/${hook.id}`, 'Webhook'],
      [server.platformToken, '/tenants', 'Tenants'],
      [server.platformToken, '/root-key', 'Root key'],
    ];
    for (const [token, path, heading] of views) {
      const { page, errors } = await openPage(browser, server.addr, 390);
      await signIn(page, server.addr, token);
      await page.goto(`${server.addr}/ui${path}`);
      await page.getByRole('heading', { level: 1, name: heading, exact: true }).waitFor();
      await page.getByRole('table').first().waitFor();
      expect(await page.evaluate(() => document.documentElement.scrollWidth), path).toBeLessThanOrEqual(390);
      await expectAccessible(page, `${path} at 390 px`);
      await screenshot(page, `${heading.toLowerCase().replace(/\W+/g, '-')}-390`);
      expect(errors, path).toEqual([]);
      await page.context().close();
    }
  });
});

describe('the console for an auditor', () => {
  it('sees the access log, readable at 390 px, but no principals and tokens', async () => {
    const { admin } = await newTenant(server, `auditor-${suffix()}`);
    const vault = await admin.createVault({ name: 'ops' });
    await admin.storeCredential(vault.id, { name: 'db', type: 'api_key', value: 'x' });
    const auditor = await tokenWithRole(admin, 'auditor');
    const { page, errors } = await openPage(browser, server.addr, 390);
    await signIn(page, server.addr, auditor);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Access log' }).click();
    await page.getByTestId('audit-row').first().waitFor();
    expect(await nav.getByRole('link', { name: 'Principals & tokens' }).count()).toBe(0);
    expect(await nav.getByRole('link', { name: 'Webhooks' }).count()).toBe(0);
    // Wide tables scroll inside their own box; the page itself does not scroll sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await expectAccessible(page, 'access log at 390 px');
    await screenshot(page, 'audit-390');
    expect(errors).toEqual([]);
  });
});
