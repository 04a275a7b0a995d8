/**
 * The security headers every answer carries: what helmet 8 sends by default with its
 * Content-Security-Policy left out (the API serves JSON; the docs page and the console set their
 * own CSP, and the console its own `X-Frame-Options`). They do not depend on the request, so they
 * are written here once instead of by `@fastify/helmet`, which rebuilt helmet's whole middleware
 * on every request (two hooks, a dozen raw `setHeader` calls) to produce these same lines.
 * Helmet's removal of `X-Powered-By` needs no counterpart: neither Node nor Fastify sets it.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
});
