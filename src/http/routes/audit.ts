import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  getAuditCheckpoint,
  getAuditConsistency,
  getAuditProof,
  listAuditKeys,
  listAuditLeaves,
  queryAccessLog,
  rotateAuditKey,
} from '../../core/audit-service.js';
import type { Registry } from '../../core/registry.js';
import { requestContext, tenantAccess, tenantCaller } from '../request-context.js';
import { auditConsistencyQuery, auditLeavesQuery, auditProofQuery, auditQuery } from '../request-schemas.js';
import {
  accessLogEntry,
  auditCheckpoint,
  auditConsistencyProof,
  auditInclusionProof,
  auditKeyRotation,
  auditKeys,
  auditLeaves,
  page,
  problem,
} from '../schemas.js';

export const auditRoutes =
  (registry: Registry): FastifyPluginAsyncZod =>
  async (app) => {
    const audit = (req: Parameters<typeof tenantCaller>[0]) =>
      registry.forTenant(tenantCaller(req).tenantId).audit;

    app.get(
      '/v1/audit',
      {
        config: tenantAccess(queryAccessLog),
        schema: {
          operationId: 'listAudit',
          tags: ['audit'],
          description: 'The access log, newest first.',
          querystring: auditQuery,
          response: { 200: page(accessLogEntry), '4xx': problem },
        },
      },
      async (req) => audit(req).query(req.query, requestContext(req)),
    );

    app.get(
      '/v1/audit/keys',
      {
        config: tenantAccess(listAuditKeys),
        schema: {
          operationId: 'listAuditKeys',
          tags: ['audit'],
          description:
            "The tenant's checkpoint signing keys, current and retired (Ed25519, SPKI PEM): what verifies its checkpoints. The first is made on first use.",
          response: { 200: auditKeys, '4xx': problem },
        },
      },
      async (req) => audit(req).keys(requestContext(req)),
    );

    app.post(
      '/v1/audit/keys/rotate',
      {
        config: tenantAccess(rotateAuditKey),
        schema: {
          operationId: 'rotateAuditKey',
          tags: ['audit'],
          description:
            'Replaces the checkpoint signing key: checkpoints from now on are signed with a new key; the old one stays listed with its `validTo`, so what it signed still verifies.',
          response: { 200: auditKeyRotation, '4xx': problem },
        },
      },
      async (req) => audit(req).rotateKey(requestContext(req)),
    );

    app.get(
      '/v1/audit/checkpoint',
      {
        config: tenantAccess(getAuditCheckpoint),
        schema: {
          operationId: 'getAuditCheckpoint',
          tags: ['audit'],
          description:
            "A signed checkpoint of the tenant's Merkle log covering every access-log row committed before the request (see docs/audit.md).",
          response: { 200: auditCheckpoint, '4xx': problem },
        },
      },
      async (req) => audit(req).checkpoint(requestContext(req)),
    );

    app.get(
      '/v1/audit/proof',
      {
        config: tenantAccess(getAuditProof),
        schema: {
          operationId: 'getAuditProof',
          tags: ['audit'],
          description: 'The inclusion proof of one leaf in the tree of `treeSize` leaves (RFC 9162 §2.1.3).',
          querystring: auditProofQuery,
          response: { 200: auditInclusionProof, '4xx': problem },
        },
      },
      async (req) => audit(req).proof(req.query, requestContext(req)),
    );

    app.get(
      '/v1/audit/consistency',
      {
        config: tenantAccess(getAuditConsistency),
        schema: {
          operationId: 'getAuditConsistency',
          tags: ['audit'],
          description:
            'The proof that the tree of `to` leaves only extends the tree of `from` (RFC 9162 §2.1.4).',
          querystring: auditConsistencyQuery,
          response: { 200: auditConsistencyProof, '4xx': problem },
        },
      },
      async (req) => audit(req).consistency(req.query, requestContext(req)),
    );

    app.get(
      '/v1/audit/leaves',
      {
        config: tenantAccess(listAuditLeaves),
        schema: {
          operationId: 'listAuditLeaves',
          tags: ['audit'],
          description:
            'Leaves of the tree of `treeSize` leaves in order, each with its row as the database holds it now (null when gone) and, with `proofs`, its inclusion proof: the export `credreg audit verify` checks. Needs a token for the whole tenant.',
          querystring: auditLeavesQuery,
          response: { 200: auditLeaves, '4xx': problem },
        },
      },
      async (req) => {
        const { proofs, ...rest } = req.query;
        return audit(req).leaves({ ...rest, proofs: proofs === 'true' }, requestContext(req));
      },
    );
  };
