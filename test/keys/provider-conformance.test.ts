/**
 * The contract every root key provider must keep. AWS KMS cannot be reached from here, so it runs
 * against a fake behind the SDK's own client (aws-sdk-client-mock) that really encrypts and checks
 * the encryption context; Vault Transit runs against a stand-in HTTP server that follows the
 * documented Transit API (encrypt/decrypt, `vault:vN:` ciphertexts, `associated_data`).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyContext, RootKeyProvider } from '../../src/core/ports.js';
import { AwsKmsKeyProvider, encryptionContext } from '../../src/keys/aws-kms-provider.js';
import { LocalKeyProvider } from '../../src/keys/local-key-provider.js';
import { Pkcs11KeyProvider } from '../../src/keys/pkcs11-provider.js';
import { VaultTransitKeyProvider } from '../../src/keys/vault-transit-provider.js';
import { gcm, transitStandIn, ungcm } from '../helpers/transit-stand-in.js';

const ctx: KeyContext = {
  tenantId: '01890000-0000-7000-8000-000000000001',
  vaultId: '01890000-0000-7000-8000-000000000002',
  vaultKeyVersion: 1,
};
const KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/2f3e4d5c-0000-4000-8000-000000000001';

const awsError = (name: string) => Object.assign(new Error(`${name} from the fake`), { name });

/** A fake KMS: one AES key per key id; the encryption context is bound as AAD, as KMS does. */
function fakeKms() {
  const kms = mockClient(KMSClient);
  const keys = new Map<string, Buffer>([[KEY_ARN, randomBytes(32)]]);
  const aad = (c: Record<string, string> | undefined) =>
    Buffer.from(JSON.stringify(Object.entries(c ?? {}).sort()));
  const state = { failWith: null as string | null };
  kms.on(EncryptCommand).callsFake((input) => {
    if (state.failWith) throw awsError(state.failWith);
    const key = keys.get(input.KeyId === 'alias/credreg' ? KEY_ARN : input.KeyId);
    if (!key) throw awsError('NotFoundException');
    return {
      KeyId: KEY_ARN,
      CiphertextBlob: gcm(key, aad(input.EncryptionContext), Buffer.from(input.Plaintext)),
    };
  });
  kms.on(DecryptCommand).callsFake((input) => {
    if (state.failWith) throw awsError(state.failWith);
    try {
      return {
        KeyId: KEY_ARN,
        Plaintext: ungcm(keys.get(KEY_ARN)!, aad(input.EncryptionContext), Buffer.from(input.CiphertextBlob)),
      };
    } catch {
      throw awsError('InvalidCiphertextException');
    }
  });
  return { kms, state };
}

const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
/** SoftHSM2 is a Debian package that `.ci/run` installs; elsewhere the PKCS#11 suite says it is skipped. */
const HAS_SOFTHSM = existsSync(SOFTHSM_MODULE) && spawnSync('softhsm2-util', ['--version']).status === 0;

/** A fresh SoftHSM2 token in a temporary directory (SOFTHSM2_CONF is read when the module initialises). */
function softHsmToken(): { tokenLabel: string; pin: string } {
  const dir = mkdtempSync(join(tmpdir(), 'credreg-hsm-'));
  mkdirSync(join(dir, 'tokens'));
  writeFileSync(join(dir, 'softhsm2.conf'), `directories.tokendir = ${join(dir, 'tokens')}\n`);
  process.env.SOFTHSM2_CONF = join(dir, 'softhsm2.conf');
  const init = spawnSync('softhsm2-util', [
    '--init-token',
    '--free',
    '--label',
    'credreg',
    '--pin',
    '1234',
    '--so-pin',
    '5678',
  ]);
  if (init.status !== 0) throw new Error(`softhsm2-util failed: ${init.stderr}`);
  return { tokenLabel: 'credreg', pin: '1234' };
}

interface Subject {
  provider: RootKeyProvider;
  /** Make the provider unreachable (UNAVAILABLE) or refusing (CRYPTO), or well again. */
  set(mode: 'down' | 'refuses' | 'well'): void;
  keyIdPattern: RegExp;
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

  it('uses a tenant key when one is configured', async () => {
    fake.kms.resetHistory();
    const provider = new AwsKmsKeyProvider({
      keyId: 'alias/credreg',
      tenantKeys: { [ctx.tenantId]: KEY_ARN },
      client: new KMSClient({ region: 'eu-west-1' }),
    });
    await provider.wrapKey(randomBytes(32), ctx);
    expect(fake.kms.commandCalls(EncryptCommand)[0]!.args[0].input.KeyId).toBe(KEY_ARN);
  });
});

describe('vault-transit specifics', () => {
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
