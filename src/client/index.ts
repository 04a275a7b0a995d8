/**
 * The HTTP client of the registry: a typed wrapper of the `/v1` API for programs and the CLI.
 */
export { ApiError, type ApiErrorInit, type ApiIssue, isApiError } from './api-error.js';
export * from './api-types.js';
export { paginate } from './paginate.js';
export { RegistryClient, type RegistryClientOptions } from './registry-client.js';
