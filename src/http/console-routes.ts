import { existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { sendProblem } from './problem.js';

/**
 * The console's Content-Security-Policy: its own scripts and styles only (no inline script, no
 * `eval`), API calls to this origin only, no framing. A console that shows secrets must not run
 * anyone else's code or be clickjacked into revealing one.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Vite names every built asset by its content hash, so a cached copy is never stale. */
const ASSET_CACHE = 'public, max-age=31536000, immutable';

/**
 * The web console at `/ui`: the files `npm run build` writes (`dir`), same origin as the API.
 * Hashed assets are cached for good; the HTML never. The files are listed at start-up, so a new
 * build is served after a restart. Every other path under `/ui/` answers the HTML too: the console
 * routes in the browser.
 */
export const consoleRoutes =
  (dir: string | null): FastifyPluginAsync =>
  async (app) => {
    const publicRoute = { config: { access: { kind: 'public' as const } }, schema: { hide: true } };
    app.addHook('onSend', async (_req, reply, payload) => {
      reply.header('content-security-policy', CONSOLE_CSP);
      reply.header('x-frame-options', 'DENY');
      return payload;
    });
    if (!dir || !existsSync(join(dir, 'index.html'))) {
      const why = dir
        ? 'the web console is not built: run `npm run build`'
        : 'the web console is turned off here (CREDREG_CONSOLE_DIR=off)';
      app.get('/ui', publicRoute, (req, reply) => sendProblem(reply, req, 404, 'NOT_FOUND', why));
      app.get('/ui/*', publicRoute, (req, reply) => sendProblem(reply, req, 404, 'NOT_FOUND', why));
      return;
    }
    await app.register(fastifyStatic, {
      root: dir,
      prefix: '/ui/',
      // One route per file found now: a request for any other path is the console's to route.
      wildcard: false,
      index: false,
      cacheControl: false,
      setHeaders: (reply, path) => {
        const inAssets = relative(dir, path).startsWith(`assets${sep}`);
        reply.header('cache-control', inAssets ? ASSET_CACHE : 'no-store');
      },
    });
    const sendPage = (_req: unknown, reply: FastifyReply) =>
      reply.header('cache-control', 'no-store').sendFile('index.html');
    app.get('/', publicRoute, (_req, reply) => reply.redirect('/ui/'));
    app.get('/ui', publicRoute, (_req, reply) => reply.redirect('/ui/'));
    app.get('/ui/', publicRoute, sendPage);
    app.get('/ui/*', publicRoute, (req, reply) =>
      // A missing asset is a 404, not the page: a stale cached page asking for an old hash must fail loudly.
      req.url.startsWith('/ui/assets/')
        ? sendProblem(reply, req, 404, 'NOT_FOUND', 'no such console asset')
        : sendPage(req, reply),
    );
  };
