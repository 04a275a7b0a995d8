/** The sink adapters on their own: framing, and what counts as delivered. */
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { AuditSinkRecord } from '../../src/core/ports.js';
import { StdoutSink } from '../../src/sinks/stdout-sink.js';
import { SyslogSink, syslogFrame } from '../../src/sinks/syslog-sink.js';
import { waitUntil } from '../helpers/wait.js';

const record: AuditSinkRecord = {
  type: 'access',
  id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
  tenantId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c',
  occurredAt: '2026-12-03T09:00:00.123456Z',
  credentialId: null,
  vaultId: null,
  action: 'reveal',
  outcome: 'granted',
  actor: 'alice',
  reason: 'café ☕',
  sourceIp: null,
  userAgent: null,
  requestId: null,
  clientRequestId: null,
  version: 1,
  errorCode: null,
  leafIndex: 0,
  leafHash: Buffer.alloc(32).toString('base64'),
};

describe('audit sink adapters', () => {
  it('a syslog frame counts octets, not characters (RFC 6587)', () => {
    const frame = syslogFrame(record, {
      facility: 13,
      appName: 'credreg',
      host: 'host with spaces',
      pid: 42,
      now: new Date(),
    });
    const space = frame.indexOf(0x20);
    const length = Number(frame.subarray(0, space).toString('ascii'));
    expect(length).toBe(frame.length - space - 1);
    const message = frame.subarray(space + 1).toString('utf8');
    expect(message.length).toBeLessThan(length); // the BOM, é and ☕ take more than one octet each
    expect(message).toMatch(
      /^<110>1 2026-12-03T09:00:00\.123456Z hostwithspaces credreg 42 access - \uFEFF\{/,
    );
    expect(JSON.parse(message.slice(message.indexOf('\uFEFF') + 1))).toEqual(record);
  });

  it('the stdout sink writes JSON Lines and resolves once the stream took them', async () => {
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
    await new StdoutSink({ name: 'o', stream: out }).send([record, record]);
    const lines = chunks.join('').split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(JSON.parse(lines[0]!)).toEqual(record);
  });

  it('the stdout sink rejects when the stream fails, so the cursor stays', async () => {
    const broken = new Writable({
      write(_chunk, _enc, cb) {
        cb(new Error('EPIPE'));
      },
    });
    broken.on('error', () => {});
    await expect(new StdoutSink({ name: 'o', stream: broken }).send([record])).rejects.toThrow('EPIPE');
  });

  it('a syslog collector that stops reading fails the batch at the write timeout, and the next batch reconnects', async () => {
    const sockets: Socket[] = [];
    // Accepts, and never reads: the batch fills the kernel's buffers and the write never completes.
    const server = createServer((socket) => {
      socket.pause();
      sockets.push(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const sink = new SyslogSink({ name: 'stuck', host: '127.0.0.1', port, writeTimeoutMs: 2000 });
    try {
      const big = Array.from({ length: 2000 }, (_, i) => ({
        ...record,
        leafIndex: i,
        reason: 'x'.repeat(16_000),
      }));
      await expect(sink.send(big)).rejects.toThrow(/write timeout/);
      // The stuck connection was dropped: the next batch opens a fresh one.
      const next = sink.send([record]);
      await waitUntil(async () => sockets.length === 2, 'a second connection');
      sockets[1]!.resume();
      await next;
    } finally {
      sink.close();
      for (const s of sockets) s.destroy();
      server.close();
    }
  });
});
