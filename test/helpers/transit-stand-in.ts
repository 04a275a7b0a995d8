import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';

/** AES-256-GCM as the fakes and stand-ins use it: nonce, ciphertext, tag. */
export function gcm(key: Buffer, aad: Buffer, data: Buffer): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv).setAAD(aad);
  return Buffer.concat([iv, c.update(data), c.final(), c.getAuthTag()]);
}
export function ungcm(key: Buffer, aad: Buffer, blob: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, blob.subarray(0, 12)).setAAD(aad);
  d.setAuthTag(blob.subarray(blob.length - 16));
  return Buffer.concat([d.update(blob.subarray(12, blob.length - 16)), d.final()]);
}

/**
 * A stand-in for Vault's Transit engine, from its documented API: `encrypt`, `decrypt` (with
 * `associated_data`), `keys/<name>` (its `latest_version`) and `keys/<name>/rotate`, with
 * `vault:vN:` ciphertexts that old versions still decrypt.
 */
export async function transitStandIn(): Promise<{
  server: Server;
  addr: string;
  /**
   * `status`: answer every request with it. `failAfter`: serve this many more, then answer 503.
   * `hang`: accept every request and never answer it (a provider that is up but stuck); the
   * connections stay open until the client gives up or `server.closeAllConnections()` cuts them.
   */
  state: { status: number | null; failAfter: number | null; hang: boolean };
  /** What `vault write -f transit/keys/credreg/rotate` does. */
  rotate(): number;
  /** Requests served, as `METHOD path`. */
  calls: string[];
}> {
  const versions = [randomBytes(32)];
  const state = { status: null as number | null, failAfter: null as number | null, hang: false };
  const calls: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const send = (status: number, json: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      calls.push(`${req.method} ${req.url}`);
      if (state.hang) return;
      if (state.failAfter !== null && state.failAfter-- <= 0) state.status = 503;
      if (state.status) return send(state.status, { errors: ['forced'] });
      if (req.headers['x-vault-token'] !== 'test-token') return send(403, { errors: ['permission denied'] });
      const url = req.url ?? '';
      if (req.method === 'GET' && url === '/v1/transit/keys/credreg')
        return send(200, {
          data: { name: 'credreg', type: 'aes256-gcm96', latest_version: versions.length },
        });
      if (req.method === 'POST' && url === '/v1/transit/keys/credreg/rotate') {
        versions.push(randomBytes(32));
        return send(200, { data: { latest_version: versions.length } });
      }
      const m = /^\/v1\/transit\/(encrypt|decrypt)\/credreg$/.exec(url);
      if (!m || req.method !== 'POST') return send(404, { errors: [] });
      const input = JSON.parse(body) as Record<string, string>;
      const aad = Buffer.from(input.associated_data ?? '', 'base64');
      if (m[1] === 'encrypt') {
        const v = versions.length;
        const blob = gcm(versions[v - 1]!, aad, Buffer.from(input.plaintext!, 'base64'));
        return send(200, { data: { ciphertext: `vault:v${v}:${blob.toString('base64')}`, key_version: v } });
      }
      try {
        const [, v, b64] = /^vault:v(\d+):(.*)$/.exec(String(input.ciphertext)) ?? [];
        const key = versions[Number(v) - 1];
        if (!key) return send(400, { errors: ['invalid ciphertext: no such key version'] });
        return send(200, {
          data: { plaintext: ungcm(key, aad, Buffer.from(b64!, 'base64')).toString('base64') },
        });
      } catch {
        return send(400, { errors: ['cipher: message authentication failed'] });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    server,
    addr: `http://127.0.0.1:${port}`,
    state,
    rotate: () => versions.push(randomBytes(32)),
    calls,
  };
}
