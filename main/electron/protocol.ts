/**
 * The `app://layerbench/` protocol that serves the built renderer (out/renderer). Registered as a
 * standard, secure scheme so the page has a real origin: CSP 'self', fetch and ES modules work as
 * on https, and nothing needs file:// (which would expose the whole disk to the page's origin).
 */
import { protocol, type Session } from 'electron';
import { readFile } from 'node:fs/promises';
import { mimeTypeFor, realFileInside, staticResponseHeaders } from '../host-policy';
import { APP_SCHEME, resolveAppAsset } from './policy';

/**
 * Must run before the app's `ready` event (at module load of the entry), once: a second call
 * replaces the first. corsEnabled makes cross-origin requests to app:// go through ordinary CORS
 * (which they fail: no Access-Control-Allow-Origin is ever sent); same-origin module scripts load.
 */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([
    {
      scheme: APP_SCHEME,
      privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true, codeCache: true },
    },
  ]);
}

function refusal(status: number, reason: string): Response {
  return new Response(`${status} ${reason}`, { status, headers: staticResponseHeaders('text/plain; charset=utf-8') });
}

/** Serves files from `rendererDir` on the app origin of `session` (after `ready`). */
export function handleAppProtocol(session: Session, rendererDir: string): void {
  session.protocol.handle(APP_SCHEME, async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return refusal(405, 'method not allowed');
    const asset = resolveAppAsset(rendererDir, request.url);
    if (!asset.ok) return refusal(asset.status, asset.reason);
    // Symbolic links are followed only where they stay inside the renderer folder.
    const real = await realFileInside(rendererDir, asset.file);
    if (!real.ok) return refusal(real.status, real.reason);
    let body: Buffer;
    try {
      body = await readFile(real.file);
    } catch {
      return refusal(404, 'not found');
    }
    const headers = staticResponseHeaders(mimeTypeFor(real.file));
    return new Response(request.method === 'HEAD' ? null : body, { status: 200, headers });
  });
}
