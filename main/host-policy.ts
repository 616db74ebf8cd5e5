/**
 * What both hosts apply when they serve the built renderer: the content security policy, the
 * response headers, the MIME types, and which request paths map to which files. The Electron host
 * (app:// protocol, main/electron/protocol.ts) and the browser host (HTTP, main/serve/server.ts)
 * both call these, so neither can drift from the other. Plain Node: no `electron` import.
 */
import { realpath, stat } from 'node:fs/promises';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';

/**
 * 'self' everywhere; inline styles only (Svelte sets style attributes), no inline or eval'd
 * script, no plugins, no <base>, no form posts, and the app cannot be framed.
 */
export const CSP_DIRECTIVES: Readonly<Record<string, string>> = {
  'default-src': "'self'",
  'script-src': "'self'",
  'style-src': "'self' 'unsafe-inline'",
  'img-src': "'self' data: blob:",
  'connect-src': "'self'",
  'object-src': "'none'",
  'base-uri': "'none'",
  'form-action': "'none'",
  'frame-ancestors': "'none'",
};
export const CONTENT_SECURITY_POLICY = Object.entries(CSP_DIRECTIVES)
  .map(([name, value]) => `${name} ${value}`)
  .join('; ');

const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
};

export function mimeTypeFor(file: string): string {
  return MIME_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/** Headers on every response of the renderer's files (and on refusals). */
export function staticResponseHeaders(contentType: string): Record<string, string> {
  return {
    'Content-Type': contentType,
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  };
}

export type StaticPath = { ok: true; file: string } | { ok: false; status: 400 | 403 | 404; reason: string };

/**
 * Maps a request's path (as in the URL, still percent-encoded) to a file inside `rootDir`, or
 * refuses it. The path is decoded once, and refused if it holds a NUL, a backslash, a drive letter,
 * or a `.`/`..` segment; the resolved file must then still lie inside `rootDir` (belt and braces).
 * `/` serves index.html. Symbolic links are checked by `realFileInside`, which reads the disk.
 */
export function resolveStaticPath(rootDir: string, urlPathname: string): StaticPath {
  let pathname: string;
  try {
    pathname = decodeURIComponent(urlPathname);
  } catch {
    return { ok: false, status: 400, reason: 'malformed percent-encoding' };
  }
  if (pathname === '' || pathname === '/') pathname = '/index.html';
  if (!pathname.startsWith('/')) return { ok: false, status: 400, reason: 'relative path' };
  if (/[\0\\:]/.test(pathname)) return { ok: false, status: 403, reason: 'forbidden character in path' };
  const segments = pathname.slice(1).split('/');
  if (segments.some((segment) => segment === '.' || segment === '..')) return { ok: false, status: 403, reason: 'path traversal' };
  if (segments.some((segment) => segment === '')) return { ok: false, status: 404, reason: 'empty path segment' };
  const root = resolve(rootDir);
  const file = resolve(root, ...segments);
  if (!isInside(root, file)) return { ok: false, status: 403, reason: 'outside the renderer folder' };
  return { ok: true, file };
}

/**
 * The regular file `file` really is (symbolic links resolved), when it still lies inside `rootDir`
 * (itself resolved); a 404 otherwise: missing, a folder, or a link out of the renderer's folder.
 */
export async function realFileInside(rootDir: string, file: string): Promise<StaticPath> {
  const notFound = { ok: false, status: 404, reason: 'not found' } as const;
  try {
    const [root, real] = await Promise.all([realpath(rootDir), realpath(file)]);
    if (!isInside(root, real) || !(await stat(real)).isFile()) return notFound;
    return { ok: true, file: real };
  } catch {
    return notFound;
  }
}

function isInside(root: string, file: string): boolean {
  const inside = relative(root, file);
  return inside !== '' && inside !== '..' && !inside.startsWith(`..${sep}`) && !isAbsolute(inside);
}
