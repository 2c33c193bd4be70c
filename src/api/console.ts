// The console: the page `npm run build` bundles into dist/console, served at `/` with its assets.
// Any other GET outside the API that asks for HTML gets index.html (the page routes by its hash,
// but a bookmarked or typed path must still land on it). /api/*, /docs, /healthz and /metrics keep
// their own answers: an unknown route there is a problem+json 404 as before.
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Api } from './context.js';

/**
 * What the page may load: only its own files (no CDN, no inline script or style), pictures also
 * from data: and blob: (the TOTP QR code, snapshots), and never framed (clickjacking).
 */
export const CONSOLE_CSP =
  "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/** Paths that are never the console's, even for a browser asking for HTML. */
const NOT_CONSOLE = /^\/(api|docs|healthz|metrics)(\/|$)/;

/** dist/console of the package this file belongs to (src/api in tests, dist/src/api when built). */
export function defaultConsoleDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return resolve('dist', 'console');
    dir = up;
  }
  return join(dir, 'dist', 'console');
}

function consoleHeaders(reply: FastifyReply): FastifyReply {
  return (
    reply
      .header('content-security-policy', CONSOLE_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY')
      // Revalidated every time (by ETag): a new build must reach the guard room without a hard reload.
      .header('cache-control', 'no-cache')
  );
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tobira</title></head>
<body><h1>tobira</h1><p>The console is not built. Run <code>npm run build</code> (it bundles the page into dist/console), then reload.</p>
<p>The API is at <a href="/docs">/docs</a>.</p></body></html>
`;

/** A file under the console's directory named by a request path, or undefined (none, or outside it). */
function fileUnder(dir: string, pathname: string): string | undefined {
  let rel: string;
  try {
    rel = decodeURIComponent(pathname).replace(/^\/+/, '');
  } catch {
    return undefined;
  }
  if (!rel || rel.includes('\0')) return undefined;
  const full = resolve(dir, rel);
  if (!full.startsWith(dir + sep)) return undefined;
  try {
    return statSync(full).isFile() ? full.slice(dir.length + 1) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Registers `/` and `/assets/*`, and returns what the not-found handler does first: true when it
 * answered with a console file or index.html.
 */
export async function consoleRoutes(app: Api, consoleDir: string): Promise<(req: FastifyRequest, reply: FastifyReply) => boolean> {
  const dir = resolve(consoleDir);
  // Only reply.sendFile: the routes are ours, so the auth hook sees them as public.
  await app.register(fastifyStatic, { serve: false, root: dir, suppressWarning: true });
  const sendIndex = (reply: FastifyReply) => {
    consoleHeaders(reply);
    if (!existsSync(join(dir, 'index.html'))) return reply.code(200).type('text/html; charset=utf-8').send(NOT_BUILT);
    return reply.sendFile('index.html', dir, { cacheControl: false });
  };
  const route = { config: { public: true }, schema: { hide: true } } as const;
  app.get('/', route, async (_req, reply) => sendIndex(reply));
  app.get('/assets/*', route, async (req, reply) => {
    const file = fileUnder(join(dir, 'assets'), (req.params as { '*': string })['*']);
    if (!file) return reply.callNotFound();
    return consoleHeaders(reply).sendFile(file, join(dir, 'assets'), { cacheControl: false });
  });

  return (req, reply) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const pathname = req.url.split('?')[0]!;
    if (NOT_CONSOLE.test(pathname) || pathname.startsWith('/assets/')) return false;
    const file = fileUnder(dir, pathname);
    if (file) {
      consoleHeaders(reply).sendFile(file, dir, { cacheControl: false });
      return true;
    }
    if (!req.headers.accept?.includes('text/html')) return false;
    sendIndex(reply);
    return true;
  };
}
