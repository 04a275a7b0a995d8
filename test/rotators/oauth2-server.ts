/**
 * A real OAuth 2.0 authorization server in the test process: `oidc-provider` on 127.0.0.1 over
 * plain http, with two confidential clients that authenticate with `client_secret_basic` and may
 * use the refresh_token grant: one whose refresh tokens the server rotates (spends at each
 * refresh), one whose it keeps.
 *
 * Refresh tokens are minted with the provider's own `Grant` and `RefreshToken` models, which is
 * what its authorization_code grant does after the user consents, without driving a browser
 * through its login pages.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Provider } from 'oidc-provider';

/** An `oauth2_client` credential's value. */
export interface OAuthClientValue {
  client_id: string;
  client_secret: string;
  token_url: string;
}

export interface OAuthServer {
  readonly tokenUrl: string;
  /** Its refresh tokens are rotated. Its secret holds `canary` and characters Basic auth must encode. */
  readonly rotating: OAuthClientValue;
  /** Its refresh tokens are kept from one refresh to the next. */
  readonly keeping: OAuthClientValue;
  /** Lifetime of the access tokens it issues, in seconds. */
  readonly accessTokenTtl: number;
  /** Requests to the token endpoint so far (every refresh is one). */
  readonly tokenRequests: number;
  /** Holds the token endpoint's answers until the returned function is called. */
  hold(): () => void;
  /** A refresh token of a new grant to `client`; `expired`: one whose lifetime is over. */
  mint(client: OAuthClientValue, options?: { expired?: boolean }): Promise<string>;
  /** What token introspection (RFC 7662) says of an access token: the server's own word on "works". */
  isActive(client: OAuthClientValue, accessToken: string): Promise<boolean>;
  /** Revokes a refresh token at the revocation endpoint (RFC 7009), which ends its grant. */
  revoke(client: OAuthClientValue, refreshToken: string): Promise<void>;
  close(): Promise<void>;
}

const ACCOUNT = 'user-1';
const SCOPE = 'api:read offline_access';
const ACCESS_TOKEN_TTL = 3600;

function basic(client: OAuthClientValue): string {
  const encode = (s: string) => new URLSearchParams({ s }).toString().slice(2);
  return `Basic ${Buffer.from(`${encode(client.client_id)}:${encode(client.client_secret)}`).toString('base64')}`;
}

/** Starts the server; `canary` goes into the rotating client's secret. */
export async function startOAuthServer(canary: string): Promise<OAuthServer> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tokenUrl = `${issuer}/token`;
  const rotating = {
    client_id: 'rotating-client',
    client_secret: `s3cret:with+plus%and space/${canary}`,
    token_url: tokenUrl,
  };
  const keeping = { client_id: 'keeping-client', client_secret: `kept-${canary}`, token_url: tokenUrl };

  const provider = new Provider(issuer, {
    clients: [rotating, keeping].map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      grant_types: ['refresh_token'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic' as const,
    })),
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    rotateRefreshToken: (ctx) => ctx.oidc.client?.clientId === rotating.client_id,
    ttl: { AccessToken: ACCESS_TOKEN_TTL, RefreshToken: 86_400, Grant: 86_400 },
    scopes: SCOPE.split(' '),
    features: {
      introspection: { enabled: true },
      revocation: { enabled: true },
      devInteractions: { enabled: false },
    },
  });
  let tokenRequests = 0;
  let held: Promise<void> | null = null;
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (req.method === 'POST' && req.url === '/token') {
      tokenRequests++;
      if (held) return void held.then(() => callback(req, res));
    }
    callback(req, res);
  });

  const post = (client: OAuthClientValue, path: string, form: Record<string, string>) =>
    fetch(`${issuer}${path}`, {
      method: 'POST',
      headers: { authorization: basic(client), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
    });

  return {
    tokenUrl,
    rotating,
    keeping,
    accessTokenTtl: ACCESS_TOKEN_TTL,
    get tokenRequests() {
      return tokenRequests;
    },
    hold() {
      let release!: () => void;
      held = new Promise<void>((resolve) => {
        release = resolve;
      });
      return () => {
        held = null;
        release();
      };
    },
    async mint(client, options = {}) {
      const registered = await provider.Client.find(client.client_id);
      if (!registered) throw new Error(`no client ${client.client_id}`);
      const grant = new provider.Grant({ accountId: ACCOUNT, clientId: client.client_id });
      grant.addOIDCScope(SCOPE);
      const grantId = await grant.save();
      const now = Math.floor(Date.now() / 1000);
      return new provider.RefreshToken({
        accountId: ACCOUNT,
        client: registered,
        grantId,
        scope: SCOPE,
        gty: 'authorization_code',
        // Expired a second ago; the in-memory store keeps it for its clock tolerance (15 s) more,
        // so the server still finds it and says why it refuses it.
        ...(options.expired ? { iat: now - 3600, exp: now - 1 } : {}),
      }).save();
    },
    async isActive(client, accessToken) {
      const res = await post(client, '/token/introspection', { token: accessToken });
      if (res.status !== 200) throw new Error(`introspection answered ${res.status}`);
      return ((await res.json()) as { active: boolean }).active;
    },
    async revoke(client, refreshToken) {
      const res = await post(client, '/token/revocation', {
        token: refreshToken,
        token_type_hint: 'refresh_token',
      });
      if (res.status !== 200) throw new Error(`revocation answered ${res.status}`);
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
