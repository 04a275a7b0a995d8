/**
 * A fake AWS KMS behind the SDK's own client (aws-sdk-client-mock): it really encrypts, binds the
 * encryption context as AAD, names the key inside each ciphertext (as KMS does), resolves aliases,
 * and answers the commands the provider uses: Encrypt, Decrypt, GenerateDataKey, ReEncrypt and
 * DescribeKey. No AWS endpoint can be reached from here.
 */
import { randomBytes } from 'node:crypto';
import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ReEncryptCommand,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { gcm, ungcm } from './transit-stand-in.js';

export const KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/2f3e4d5c-0000-4000-8000-000000000001';
export const OTHER_KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/2f3e4d5c-0000-4000-8000-000000000002';

const awsError = (name: string) => Object.assign(new Error(`${name} from the fake`), { name });

export function fakeKms() {
  const kms = mockClient(KMSClient);
  const keys = new Map<string, Buffer>([
    [KEY_ARN, randomBytes(32)],
    [OTHER_KEY_ARN, randomBytes(32)],
  ]);
  /** Where `alias/credreg` points; a test may move it, as `aws kms update-alias` does. */
  const aliases = new Map<string, string>([['alias/credreg', KEY_ARN]]);
  const state = { failWith: null as string | null };
  const aad = (c: Record<string, string> | undefined) =>
    Buffer.from(JSON.stringify(Object.entries(c ?? {}).sort()));
  const resolve = (keyId: string | undefined) => {
    const arn = aliases.get(keyId ?? '') ?? keyId ?? '';
    if (!keys.has(arn)) throw awsError('NotFoundException');
    return arn;
  };
  const guard = () => {
    if (state.failWith) throw awsError(state.failWith);
  };
  const seal = (arn: string, context: Record<string, string> | undefined, plaintext: Uint8Array) => {
    const name = Buffer.from(arn);
    return Buffer.concat([
      Buffer.from([name.length]),
      name,
      gcm(keys.get(arn)!, aad(context), Buffer.from(plaintext)),
    ]);
  };
  const open = (
    blob: Uint8Array | undefined,
    context: Record<string, string> | undefined,
    keyId?: string,
  ) => {
    const b = Buffer.from(blob ?? []);
    const arn = b.subarray(1, 1 + (b[0] ?? 0)).toString();
    if (!keys.has(arn)) throw awsError('InvalidCiphertextException');
    if (keyId && resolve(keyId) !== arn) throw awsError('IncorrectKeyException');
    try {
      return { arn, plaintext: ungcm(keys.get(arn)!, aad(context), b.subarray(1 + b[0]!)) };
    } catch {
      throw awsError('InvalidCiphertextException');
    }
  };

  kms.on(EncryptCommand).callsFake((input) => {
    guard();
    const arn = resolve(input.KeyId);
    return { KeyId: arn, CiphertextBlob: seal(arn, input.EncryptionContext, input.Plaintext) };
  });
  kms.on(DecryptCommand).callsFake((input) => {
    guard();
    const { arn, plaintext } = open(input.CiphertextBlob, input.EncryptionContext, input.KeyId);
    return { KeyId: arn, Plaintext: plaintext };
  });
  kms.on(GenerateDataKeyCommand).callsFake((input) => {
    guard();
    const arn = resolve(input.KeyId);
    if (input.KeySpec !== 'AES_256') throw awsError('ValidationException');
    const plaintext = randomBytes(32);
    return {
      KeyId: arn,
      Plaintext: plaintext,
      CiphertextBlob: seal(arn, input.EncryptionContext, plaintext),
    };
  });
  kms.on(ReEncryptCommand).callsFake((input) => {
    guard();
    const source = open(input.CiphertextBlob, input.SourceEncryptionContext, input.SourceKeyId);
    const arn = resolve(input.DestinationKeyId);
    return {
      SourceKeyId: source.arn,
      KeyId: arn,
      CiphertextBlob: seal(arn, input.DestinationEncryptionContext, source.plaintext),
    };
  });
  kms.on(DescribeKeyCommand).callsFake((input) => {
    guard();
    const arn = resolve(input.KeyId);
    return { KeyMetadata: { Arn: arn, KeyId: arn.split('/').at(-1) } };
  });
  return { kms, state, aliases };
}
