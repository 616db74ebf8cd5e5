/**
 * The Electron host's security policy as pure functions: the app origin, the CSP, which URLs the
 * renderer may load or navigate to, which files the app:// protocol may serve, and which IPC
 * senders are trusted. No `electron` import here, so vitest checks all of it without the binary;
 * `security.ts`, `protocol.ts` and `ipc.ts` apply it.
 */
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';

/** The renderer is served from `app://layerbench/…` (a standard, secure, privileged scheme). */
export const APP_SCHEME = 'app';
export const APP_HOST = 'layerbench';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY_URL = `${APP_ORIGIN}/index.html`;

export { EVENT_CHANNEL, INVOKE_CHANNEL } from './channels';

/**
 * 'self' everywhere; inline styles only (Svelte sets style attributes), no inline or eval'd
 * script, no plugins, no <base>, and the app cannot be framed.
 */
export const CSP_DIRECTIVES: Readonly<Record<string, string>> = {
  'default-src': "'self'",
  'script-src': "'self'",
  'style-src': "'self' 'unsafe-inline'",
  'img-src': "'self' data: blob:",
  'connect-src': "'self'",
  'object-src': "'none'",
  'base-uri': "'none'",
  'frame-ancestors': "'none'",
};
export const CONTENT_SECURITY_POLICY = Object.entries(CSP_DIRECTIVES)
  .map(([name, value]) => `${name} ${value}`)
  .join('; ');

function parseUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/**
 * True when `url` is on the app origin. Node parses `app:` as a non-special scheme (its `origin`
 * is "null"), so the parts are compared instead; anything odd (credentials, a port) is rejected.
 */
export function isAppUrl(url: string | null | undefined): boolean {
  if (!url) return false;
  const parsed = parseUrl(url);
  return (
    parsed !== null &&
    parsed.protocol === `${APP_SCHEME}:` &&
    parsed.host === APP_HOST &&
    parsed.username === '' &&
    parsed.password === ''
  );
}

/** Navigation (top frame or subframe, redirects included) is allowed only within the app origin. */
export function isAllowedNavigation(url: string): boolean {
  return isAppUrl(url);
}

/**
 * Requests the app window may make: its own origin, and inline data/blob URLs (images, chart
 * exports). Everything else (http, https, ws, file, ...) is cancelled before it leaves; the
 * renderer talks to the services over IPC only.
 */
export function isAllowedRendererRequest(url: string): boolean {
  if (isAppUrl(url)) return true;
  const parsed = parseUrl(url);
  if (!parsed) return false;
  return parsed.protocol === 'data:' || parsed.protocol === 'blob:';
}

/**
 * Links the app may hand to the system browser (from `window.open` or target=_blank): https
 * only, with a host and without embedded credentials. Everything else is just denied.
 */
export function isSafeExternalUrl(url: string): boolean {
  const parsed = parseUrl(url);
  return (
    parsed !== null &&
    parsed.protocol === 'https:' &&
    parsed.hostname !== '' &&
    parsed.username === '' &&
    parsed.password === ''
  );
}

export type AssetResolution = { ok: true; file: string } | { ok: false; status: 400 | 403 | 404; reason: string };

/**
 * Maps an `app://layerbench/<path>` request to a file inside `rootDir`, or refuses it. The path is
 * percent-decoded once, and refused if it holds a NUL, a backslash, a drive letter, or a `.`/`..`
 * segment; the resolved file must then still lie inside `rootDir` (belt and braces). `/` serves
 * index.html.
 */
export function resolveAppAsset(rootDir: string, requestUrl: string): AssetResolution {
  const url = parseUrl(requestUrl);
  if (!url || !isAppUrl(requestUrl)) return { ok: false, status: 403, reason: 'not on the app origin' };
  let pathname: string;
  try {
    pathname = decodeURIComponent(url.pathname);
  } catch {
    return { ok: false, status: 400, reason: 'malformed percent-encoding' };
  }
  if (pathname === '' || pathname === '/') pathname = '/index.html';
  if (!pathname.startsWith('/')) return { ok: false, status: 400, reason: 'relative path' };
  if (/[\0\\:]/.test(pathname)) return { ok: false, status: 403, reason: 'forbidden character in path' };
  const segments = pathname.slice(1).split('/');
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    return { ok: false, status: 403, reason: 'path traversal' };
  }
  if (segments.some((segment) => segment === '')) return { ok: false, status: 404, reason: 'empty path segment' };
  const root = resolve(rootDir);
  const file = resolve(root, ...segments);
  const inside = relative(root, file);
  if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
    return { ok: false, status: 403, reason: 'outside the renderer folder' };
  }
  return { ok: true, file };
}

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

/** Headers on every app:// response. */
export function appResponseHeaders(contentType: string): Record<string, string> {
  return {
    'Content-Type': contentType,
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cache-Control': 'no-cache',
  };
}

/** What `ipc.ts` knows about an IPC call's sender. */
export interface IpcSenderInfo {
  /** The sender's webContents belongs to one of the app's windows. */
  fromAppWindow: boolean;
  /** The sending frame still exists (Electron gives null once it navigated or was destroyed). */
  frameExists: boolean;
  /** The sending frame is its webContents' top frame (not an iframe). */
  isTopFrame: boolean;
  /** The sending frame's current URL. */
  frameUrl: string | null | undefined;
}

/** Why a sender is refused, or null when it is trusted. */
export function ipcSenderRejection(sender: IpcSenderInfo): string | null {
  if (!sender.fromAppWindow) return 'the sender is not a Layerbench window';
  if (!sender.frameExists) return 'the sending frame is gone';
  if (!sender.isTopFrame) return 'the sender is not the top frame';
  if (!isAppUrl(sender.frameUrl)) return 'the sending frame is not on the app origin';
  return null;
}
