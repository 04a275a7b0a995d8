import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { RegistryHandle } from '../../main.js';
import { requestContext } from '../request-context.js';
import { noBody } from '../request-schemas.js';
import { problem } from '../schemas.js';

/** `POST /v1/backup`: a snapshot of the embedded store, platform-admin tokens only. */
export const backupRoutes =
  (registry: Pick<RegistryHandle, 'backup'>): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/v1/backup',
      {
        config: { access: { kind: 'platform' } },
        schema: {
          operationId: 'backup',
          summary: 'Back up the embedded store',
          tags: ['platform'],
          description:
            'A consistent snapshot of the embedded store, taken between transactions: a gzipped tarball of its data directory (`application/gzip`), which `credreg restore` unpacks into a new directory. The root key is not in it: keep it apart. On PostgreSQL, 409: use pg_dump (docs/operations.md, "Backup and restore").',
          body: noBody,
          response: {
            200: {
              description: 'the gzipped tarball',
              content: { 'application/gzip': { schema: z.string().meta({ format: 'binary' }) } },
            },
            '4xx': problem,
          },
        },
      },
      async (req, reply) => {
        const archive = await registry.backup(requestContext(req));
        return (
          reply
            .header('content-type', 'application/gzip')
            .header('content-disposition', 'attachment; filename="credreg.backup.tar.gz"')
            .header('cache-control', 'no-store')
            // Bytes, which Fastify sends as they are: no JSON schema describes them, hence the cast.
            .send(Buffer.from(archive.buffer, archive.byteOffset, archive.byteLength) as never)
        );
      },
    );
  };
