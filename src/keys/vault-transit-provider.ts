import { RegistryError } from '../core/errors.js';
import type { CurrentRootKeyTest, KeyContext, RootKeyProvider, WrappedKey } from '../core/ports.js';
import { vaultKeyAad } from '../core/ports.js';

export interface VaultTransitOptions {
  /** e.g. `https://vault.internal:8200` */
  addr: string;
  token: string;
  /** The Transit key's name. */
  key: string;
  /** Where the Transit engine is mounted. (Default: `transit`) */
  mount?: string;
  /** Per-request timeout, in ms. (Default: 5000) */
  timeoutMs?: number;
  /** Attempts for calls that fail to reach Vault (5xx, 429, network). (Default: 3) */
  attempts?: number;
  fetch?: typeof fetch;
}

type ResolvedOptions = Required<VaultTransitOptions>;

/** The AES-GCM associated data Vault binds the wrapped key to (Transit's `associated_data`). */
function associatedData(c: KeyContext): string {
  return vaultKeyAad(c).toString('base64');
}

/** The Transit key version a `vault:vN:…` ciphertext names (0 if it names none). */
export function transitKeyVersion(wrapped: WrappedKey): number {
  const m = /^vault:v(\d+):/.exec(Buffer.from(wrapped.ciphertext.subarray(0, 24)).toString('latin1'));
  return m ? Number(m[1]) : 0;
}

/**
 * Vault keys wrapped by HashiCorp Vault's Transit engine (`encrypt`/`decrypt` over HTTP with a
 * token). The stored ciphertext is Transit's own `vault:vN:…` string, so Transit's key version
 * travels with it.
 *
 * After `vault write -f transit/keys/<key>/rotate`, a root rotation moves vault keys from older
 * Transit versions to the latest. Transit's own `rewrap` endpoint cannot do it: it takes no
 * `associated_data`, and every ciphertext here is bound to its tenant, vault and version through
 * it. So the move is a decrypt and an encrypt, with the vault key in this process for a moment, as
 * on any cold reveal.
 */
export class VaultTransitKeyProvider implements RootKeyProvider {
  readonly name = 'vault-transit';
  readonly keyId: string;
  readonly #o: ResolvedOptions;

  constructor(options: VaultTransitOptions) {
    this.#o = {
      mount: 'transit',
      timeoutMs: 5000,
      attempts: 3,
      fetch: globalThis.fetch,
      ...options,
    };
    this.keyId = `vault-transit:${this.#o.mount}/${this.#o.key}`;
  }

  canUnwrap(wrapped: WrappedKey): boolean {
    return wrapped.provider === this.name && wrapped.providerKeyId === this.keyId;
  }

  /** Asks Transit for the key's latest version (`read` on `<mount>/keys/<key>`). */
  async currentKeyTest(): Promise<CurrentRootKeyTest> {
    const data = await this.#call('GET', 'keys');
    const latest = data.latest_version;
    if (typeof latest !== 'number')
      throw new RegistryError('CRYPTO', 'Vault Transit returned no latest_version for the key');
    return (wrapped) => this.canUnwrap(wrapped) && transitKeyVersion(wrapped) >= latest;
  }

  async wrapKey(plaintextKey: Uint8Array, context: KeyContext): Promise<WrappedKey> {
    const data = await this.#call('POST', 'encrypt', {
      plaintext: Buffer.from(plaintextKey).toString('base64'),
      associated_data: associatedData(context),
    });
    const ciphertext = data.ciphertext;
    if (typeof ciphertext !== 'string')
      throw new RegistryError('CRYPTO', 'Vault Transit returned no ciphertext');
    return {
      provider: this.name,
      ciphertext: Buffer.from(ciphertext, 'utf8'),
      providerKeyId: this.keyId,
    };
  }

  async unwrapKey(wrapped: WrappedKey, context: KeyContext): Promise<Uint8Array> {
    /* Precondition: the key was wrapped by this Transit key. */
    if (wrapped.providerKeyId !== this.keyId) {
      throw new RegistryError(
        'CRYPTO',
        `this vault key was wrapped by ${wrapped.providerKeyId}, but the configured root key is ${this.keyId}`,
      );
    }
    const data = await this.#call('POST', 'decrypt', {
      ciphertext: Buffer.from(wrapped.ciphertext).toString('utf8'),
      associated_data: associatedData(context),
    });
    if (typeof data.plaintext !== 'string')
      throw new RegistryError('CRYPTO', 'Vault Transit returned no plaintext');
    return Buffer.from(data.plaintext, 'base64');
  }

  async #call(
    method: 'GET' | 'POST',
    op: 'encrypt' | 'decrypt' | 'keys',
    body?: Record<string, string>,
  ): Promise<Record<string, unknown>> {
    const url = `${this.#o.addr.replace(/\/$/, '')}/v1/${this.#o.mount}/${op}/${encodeURIComponent(this.#o.key)}`;
    let last: RegistryError | undefined;
    for (let attempt = 1; attempt <= this.#o.attempts; attempt++) {
      if (attempt > 1) await new Promise((r) => setTimeout(r, 100 * 2 ** (attempt - 2)));
      let res: Response;
      try {
        res = await this.#o.fetch(url, {
          method,
          headers: { 'x-vault-token': this.#o.token, 'content-type': 'application/json' },
          body: body && JSON.stringify(body),
          signal: AbortSignal.timeout(this.#o.timeoutMs),
        });
      } catch (err) {
        last = new RegistryError('UNAVAILABLE', 'Vault Transit could not be reached; retry later', {
          cause: err,
        });
        continue;
      }
      if (res.status === 429 || res.status >= 500) {
        await res.body?.cancel();
        last = new RegistryError('UNAVAILABLE', `Vault Transit answered ${res.status}; retry later`);
        continue;
      }
      const payload = (await res.json().catch(() => ({}))) as { data?: Record<string, unknown> };
      // Vault's error texts can quote the request: keep only the status.
      if (!res.ok)
        throw new RegistryError('CRYPTO', `Vault Transit refused the key operation (${res.status})`);
      return payload.data ?? {};
    }
    throw last!;
  }
}
