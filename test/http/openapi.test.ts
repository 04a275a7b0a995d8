import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREDENTIAL_TYPES } from '../../src/core/types.js';
import { valueShape } from '../../src/core/value-shapes.js';
import { API_TAGS } from '../../src/http/openapi.js';
import { openApiDocument } from '../../src/http/openapi-document.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
// Generous: these spawn Node tools, on a machine that may be busy with the rest of the suite.
const SPAWN_TIMEOUT_MS = 120_000;

interface Schema {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  oneOf?: Schema[];
  discriminator?: { propertyName: string; mapping: Record<string, string> };
}
interface Operation {
  summary?: string;
  operationId?: string;
  tags?: string[];
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}
interface Document {
  info: { version: string; license?: { name: string } };
  servers?: { url: string }[];
  tags?: { name: string; description?: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

let doc: Document;
let dir: string;
const operations = () =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ where: `${method.toUpperCase()} ${path}`, op })),
  );
const component = (s: Schema): Schema => {
  const name = s.$ref?.replace('#/components/schemas/', '');
  return name ? (doc.components.schemas[name] ?? {}) : s;
};

beforeAll(async () => {
  doc = (await openApiDocument()) as unknown as Document;
  dir = await mkdtemp(join(tmpdir(), 'credreg-openapi-'));
  await writeFile(join(dir, 'openapi.json'), JSON.stringify(doc));
}, 60_000);
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the OpenAPI document', () => {
  it('every operation has a summary, a unique operationId and a declared tag', () => {
    const declared = new Set<string>(API_TAGS.map((t) => t.name));
    expect(doc.tags?.every((t) => t.description)).toBe(true);
    const ids = operations().map(({ where, op }) => {
      expect(op.summary, where).toBeTruthy();
      expect(op.operationId, where).toBeTruthy();
      expect(op.tags?.length, where).toBeGreaterThan(0);
      for (const tag of op.tags ?? []) expect(declared.has(tag), `${where}: tag ${tag}`).toBe(true);
      return op.operationId;
    });
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('every operation declares a success, and its errors as problem documents', () => {
    for (const { where, op } of operations()) {
      const statuses = Object.keys(op.responses);
      expect(
        statuses.some((s) => /^2/.test(s)),
        where,
      ).toBe(true);
      for (const s of ['400', '401', '403', '404', '429', '4XX', '5XX']) expect(statuses, where).toContain(s);
      for (const [status, response] of Object.entries(op.responses)) {
        if (!/^[45]/.test(status)) continue;
        expect(Object.keys(response.content ?? {}), `${where} ${status}`).toEqual([
          'application/problem+json',
        ]);
        expect(response.content?.['application/problem+json']?.schema.$ref).toBe(
          '#/components/schemas/Problem',
        );
      }
    }
    // A DELETE that answers nothing says so.
    expect(Object.keys(doc.paths['/v1/tokens/{id}']?.delete?.responses ?? {})).toContain('204');
  });

  it("states the package's version, a license and a server", async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(doc.info.version).toBe(pkg.version);
    expect(doc.info.license?.name).toBe('Apache-2.0');
    expect(doc.servers?.length).toBeGreaterThan(0);
  });

  it('declares whole numbers as integers', () => {
    expect(JSON.stringify(doc)).not.toContain('"type":"number"');
  });

  it("describes a credential's value by its type, with each type's fields", () => {
    const reveal =
      doc.paths['/v1/credentials/{id}/reveal']?.post?.responses['200']?.content?.['application/json'];
    const store = doc.paths['/v1/vaults/{vaultId}/credentials']?.post;
    const storeBody = (store as unknown as { requestBody: { content: Record<string, { schema: Schema }> } })
      .requestBody.content['application/json']?.schema;
    for (const union of [component(reveal?.schema ?? {}), component(storeBody ?? {})]) {
      expect(union.discriminator?.propertyName).toBe('type');
      expect(Object.keys(union.discriminator?.mapping ?? {}).sort()).toEqual([...CREDENTIAL_TYPES].sort());
      expect(union.oneOf).toHaveLength(CREDENTIAL_TYPES.length);
      for (const type of CREDENTIAL_TYPES) {
        const variant = component({ $ref: union.discriminator?.mapping[type] ?? '' });
        expect(variant.properties?.type, type).toMatchObject({ const: type });
        const value = component(variant.properties?.value ?? {});
        const shape = valueShape(type);
        if (shape.kind === 'text') expect(value.type, type).toBe('string');
        else expect(value.type, type).toBe('object');
        if (shape.kind !== 'object') continue;
        expect(Object.keys(value.properties ?? {}), type).toEqual(shape.fields.map((f) => f.name));
        expect(value.required ?? [], type).toEqual(shape.fields.filter((f) => f.required).map((f) => f.name));
      }
    }
  });

  it(
    "passes Redocly's recommended rules with no error",
    async () => {
      const { stdout } = await run(bin('redocly'), ['lint', join(dir, 'openapi.json'), '--format=json'], {
        cwd: root,
        timeout: SPAWN_TIMEOUT_MS,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      }).catch((err: { stdout?: string; stderr?: string }) => {
        throw new Error(`redocly lint failed:\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
      });
      const report = JSON.parse(stdout) as { totals: { errors: number } };
      expect(report.totals.errors).toBe(0);
    },
    SPAWN_TIMEOUT_MS + 10_000,
  );

  it(
    'gives a client generated by openapi-typescript the per-type value shapes',
    async () => {
      const options = { cwd: dir, timeout: SPAWN_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 };
      await run(bin('openapi-typescript'), ['openapi.json', '--output', 'api.ts'], options);
      await writeFile(
        join(dir, 'usage.ts'),
        `import type { components, paths } from './api';

type Revealed = paths['/v1/credentials/{id}/reveal']['post']['responses'][200]['content']['application/json'];
export function fields(r: Revealed): string {
  switch (r.type) {
    case 'basic_auth':
      return r.value.username + r.value.password;
    case 'certificate':
      return r.value.cert_pem + r.value.key_pem + (r.value.chain_pem ?? '');
    case 'oauth2_client':
      return r.value.client_id + (r.value.scopes ?? []).join(' ');
    case 'api_key':
      return r.value.toUpperCase();
    default:
      return '';
  }
}
export function notACertificate(r: Revealed): void {
  // @ts-expect-error a basic_auth value has no cert_pem
  if (r.type === 'basic_auth') r.value.cert_pem;
}

type Store = paths['/v1/vaults/{vaultId}/credentials']['post']['requestBody']['content']['application/json'];
export const stored: Store = { name: 'db', type: 'basic_auth', value: { username: 'app', password: 'p' } };
// @ts-expect-error a basic_auth value needs its password
export const missing: Store = { name: 'db', type: 'basic_auth', value: { username: 'app' } };

type NotFound = paths['/v1/credentials/{id}']['get']['responses'][404]['content']['application/problem+json'];
export const code = (p: NotFound): string => p.code;
export const version = (c: components['schemas']['Credential']): number => c.currentVersion;
`,
      );
      await writeFile(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            target: 'es2022',
            module: 'esnext',
            moduleResolution: 'bundler',
            types: [],
          },
          files: ['usage.ts'],
        }),
      );
      await run(bin('tsc'), ['-p', join(dir, 'tsconfig.json')], options).catch(
        (err: { stdout?: string; stderr?: string }) => {
          throw new Error(
            `the generated client does not type-check:\n${err.stdout ?? ''}${err.stderr ?? ''}`,
          );
        },
      );
    },
    2 * SPAWN_TIMEOUT_MS + 10_000,
  );
});
