import { describe, expect, it } from 'vitest';
import { checkUrl, MAX_URL_LENGTH } from '../../src/events/url-policy.js';

const PRIVATE = 'names a loopback, private, link-local or reserved address';
const UNSPECIFIED = 'names an unspecified address (0.0.0.0 or ::)';

describe('checkUrl (configuration time, no DNS)', () => {
  it.each([
    'https://hooks.example.com/in',
    'https://hooks.example.com:8443/in?x=1#f',
    'https://93.184.215.14/',
    'https://[2606:4700::1111]/',
  ])('accepts %s', (url) => {
    expect(checkUrl(url)).toBeNull();
  });

  it.each([
    ['not a URL', 'hooks.example.com/in', 'is not a valid absolute URL'],
    ['another scheme', 'ftp://hooks.example.com/', 'must use https'],
    ['a file URL', 'file:///etc/passwd', 'must use https'],
    ['plain http', 'http://hooks.example.com/', 'must use https'],
    ['user info', 'https://user:pw@hooks.example.com/', 'must not contain a user name or password'],
    ['a user name alone', 'https://token@hooks.example.com/', 'must not contain a user name or password'],
    ['localhost', 'https://localhost/', 'names the local host'],
    ['a localhost subdomain', 'https://api.localhost/', 'names the local host'],
    ['localhost with a trailing dot', 'https://LOCALHOST./', 'names the local host'],
    ['127.0.0.1', 'https://127.0.0.1/', PRIVATE],
    ['127.0.0.1 spelt as one number', 'https://2130706433/', PRIVATE],
    ['127.0.0.1 in hex', 'https://0x7f.1/', PRIVATE],
    ['10.x', 'https://10.20.30.40/', PRIVATE],
    ['172.16/12', 'https://172.31.255.1/', PRIVATE],
    ['192.168/16', 'https://192.168.0.10/', PRIVATE],
    ['cloud metadata', 'https://169.254.169.254/latest/', PRIVATE],
    ['CGNAT', 'https://100.64.1.1/', PRIVATE],
    ['multicast', 'https://239.1.1.1/', PRIVATE],
    ['broadcast', 'https://255.255.255.255/', PRIVATE],
    ['[::1]', 'https://[::1]/', PRIVATE],
    ['unique local', 'https://[fd12:3456::1]/', PRIVATE],
    ['IPv6 link-local', 'https://[fe80::1]/', PRIVATE],
    ['IPv6 multicast', 'https://[ff02::1]/', PRIVATE],
    ['IPv4-mapped loopback', 'https://[::ffff:127.0.0.1]/', PRIVATE],
    ['IPv4-mapped public', 'https://[::ffff:93.184.215.14]/', PRIVATE],
    ['NAT64 of metadata', 'https://[64:ff9b::a9fe:a9fe]/', PRIVATE],
    ['0.0.0.0', 'https://0.0.0.0/', UNSPECIFIED],
    ['[::]', 'https://[::]/', UNSPECIFIED],
  ])('refuses %s', (_name, url, reason) => {
    expect(checkUrl(url)).toBe(reason);
  });

  it('refuses a URL longer than MAX_URL_LENGTH', () => {
    expect(checkUrl(`https://hooks.example.com/${'a'.repeat(MAX_URL_LENGTH)}`)).toBe(
      `is longer than ${MAX_URL_LENGTH} characters`,
    );
  });

  it('never quotes the URL in its reason', () => {
    const secretPath = 'https://user:s3cr3t@hooks.example.com/T0/B0/s3cr3t';
    expect(checkUrl(secretPath)).not.toContain('s3cr3t');
  });

  it('allowHttp permits plain http to public hosts, not private ones', () => {
    expect(checkUrl('http://hooks.example.com/', { allowHttp: true })).toBeNull();
    expect(checkUrl('http://10.0.0.1/', { allowHttp: true })).toBe(PRIVATE);
  });

  it('allowPrivate permits private addresses and plain http, but not user info or unspecified addresses', () => {
    const policy = { allowPrivate: true };
    for (const url of [
      'http://127.0.0.1:8080/',
      'http://localhost/',
      'https://[::1]/',
      'http://169.254.169.254/',
    ]) {
      expect(checkUrl(url, policy)).toBeNull();
    }
    expect(checkUrl('http://u:p@127.0.0.1/', policy)).toBe('must not contain a user name or password');
    expect(checkUrl('http://0.0.0.0/', policy)).toBe(UNSPECIFIED);
    expect(checkUrl('ftp://127.0.0.1/', policy)).toBe('must use https');
  });
});
