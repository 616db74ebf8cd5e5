/**
 * The Electron host's security policy as pure functions: the app origin, which URLs the renderer
 * may load or navigate to, which files the app:// protocol may serve, and which IPC senders are
 * trusted. The CSP, the headers, the MIME types and the path check are the ones the browser host
 * uses too (../host-policy.ts). No `electron` import here, so vitest checks all of it without the
 * binary; `security.ts`, `protocol.ts` and `ipc.ts` apply it.
 */
import { resolveStaticPath, type StaticPath } from '../host-policy';

/** The renderer is served from `app://layerbench/…` (a standard, secure, privileged scheme). */
export const APP_SCHEME = 'app';
export const APP_HOST = 'layerbench';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY_URL = `${APP_ORIGIN}/index.html`;

export { EVENT_CHANNEL, INVOKE_CHANNEL } from './channels';

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
  return parsed !== null && parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST && parsed.username === '' && parsed.password === '';
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
  return parsed !== null && parsed.protocol === 'https:' && parsed.hostname !== '' && parsed.username === '' && parsed.password === '';
}

/**
 * Maps an `app://layerbench/<path>` request to a file inside `rootDir`, or refuses it: requests
 * off the app origin, then whatever the hosts' shared path check refuses (resolveStaticPath).
 */
export function resolveAppAsset(rootDir: string, requestUrl: string): StaticPath {
  const url = parseUrl(requestUrl);
  if (!url || !isAppUrl(requestUrl)) return { ok: false, status: 403, reason: 'not on the app origin' };
  return resolveStaticPath(rootDir, url.pathname);
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
