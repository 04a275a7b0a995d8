import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorCode, FieldIssue, RegistryError } from '../core/errors.js';

/** One place that maps error codes to HTTP statuses. */
const STATUS: Record<ErrorCode, number> = {
  NOT_FOUND: 404,
  DELETED: 410,
  VALIDATION: 400,
  CONFLICT: 409,
  VERSION_MISMATCH: 412,
  EXPIRED: 409,
  INACTIVE: 409,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  TENANT_REQUIRED: 400,
  CRYPTO: 500,
  UNAVAILABLE: 503,
  AUDIT_UNAVAILABLE: 503,
  RATE_LIMITED: 429,
  BAD_REQUEST: 400,
  ROTATION_FAILED: 502,
  CONFIG: 500,
  INTERNAL: 500,
};

const TITLE: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** Seconds a client should wait before retrying after a 503: short, since recovery is automatic. */
const RETRY_AFTER_S = '1';

function statusOf(code: ErrorCode): number {
  return STATUS[code];
}

/**
 * Sends an RFC 9457 problem document. Only the registry's own message reaches the client: never
 * a stack, SQL text, a cause, or a value.
 */
export function sendProblem(
  reply: FastifyReply,
  request: FastifyRequest,
  status: number,
  code: string,
  detail: string,
  issues?: readonly FieldIssue[],
) {
  if (status === 401) reply.header('www-authenticate', 'Bearer');
  // A 503 is worth retrying (a database or key provider outage, a shutdown): say when.
  if (status === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', RETRY_AFTER_S);
  return reply
    .code(status)
    .type('application/problem+json')
    .send({
      type: `urn:credreg:problem:${code.toLowerCase()}`,
      title: TITLE[status] ?? 'Error',
      status,
      detail,
      code,
      ...(issues && issues.length > 0 ? { issues } : {}),
      requestId: request.id,
      ...(request.clientRequestId ? { clientRequestId: request.clientRequestId } : {}),
    });
}

export function sendRegistryError(reply: FastifyReply, request: FastifyRequest, err: RegistryError) {
  const status = statusOf(err.code);
  // Internal failures get a fixed message: their text is for the operator's log, not the client.
  const detail =
    status >= 500 && status !== 503 && status !== 502
      ? 'the server failed to complete the request'
      : err.message;
  return sendProblem(reply, request, status, err.code, detail, err.issues);
}

/**
 * A problem document as a whole raw HTTP/1.1 response, for what Node refuses before Fastify sees a
 * request (a head too large, a malformed request line): there is no request, id or reply then.
 */
export function rawProblem(status: 400 | 431, detail: string): string {
  const body = JSON.stringify({
    type: 'urn:credreg:problem:bad_request',
    title: TITLE[status],
    status,
    detail,
    code: 'BAD_REQUEST',
  });
  return [
    `HTTP/1.1 ${status} ${TITLE[status]}`,
    'Content-Type: application/problem+json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}
