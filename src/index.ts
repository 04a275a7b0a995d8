/**
 * The library entry point: open a registry from configuration, or assemble one from parts.
 */

export * from './client/index.js';
export { type Config, loadConfig } from './config.js';
export type { AccessLogFilter } from './core/audit-service.js';
export type { CredentialPath, CredentialRef } from './core/credential-rules.js';
export type {
  CredentialUpdate,
  RevealOptions,
  RotateOptions,
  StoreCredentialInput,
} from './core/credential-service.js';
export {
  ERROR_CODES,
  type ErrorCode,
  type FieldIssue,
  isRegistryError,
  RegistryError,
} from './core/errors.js';
export type { ExpiryAlertReport } from './core/expiry-notices.js';
export type { Clock, KeyContext, Logger, RootKeyProvider, WrappedKey } from './core/ports.js';
export type { Registry, TenantRegistry } from './core/registry.js';
export {
  type CredentialWithSigningSecret,
  SIGNING_SECRET_OVERLAP_MS,
  type SigningSecretReplacement,
} from './core/rotation-signing-secrets.js';
export * from './core/types.js';
export type { CreateVaultInput, VaultUpdate } from './core/vault-service.js';
export { createLogger } from './logger.js';
export { type OpenOptions, openRegistry, type RegistryHandle, runMigrations } from './main.js';
