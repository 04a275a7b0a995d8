/** The subset of `oidc-provider` (v9, untyped) the OAuth 2.0 rotator tests use. */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface ClientMetadata {
    client_id: string;
    client_secret?: string;
    grant_types?: string[];
    response_types?: string[];
    redirect_uris?: string[];
    token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post' | 'none';
  }

  export interface Account {
    accountId: string;
    claims(): Record<string, unknown>;
  }

  /** The request context the provider passes to configuration functions. */
  export interface KoaContextWithOIDC {
    oidc: { client?: { clientId: string } };
  }

  export interface Configuration {
    clients?: ClientMetadata[];
    findAccount?(ctx: KoaContextWithOIDC, sub: string): Account | undefined | Promise<Account | undefined>;
    /** Whether a refresh spends the refresh token and issues a new one. */
    rotateRefreshToken?: boolean | ((ctx: KoaContextWithOIDC) => boolean);
    /** Lifetimes in seconds, by model name (`AccessToken`, `RefreshToken`, `Grant`, …). */
    ttl?: Record<string, number>;
    features?: Record<string, { enabled: boolean }>;
    scopes?: string[];
  }

  export interface Client {
    clientId: string;
  }

  export interface Grant {
    addOIDCScope(scope: string): void;
    /** Stores it; resolves with its id. */
    save(): Promise<string>;
    destroy(): Promise<void>;
  }

  export interface RefreshToken {
    /** Stores it; resolves with the token value. */
    save(): Promise<string>;
  }

  export class Provider {
    constructor(issuer: string, configuration?: Configuration);
    /** A request listener for node:http. */
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    readonly Client: { find(id: string): Promise<Client | undefined> };
    readonly Grant: {
      new (payload: { accountId: string; clientId: string }): Grant;
      find(id: string): Promise<Grant | undefined>;
    };
    readonly RefreshToken: new (payload: {
      accountId: string;
      client: Client;
      grantId: string;
      scope: string;
      gty?: string;
      /** Unix seconds; set both to mint one that has already expired. */
      iat?: number;
      exp?: number;
    }) => RefreshToken;
  }
}
