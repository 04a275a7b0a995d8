/**
 * The web console's end-to-end harness: the console built by Vite into a temporary directory, a
 * real `credreg serve` on a fresh embedded store serving it, and Debian's Chromium driven by
 * playwright-core (nothing downloads a browser here).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Browser, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { RegistryClient } from '../../src/client/index.js';
import { type ServeHandle, startServe } from '../helpers/cli-server.js';

const run = promisify(execFile);

/** Builds the console (the same `vite build` as `npm run build`) into a fresh directory. */
export async function buildConsole(): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'credreg-ui-'));
  await run(
    process.execPath,
    [
      'node_modules/vite/bin/vite.js',
      'build',
      '--config',
      'ui/vite.config.ts',
      '--outDir',
      outDir,
      '--logLevel',
      'warn',
      // Each suite builds into its own directory; Vite's per-project lock would fail the one that starts second.
      '--bypass-lock',
    ],
    { env: { ...process.env, NODE_ENV: 'production' } },
  );
  return outDir;
}

export interface ConsoleServer extends ServeHandle {
  /** A client with the platform token. */
  platform: RegistryClient;
}

/** `credreg serve` on a fresh embedded store, serving the console built in `consoleDir`. */
export async function startConsoleServer(consoleDir: string): Promise<ConsoleServer> {
  const server = await startServe({
    CREDREG_CONSOLE_DIR: consoleDir,
    CREDREG_ROTATION_INTERVAL_MS: '0',
    CREDREG_WEBHOOK_INTERVAL_MS: '0',
    CREDREG_AUDIT_SEAL_INTERVAL_MS: '0',
    CREDREG_AUDIT_SINK_INTERVAL_MS: '0',
  });
  return { ...server, platform: new RegistryClient({ addr: server.addr, token: server.platformToken }) };
}

/** A tenant with an admin token, made through the API. */
export async function newTenant(
  server: ConsoleServer,
  name: string,
): Promise<{ tenantId: string; admin: RegistryClient; adminToken: string }> {
  const tenant = await server.platform.createTenant({ name });
  const { token } = await server.platform.createTenantAdminToken(tenant.id, { name: `${name}-admin` });
  return { tenantId: tenant.id, adminToken: token, admin: new RegistryClient({ addr: server.addr, token }) };
}

/** A tenant token of `role` for a new principal, made by the tenant's admin. */
export async function tokenWithRole(
  admin: RegistryClient,
  role: 'admin' | 'writer' | 'reader' | 'auditor',
  vaultId?: string,
): Promise<string> {
  const principal = await admin.createPrincipal({
    name: `${role}-${Math.random().toString(36).slice(2, 8)}`,
    kind: 'user',
  });
  const { token } = await admin.createToken({
    principalId: principal.id,
    role,
    ...(vaultId ? { vaultId } : {}),
  });
  return token;
}

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Debian's Chromium, headless. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true });
}

/**
 * A page that records every request it makes that leaves the server's origin (the console makes
 * none) and every page error.
 */
export async function openPage(
  browser: Browser,
  addr: string,
  width = 1280,
): Promise<{ page: Page; foreign: string[]; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await context.newPage();
  const foreign: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(addr) && !r.url().startsWith('data:')) foreign.push(r.url());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  return { page, foreign, errors };
}

/** Opens the console and signs in with `token`. */
export async function signIn(page: Page, addr: string, token: string): Promise<void> {
  await page.goto(`${addr}/ui/`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/**
 * Runs axe-core on the page as it is and fails on any serious or critical violation. axe is put
 * in through the DevTools protocol, which the page's CSP does not govern (a `<script>` would be
 * refused, as it should be).
 */
export async function expectAccessible(page: Page, view: string): Promise<void> {
  const already = await page.evaluate(() => 'axe' in window);
  if (!already) await page.evaluate(axeSource);
  const violations = (await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(): Promise<{ violations: unknown[] }> } }).axe;
    return (await axe.run()).violations;
  })) as AxeViolation[];
  const bad = violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(bad, `accessibility of ${view}`).toEqual([]);
}

/** Where the tests save their screenshots (the best are copied to docs/console/ by hand). */
export const SCREENSHOT_DIR =
  process.env.CONSOLE_SCREENSHOT_DIR ?? join(tmpdir(), 'credreg-console-screenshots');

/** Saves a PNG of the page as `name`.png in {@link SCREENSHOT_DIR}. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}
