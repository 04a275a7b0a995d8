/**
 * What the load works on, set up over the public API as a user would: one tenant, its admin, a
 * reader, a writer and an auditor token, vaults, and api_key credentials whose every written value
 * is remembered, so a reveal can be checked against what was really stored.
 */
import { randomBytes } from 'node:crypto';
import { KeepAliveClient } from './http-client.js';

export interface Workload {
  tenantId: string;
  tokens: { admin: string; reader: string; writer: string; auditor: string };
  /** Vaults new credentials are stored in. */
  vaultIds: string[];
  /** Credentials the load reveals and rotates; stores answered 201 join them. */
  hot: string[];
  /** Credentials whose vault keys should not be cached (the provider scenarios' cold reveals). */
  cold: string[];
  /** Every value written to each credential, acknowledged or not. */
  values: Map<string, Set<string>>;
}

/** A value the size of a typical API key, unique to this write. */
export const apiKey = () => `sk_chaos_${randomBytes(16).toString('hex')}`;

export interface ProvisionOptions {
  name: string;
  /** Vaults for the hot credentials. (Default: 2) */
  vaults?: number;
  /** Hot credentials, spread over those vaults. (Default: 40) */
  credentials?: number;
  /** Vaults with one cold credential each, for cold reveals. (Default: 0) */
  coldVaults?: number;
}

interface Created {
  id: string;
  token: string;
}

/** Creates the tenant and everything in it through `base` with the platform admin token. */
export async function provision(base: string, platformToken: string, o: ProvisionOptions): Promise<Workload> {
  const http = new KeepAliveClient();
  try {
    const tenant = await http.json<Created>(base, 'POST', '/v1/tenants', platformToken, { name: o.name });
    const { token: admin } = await http.json<Created>(
      base,
      'POST',
      `/v1/tenants/${tenant.id}/tokens`,
      platformToken,
      {
        name: 'chaos-admin',
      },
    );
    const tokenFor = async (role: 'reader' | 'writer' | 'auditor') => {
      const p = await http.json<Created>(base, 'POST', '/v1/principals', admin, {
        name: `chaos-${role}`,
        kind: 'service',
      });
      return (await http.json<Created>(base, 'POST', '/v1/tokens', admin, { principalId: p.id, role })).token;
    };
    const w: Workload = {
      tenantId: tenant.id,
      tokens: {
        admin,
        reader: await tokenFor('reader'),
        writer: await tokenFor('writer'),
        auditor: await tokenFor('auditor'),
      },
      vaultIds: [],
      hot: [],
      cold: [],
      values: new Map(),
    };
    const vault = async (name: string) =>
      (await http.json<Created>(base, 'POST', '/v1/vaults', admin, { name })).id;
    const credential = async (vaultId: string, name: string) => {
      const value = apiKey();
      const c = await http.json<Created>(base, 'POST', `/v1/vaults/${vaultId}/credentials`, w.tokens.writer, {
        name,
        type: 'api_key',
        value,
      });
      w.values.set(c.id, new Set([value]));
      return c.id;
    };
    for (let v = 0; v < (o.vaults ?? 2); v++) w.vaultIds.push(await vault(`hot-${v}`));
    const credentials = o.credentials ?? 40;
    for (let i = 0; i < credentials; i++)
      w.hot.push(await credential(w.vaultIds[i % w.vaultIds.length]!, `seed-${i}`));
    for (let v = 0; v < (o.coldVaults ?? 0); v++)
      w.cold.push(await credential(await vault(`cold-${v}`), 'cold'));
    return w;
  } finally {
    http.close();
  }
}
