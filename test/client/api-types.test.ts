import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import type {
  ApiPage,
  AuditQuery,
  CreatedWebhookResource,
  CreateTenantAdminTokenBody,
  CreateTokenBody,
  CreateWebhookBody,
  CredentialResource,
  CredentialValue,
  DeleteVaultOptions,
  Instant,
  IssuedToken,
  ListCredentialsQuery,
  ListVaultsQuery,
  PageQuery,
  RevealedCredentialResource,
  RotateBody,
  RotationResult,
  StoreCredentialBody,
  TenantResource,
  UpdateCredentialBody,
  VaultKeyStatus,
  WebhookDeliveryResource,
  WebhookResource,
  WebhookTestResult,
} from '../../src/client/api-types.js';
import type { AccessAction, Role } from '../../src/core/types.js';
import * as response from '../../src/http/schemas.js';

// The client's types are derived from the route schemas; these pin what the derivation yields, so
// a schema change that alters what a caller writes or reads shows up here first.
describe('client wire types', () => {
  it('responses carry timestamps as ISO strings, as the serializer encodes them', () => {
    expectTypeOf<TenantResource>().toEqualTypeOf<{ id: string; name: string; createdAt: string }>();
    expectTypeOf<CredentialResource['expiresAt']>().toEqualTypeOf<string | null>();
    expectTypeOf<IssuedToken>().toEqualTypeOf<{
      token: string;
      id: string;
      tenantId: string;
      principalId: string;
      role: Role;
      vaultId: string | null;
      expiresAt: string | null;
    }>();
    expectTypeOf<VaultKeyStatus['versions'][number]>().toEqualTypeOf<{
      version: number;
      createdAt: string;
      dataKeys: number;
    }>();
    expectTypeOf<RotationResult>().toEqualTypeOf<{ version: number; credential: CredentialResource }>();
    expectTypeOf<ApiPage<TenantResource>>().toEqualTypeOf<{
      items: TenantResource[];
      nextCursor: string | null;
    }>();

    // The run-time side of the same claim: what the response serializer writes is the schema's input.
    const createdAt = new Date('2026-01-02T03:04:05.000Z');
    const encoded = z.encode(response.tenant, { id: 't1', name: 'acme', createdAt });
    expectTypeOf(encoded).toEqualTypeOf<TenantResource>();
    expect(encoded).toEqual({ id: 't1', name: 'acme', createdAt: '2026-01-02T03:04:05.000Z' });
  });

  it('webhooks: a listed subscription has no secret, a created one has it; deliveries carry their last attempt', () => {
    expectTypeOf<WebhookResource>().toEqualTypeOf<{
      id: string;
      tenantId: string;
      url: string;
      events: string[] | null;
      consecutiveFailures: number;
      disabledAt: string | null;
      createdBy: string;
      createdAt: string;
    }>();
    expectTypeOf<Omit<CreatedWebhookResource, 'secret'>>().toEqualTypeOf<WebhookResource>();
    expectTypeOf<CreatedWebhookResource['secret']>().toEqualTypeOf<string>();
    expectTypeOf<WebhookDeliveryResource['status']>().toEqualTypeOf<'pending' | 'delivered' | 'failed'>();
    expectTypeOf<WebhookDeliveryResource['deliveredAt']>().toEqualTypeOf<string | null>();
    expectTypeOf<WebhookDeliveryResource['lastStatus']>().toEqualTypeOf<number | null>();
    expectTypeOf<WebhookTestResult>().toEqualTypeOf<{ eventId: string }>();
    expectTypeOf<CreateWebhookBody>().toEqualTypeOf<{ url: string; events?: string[] }>();
  });

  it('credential values are typed by the credential type', () => {
    expectTypeOf<RevealedCredentialResource['value']>().toEqualTypeOf<CredentialValue>();
    expectTypeOf<StoreCredentialBody<'basic_auth'>['value']>().toEqualTypeOf<{
      username: string;
      password: string;
    }>();
    expectTypeOf<RotateBody<string>['value']>().toEqualTypeOf<string | undefined>();
  });

  it('bodies accept an instant as a Date or an ISO string', () => {
    expectTypeOf<CreateTokenBody>().toEqualTypeOf<{
      principalId: string;
      role: Role;
      vaultId?: string;
      expiresAt?: Instant;
    }>();
    expectTypeOf<UpdateCredentialBody['expiresAt']>().toEqualTypeOf<Instant | null | undefined>();
    expectTypeOf<RotateBody['expiresAt']>().toEqualTypeOf<Instant | null | undefined>();
    expectTypeOf<CreateTenantAdminTokenBody>().toEqualTypeOf<{ name: string; role?: Role }>();
  });

  it('queries take numbers, booleans and instants, which the client writes as text', () => {
    expectTypeOf<PageQuery>().toEqualTypeOf<{ limit?: number; cursor?: string }>();
    expectTypeOf<ListCredentialsQuery>().toEqualTypeOf<{
      limit?: number;
      cursor?: string;
      includeDeleted?: boolean;
      expiringWithin?: string;
      rotationDue?: boolean;
      name?: string;
      prefix?: string;
    }>();
    expectTypeOf<ListVaultsQuery>().toEqualTypeOf<{
      limit?: number;
      cursor?: string;
      name?: string;
      prefix?: string;
    }>();
    expectTypeOf<DeleteVaultOptions>().toEqualTypeOf<{ force?: boolean }>();
    expectTypeOf<AuditQuery['from']>().toEqualTypeOf<Instant | undefined>();
    expectTypeOf<AuditQuery['action']>().toEqualTypeOf<AccessAction | undefined>();
  });
});
