import { randomBytes } from 'node:crypto';
import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ReEncryptCommand,
} from '@aws-sdk/client-kms';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyContext, RootKeyProvider, WrappedKey } from '../../src/core/ports.js';
import { AwsKmsKeyProvider, encryptionContext } from '../../src/keys/aws-kms-provider.js';
import { LocalKeyProvider } from '../../src/keys/local-key-provider.js';
import { Pkcs11KeyProvider } from '../../src/keys/pkcs11-provider.js';
import { transitKeyVersion, VaultTransitKeyProvider } from '../../src/keys/vault-transit-provider.js';
import { fakeKms, KEY_ARN, OTHER_KEY_ARN } from '../helpers/kms-fake.js';
import { HAS_SOFTHSM, SOFTHSM_MODULE, softHsmToken } from '../helpers/softhsm.js';
import { transitStandIn } from '../helpers/transit-stand-in.js';

const ctx: KeyContext = {
  tenantId: '01890000-0000-7000-8000-000000000001',
  vaultId: '01890000-0000-7000-8000-000000000002',
  vaultKeyVersion: 1,
};

interface Subject {
  provider: RootKeyProvider;
  /** Make the provider unreachable (UNAVAILABLE) or refusing (CRYPTO), or well again. */
  set(mode: 'down' | 'refuses' | 'well'): void;
  keyIdPattern: RegExp;
  /** How the provider's key version shows in what it wraps, when it versions its keys. */
  keyVersion?: (w: WrappedKey) => number;
}

const fake = fakeKms();
let transit: Awaited<ReturnType<typeof transitStandIn>>;
let hsm: Pkcs11KeyProvider | undefined;

const SUBJECTS: Record<string, () => Subject> = {
  local: () => {
    const p = new LocalKeyProvider(randomBytes(32));
    return { provider: p, set: () => {}, keyIdPattern: /^local:[0-9a-f]{16}$/ };
  },
  'aws-kms': () => ({
    provider: new AwsKmsKeyProvider({
      keyId: 'alias/credreg',
      client: new KMSClient({ region: 'eu-west-1' }),
    }),
    set: (mode) => {
      fake.state.failWith =
        mode === 'down' ? 'ThrottlingException' : mode === 'refuses' ? 'AccessDeniedException' : null;
    },
    keyIdPattern: /^arn:aws:kms:/,
  }),
  ...(HAS_SOFTHSM
    ? {
        pkcs11: (): Subject => {
          hsm = Pkcs11KeyProvider.open({
            module: SOFTHSM_MODULE,
            ...softHsmToken(),
            keyLabel: 'credreg-root',
          });
          return { provider: hsm, set: () => {}, keyIdPattern: /^pkcs11:credreg\/credreg-root$/ };
        },
      }
    : {}),
  'vault-transit': () => ({
    provider: new VaultTransitKeyProvider({
      addr: transit.addr,
      token: 'test-token',
      key: 'credreg',
      attempts: 2,
    }),
    set: (mode) => {
      transit.state.status = mode === 'down' ? 503 : mode === 'refuses' ? 403 : null;
    },
    keyIdPattern: /^vault-transit:transit\/credreg$/,
    keyVersion: transitKeyVersion,
  }),
};

beforeAll(async () => {
  transit = await transitStandIn();
});
afterAll(() => {
  transit.server.close();
  fake.kms.restore();
  hsm?.close();
});

for (const [name, make] of Object.entries(SUBJECTS)) {
  describe(`root key provider conformance: ${name}`, () => {
    let s: Subject;
    beforeAll(() => {
      s = make();
    });

    it('round-trips a vault key and names the key that wrapped it', async () => {
      const key = randomBytes(32);
      const wrapped = await s.provider.wrapKey(key, ctx);
      expect(wrapped.provider).toBe(name);
      expect(wrapped.providerKeyId).toMatch(s.keyIdPattern);
      expect(Buffer.from(wrapped.ciphertext).includes(key)).toBe(false);
      expect(Buffer.from(await s.provider.unwrapKey(wrapped, ctx)).equals(key)).toBe(true);
    });

    it('records its key id (and version) with what it wraps, claims it, and calls it current', async () => {
      const wrapped = await s.provider.wrapKey(randomBytes(32), ctx);
      expect(wrapped.providerKeyId).toMatch(s.keyIdPattern);
      if (s.keyVersion) expect(s.keyVersion(wrapped)).toBeGreaterThanOrEqual(1);
      expect(s.provider.canUnwrap(wrapped)).toBe(true);
      expect((await s.provider.currentKeyTest())(wrapped, ctx)).toBe(true);
      for (const foreign of [
        { ...wrapped, provider: 'other' },
        { provider: 'local', providerKeyId: 'local:0000000000000000', ciphertext: wrapped.ciphertext },
      ]) {
        expect(s.provider.canUnwrap(foreign)).toBe(false);
        expect((await s.provider.currentKeyTest())(foreign, ctx)).toBe(false);
      }
    });

    it('refuses to unwrap under another tenant, vault or key version (CRYPTO)', async () => {
      const wrapped = await s.provider.wrapKey(randomBytes(32), ctx);
      for (const other of [
        { ...ctx, tenantId: ctx.vaultId },
        { ...ctx, vaultId: ctx.tenantId },
        { ...ctx, vaultKeyVersion: 2 },
      ]) {
        await expect(s.provider.unwrapKey(wrapped, other)).rejects.toMatchObject({ code: 'CRYPTO' });
      }
    });

    it('refuses a tampered wrapped key (CRYPTO)', async () => {
      const wrapped = await s.provider.wrapKey(randomBytes(32), ctx);
      const bytes = Buffer.from(wrapped.ciphertext);
      bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0x01;
      await expect(s.provider.unwrapKey({ ...wrapped, ciphertext: bytes }, ctx)).rejects.toMatchObject({
        code: 'CRYPTO',
      });
    });

    it('works under concurrent use', async () => {
      const keys = Array.from({ length: 40 }, () => randomBytes(32));
      const wrapped = await Promise.all(keys.map((k) => s.provider.wrapKey(k, ctx)));
      const back = await Promise.all(wrapped.map((w) => s.provider.unwrapKey(w, ctx)));
      for (const [i, b] of back.entries()) expect(Buffer.from(b).equals(keys[i]!)).toBe(true);
    });

    // The local and PKCS#11 providers are in-process: they cannot be down or refuse on their own.
    it.skipIf(name === 'local' || name === 'pkcs11')(
      'says UNAVAILABLE when the provider is down, CRYPTO when it refuses',
      async () => {
        const wrapped = await s.provider.wrapKey(randomBytes(32), ctx);
        try {
          s.set('down');
          await expect(s.provider.wrapKey(randomBytes(32), ctx)).rejects.toMatchObject({
            code: 'UNAVAILABLE',
          });
          await expect(s.provider.unwrapKey(wrapped, ctx)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
          s.set('refuses');
          await expect(s.provider.unwrapKey(wrapped, ctx)).rejects.toMatchObject({ code: 'CRYPTO' });
        } finally {
          s.set('well');
        }
        expect((await s.provider.unwrapKey(wrapped, ctx)).length).toBe(32);
      },
    );
  });
}

describe('aws-kms at the SDK boundary', () => {
  it('sends Encrypt and Decrypt with the configured key and an encryption context of ids only', async () => {
    fake.kms.resetHistory();
    const provider = new AwsKmsKeyProvider({
      keyId: 'alias/credreg',
      client: new KMSClient({ region: 'eu-west-1' }),
    });
    const wrapped = await provider.wrapKey(randomBytes(32), ctx);
    await provider.unwrapKey(wrapped, ctx);
    const [enc] = fake.kms.commandCalls(EncryptCommand);
    const [dec] = fake.kms.commandCalls(DecryptCommand);
    expect(enc!.args[0].input).toMatchObject({
      KeyId: 'alias/credreg',
      EncryptionContext: encryptionContext(ctx),
    });
    expect(dec!.args[0].input).toMatchObject({ KeyId: KEY_ARN, EncryptionContext: encryptionContext(ctx) });
    expect(encryptionContext(ctx)).toEqual({
      'credreg:tenant': ctx.tenantId,
      'credreg:vault': ctx.vaultId,
      'credreg:vault-key-version': '1',
    });
  });

  it('bad or expired AWS credentials are refusals (CRYPTO), throttling is UNAVAILABLE', async () => {
    const provider = new AwsKmsKeyProvider({
      keyId: 'alias/credreg',
      client: new KMSClient({ region: 'eu-west-1' }),
    });
    try {
      for (const name of [
        'UnrecognizedClientException',
        'ExpiredTokenException',
        'KMSInvalidStateException',
      ]) {
        fake.state.failWith = name;
        await expect(provider.wrapKey(randomBytes(32), ctx)).rejects.toMatchObject({ code: 'CRYPTO' });
      }
      for (const name of ['ThrottlingException', 'KMSInternalException', 'TimeoutError']) {
        fake.state.failWith = name;
        await expect(provider.wrapKey(randomBytes(32), ctx)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      }
    } finally {
      fake.state.failWith = null;
    }
  });

  it('makes a vault key with GenerateDataKey (AES_256), bound to the same context', async () => {
    fake.kms.resetHistory();
    const provider = new AwsKmsKeyProvider({
      keyId: 'alias/credreg',
      client: new KMSClient({ region: 'eu-west-1' }),
    });
    const { plaintext, wrapped } = await provider.generateKey(ctx);
    expect(fake.kms.commandCalls(GenerateDataKeyCommand)[0]!.args[0].input).toEqual({
      KeyId: 'alias/credreg',
      KeySpec: 'AES_256',
      EncryptionContext: encryptionContext(ctx),
    });
    expect(wrapped).toMatchObject({ provider: 'aws-kms', providerKeyId: KEY_ARN });
    expect(Buffer.from(await provider.unwrapKey(wrapped, ctx)).equals(Buffer.from(plaintext))).toBe(true);
    expect(fake.kms.commandCalls(EncryptCommand)).toHaveLength(0);
  });

  it('after the alias moves to another key, only ReEncrypt moves a vault key: it never leaves KMS', async () => {
    const provider = new AwsKmsKeyProvider({
      keyId: 'alias/credreg',
      client: new KMSClient({ region: 'eu-west-1' }),
    });
    const wrapped = await provider.wrapKey(randomBytes(32), ctx);
    try {
      fake.aliases.set('alias/credreg', OTHER_KEY_ARN); // aws kms update-alias
      fake.kms.resetHistory();
      const isCurrent = await provider.currentKeyTest();
      expect(fake.kms.commandCalls(DescribeKeyCommand)[0]!.args[0].input).toEqual({ KeyId: 'alias/credreg' });
      expect(isCurrent(wrapped, ctx)).toBe(false);
      const moved = await provider.rewrapKey(wrapped, ctx);
      expect(fake.kms.commandCalls(ReEncryptCommand)[0]!.args[0].input).toEqual({
        CiphertextBlob: wrapped.ciphertext,
        SourceKeyId: KEY_ARN,
        SourceEncryptionContext: encryptionContext(ctx),
        DestinationKeyId: 'alias/credreg',
        DestinationEncryptionContext: encryptionContext(ctx),
      });
      expect(fake.kms.commandCalls(DecryptCommand)).toHaveLength(0);
      expect(moved.providerKeyId).toBe(OTHER_KEY_ARN);
      expect(isCurrent(moved, ctx)).toBe(true);
      expect((await provider.unwrapKey(moved, ctx)).length).toBe(32);
    } finally {
      fake.aliases.set('alias/credreg', KEY_ARN);
    }
  });

  it('a DescribeKey it may not call stops the current-key test with CRYPTO', async () => {
    const provider = new AwsKmsKeyProvider({
      keyId: 'alias/credreg',
      client: new KMSClient({ region: 'eu-west-1' }),
    });
    fake.state.failWith = 'AccessDeniedException';
    try {
      await expect(provider.currentKeyTest()).rejects.toMatchObject({ code: 'CRYPTO' });
    } finally {
      fake.state.failWith = null;
    }
  });

  it('uses a tenant key when one is configured, and judges that tenant’s keys current by it', async () => {
    fake.kms.resetHistory();
    const provider = new AwsKmsKeyProvider({
      keyId: 'alias/credreg',
      tenantKeys: { [ctx.tenantId]: OTHER_KEY_ARN },
      client: new KMSClient({ region: 'eu-west-1' }),
    });
    const other = { ...ctx, tenantId: ctx.vaultId }; // a tenant without its own key
    const tenants = await provider.wrapKey(randomBytes(32), ctx);
    const defaults = await provider.wrapKey(randomBytes(32), other);
    expect(fake.kms.commandCalls(EncryptCommand).map((c) => c.args[0].input.KeyId)).toEqual([
      OTHER_KEY_ARN,
      'alias/credreg',
    ]);
    expect([tenants.providerKeyId, defaults.providerKeyId]).toEqual([OTHER_KEY_ARN, KEY_ARN]);
    const isCurrent = await provider.currentKeyTest();
    expect(isCurrent(tenants, ctx)).toBe(true);
    expect(isCurrent(defaults, other)).toBe(true);
    // The same ciphertexts judged for the other tenant: not under that tenant's key.
    expect(isCurrent(tenants, other)).toBe(false);
    expect(isCurrent(defaults, ctx)).toBe(false);
    const moved = await provider.rewrapKey(defaults, other);
    expect(moved.providerKeyId).toBe(KEY_ARN);
  });
});

describe('vault-transit specifics', () => {
  it('after a Transit key rotation, keys under the older version are no longer current', async () => {
    const t = await transitStandIn();
    try {
      const p = new VaultTransitKeyProvider({ addr: t.addr, token: 'test-token', key: 'credreg' });
      const old = await p.wrapKey(randomBytes(32), ctx);
      expect(transitKeyVersion(old)).toBe(1);
      t.rotate();
      const isCurrent = await p.currentKeyTest();
      expect(t.calls).toContain('GET /v1/transit/keys/credreg');
      expect(isCurrent(old, ctx)).toBe(false);
      const fresh = await p.wrapKey(randomBytes(32), ctx);
      expect(transitKeyVersion(fresh)).toBe(2);
      expect(isCurrent(fresh, ctx)).toBe(true);
      expect((await p.unwrapKey(old, ctx)).length).toBe(32); // older versions still decrypt
    } finally {
      t.server.close();
    }
  });

  it('Precondition: the key was wrapped by this Transit key', async () => {
    const a = new VaultTransitKeyProvider({ addr: transit.addr, token: 'test-token', key: 'credreg' });
    const wrapped = await a.wrapKey(randomBytes(32), ctx);
    const b = new VaultTransitKeyProvider({ addr: transit.addr, token: 'test-token', key: 'other' });
    await expect(b.unwrapKey(wrapped, ctx)).rejects.toThrow(/wrapped by vault-transit:transit\/credreg/);
  });

  it('a wrong token is a refusal (CRYPTO), and an unreachable server is UNAVAILABLE', async () => {
    const wrongToken = new VaultTransitKeyProvider({ addr: transit.addr, token: 'nope', key: 'credreg' });
    await expect(wrongToken.wrapKey(randomBytes(32), ctx)).rejects.toMatchObject({ code: 'CRYPTO' });
    const nowhere = new VaultTransitKeyProvider({
      addr: 'http://127.0.0.1:1',
      token: 't',
      key: 'credreg',
      attempts: 1,
    });
    await expect(nowhere.wrapKey(randomBytes(32), ctx)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe.skipIf(!HAS_SOFTHSM)('pkcs11 against SoftHSM2', () => {
  it('keeps its key on the token, sensitive and not extractable', () => {
    expect(hsm).toBeDefined();
    // The provider above has the module initialised in this process: share it, finalise nothing.
    const lib = new pkcs11js.PKCS11();
    lib.load(SOFTHSM_MODULE);
    const slot = lib.C_GetSlotList(true).find((x) => lib.C_GetTokenInfo(x).label.trim() === 'credreg')!;
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    try {
      // Already logged in: a login is per token and process, and the provider holds one.
      lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: 'credreg-root' }]);
      const key = lib.C_FindObjects(session);
      lib.C_FindObjectsFinal(session);
      expect(key).toBeTruthy();
      const attrs = lib.C_GetAttributeValue(session, key!, [
        { type: pkcs11js.CKA_EXTRACTABLE },
        { type: pkcs11js.CKA_SENSITIVE },
        { type: pkcs11js.CKA_TOKEN },
      ]);
      expect(attrs.map((a) => (a.value as Buffer)[0])).toEqual([0, 1, 1]);
      expect(() => lib.C_GetAttributeValue(session, key!, [{ type: pkcs11js.CKA_VALUE }])).toThrow();
    } finally {
      lib.C_CloseSession(session);
    }
  });

  it('a closed session is UNAVAILABLE, a refused operation CRYPTO', async () => {
    const other = Pkcs11KeyProvider.open({
      module: SOFTHSM_MODULE,
      tokenLabel: 'credreg',
      pin: '1234',
      keyLabel: 'credreg-root',
    });
    const wrapped = await other.wrapKey(randomBytes(32), ctx);
    await expect(other.unwrapKey({ ...wrapped, ciphertext: Buffer.alloc(60, 1) }, ctx)).rejects.toMatchObject(
      { code: 'CRYPTO' },
    );
    other.close();
    await expect(other.wrapKey(randomBytes(32), ctx)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('a retired provider finds its key or refuses to start: a new key would unwrap nothing', () => {
    expect(() =>
      Pkcs11KeyProvider.open({
        module: SOFTHSM_MODULE,
        tokenLabel: 'credreg',
        pin: '1234',
        keyLabel: 'never-made',
        createMissingKey: false,
      }),
    ).toThrow(/no key is labelled never-made on PKCS#11 token credreg/);
    const retired = Pkcs11KeyProvider.open({
      module: SOFTHSM_MODULE,
      tokenLabel: 'credreg',
      pin: '1234',
      keyLabel: 'credreg-root',
      createMissingKey: false,
    });
    expect(retired.keyId).toBe('pkcs11:credreg/credreg-root');
  });

  // A wrong PIN cannot be seen in this process while the provider above holds the token's login.
  it('an unknown token label is a clear configuration error', () => {
    expect(() =>
      Pkcs11KeyProvider.open({ module: SOFTHSM_MODULE, tokenLabel: 'nope', pin: '1234', keyLabel: 'x' }),
    ).toThrow(/no PKCS#11 token is labelled nope/);
  });
});

it.skipIf(HAS_SOFTHSM)(
  'pkcs11 conformance needs SoftHSM2 (apt-get install softhsm2; .ci/run installs it)',
  () => {},
);
