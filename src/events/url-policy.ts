/**
 * Which tenant-supplied URLs (webhook receivers, rotation endpoints) the registry is willing to
 * call, decided from the URL alone, so the API can refuse one with a 400 before it is saved.
 *
 * This is the early half of the SSRF guard and sees no DNS: a name that resolves to a private
 * address passes here and is refused by `SafeHttpClient` at connect time, on the address actually
 * dialled, so a DNS answer that changes between configuration and delivery (rebinding) gains
 * nothing. The list of literal ranges below only has to agree with that connect-time filter on the
 * obvious cases; it is not the authority.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** The operator's choices that decide which URLs are acceptable. */
export interface UrlPolicy {
  /**
   * Allow loopback, private (RFC 1918, fc00::/7), link-local, CGNAT, multicast and reserved
   * addresses, and plain `http:`: for development and single-network installs. The service sets
   * it from `CREDREG_ALLOW_PRIVATE_URLS=true`. The unspecified addresses (0.0.0.0, ::) stay
   * refused. (Default: false)
   */
  readonly allowPrivate?: boolean;
  /** Allow plain `http:` to public addresses. (Default: false; implied by `allowPrivate`) */
  readonly allowHttp?: boolean;
}

/** Longer URLs are refused: nothing legitimate needs more, and they end up in logs and rows. */
export const MAX_URL_LENGTH = 2048;

// [network, prefix length]. request-filtering-agent refuses every range ipaddr.js does not call
// `unicast`; these are the ones a tenant is likely to type, plus the reserved blocks around them.
const PRIVATE_IPV4: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8], // "this network": 0.0.0.0 reaches the local host on Linux
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // CGNAT (RFC 6598)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, where cloud metadata (169.254.169.254) lives
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16], // RFC 1918
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the broadcast address
];
const PRIVATE_IPV6: ReadonlyArray<readonly [string, number]> = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  // No ::ffff:0:0/96 here: BlockList checks IPv4-mapped addresses against the IPv4 ranges.
  ['64:ff9b::', 96], // NAT64: would carry any IPv4 address, metadata included
  ['100::', 64], // discard
  ['2001::', 32], // Teredo
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

const privateAddresses = new BlockList();
for (const [net, prefix] of PRIVATE_IPV4) privateAddresses.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of PRIVATE_IPV6) privateAddresses.addSubnet(net, prefix, 'ipv6');

// IPv4-mapped (the URL parser writes ::ffff:7f00:1 for ::ffff:127.0.0.1): the connect-time filter
// refuses them all, public or not, and no receiver needs one.
const IPV4_MAPPED = /^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/;

// Refused even when private URLs are allowed, as the connect-time filter does: they name no host.
const unspecifiedAddresses = new BlockList();
unspecifiedAddresses.addSubnet('0.0.0.0', 8, 'ipv4');
unspecifiedAddresses.addAddress('::', 'ipv6');

/** `[::1]` → `::1`; `Example.COM.` → `example.com` (the URL parser has already lower-cased it). */
function bareHost(url: URL): string {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

function family(host: string): 'ipv4' | 'ipv6' | undefined {
  if (isIPv4(host)) return 'ipv4';
  if (isIPv6(host)) return 'ipv6';
  return undefined;
}

/**
 * Why the registry would refuse to call `url`, or `null` if it would call it (subject to the
 * connect-time address check). The reason is safe to show to the tenant: it never quotes the URL,
 * whose path or query may itself be a secret (many receivers put a token there).
 *
 * @example
 * ```ts
 * const reason = checkUrl(body.url, { allowPrivate: config.allowPrivateUrls });
 * if (reason) throw new RegistryError('VALIDATION', `url ${reason}`);
 * ```
 */
export function checkUrl(url: string, policy: UrlPolicy = {}): string | null {
  if (url.length > MAX_URL_LENGTH) return `is longer than ${MAX_URL_LENGTH} characters`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a valid absolute URL';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'must use https';
  if (parsed.protocol === 'http:' && !policy.allowPrivate && !policy.allowHttp) return 'must use https';
  // Credentials in a URL end up in logs and stored rows; receivers authenticate by signature.
  if (parsed.username !== '' || parsed.password !== '') return 'must not contain a user name or password';

  const host = bareHost(parsed);
  const ipFamily = family(host);
  if (ipFamily && unspecifiedAddresses.check(host, ipFamily)) {
    return 'names an unspecified address (0.0.0.0 or ::)';
  }
  if (policy.allowPrivate) return null;
  // RFC 6761: these names always mean the loopback interface, whatever DNS says.
  if (host === 'localhost' || host.endsWith('.localhost')) return 'names the local host';
  if (ipFamily && (privateAddresses.check(host, ipFamily) || IPV4_MAPPED.test(host))) {
    return 'names a loopback, private, link-local or reserved address';
  }
  return null;
}
