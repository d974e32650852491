// Serves the browser viewer (web/, built by `npm run build` into dist/public) at /. Its pages get a
// Content-Security-Policy that allows scripts, styles, images and connections from this origin only
// (WebSockets to this host included), no inline script, no framing.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import type { Logger } from '../lib/log.js';

/** The package root: the nearest folder above this module with a package.json (src/ and dist/src/ alike). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above src/web');
    dir = up;
  }
  return dir;
}

export const VIEWER_DIR = path.join(packageRoot(), 'dist', 'public');

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** The policy for a request: `'self'` plus this host's ws:/wss: (CSP2 browsers do not count them as 'self'). */
export function contentSecurityPolicy(host: string | undefined): string {
  const sockets = host && HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    `connect-src 'self'${sockets}`,
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export async function viewerRoutes(app: FastifyInstance, log: Logger): Promise<void> {
  if (!fs.existsSync(path.join(VIEWER_DIR, 'index.html'))) {
    log.warn({}, `the web viewer is not built (${VIEWER_DIR}): run npm run build; GET / answers 404 until then`);
    return;
  }
  await app.register(async (scope) => {
    scope.addHook('onSend', async (req: FastifyRequest, reply: FastifyReply) => {
      reply.header('content-security-policy', contentSecurityPolicy(req.headers.host));
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
    });
    await scope.register(fastifyStatic, {
      root: VIEWER_DIR,
      prefix: '/',
      index: ['index.html'],
      // One route per file of the build (read at start), not a catch-all: every other path stays the
      // API's (a JSON 404, a refused upgrade), so nothing of the API is shadowed by the page.
      wildcard: false,
      // Hashed asset names change with every build; the page itself is always revalidated.
      setHeaders(res, file) {
        res.header('cache-control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
      schemaHide: true,
    });
  });
}
