/**
 * Security restrictions for every web page in the app, after Electron's security checklist,
 * cawa-93/vite-electron-builder's security-restrictions and VS Code: locked-down webPreferences,
 * no navigation off the app origin, no new windows (https links go to the system browser), no
 * <webview>, every permission denied, and no network requests from the app window other than to
 * its own origin. The decisions themselves live in `policy.ts` (tested without Electron).
 */
import { app, shell, type Session, type WebContents, type WebPreferences } from 'electron';
import { isAllowedNavigation, isAllowedRendererRequest, isSafeExternalUrl } from './policy';

/** The webPreferences of every app window. */
export function secureWebPreferences(preload: string): WebPreferences {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    // The spellchecker would fetch dictionaries from a Google CDN.
    spellcheck: false,
    safeDialogs: true,
  };
}

function warn(message: string, url: string): void {
  console.warn(`[layerbench] ${message}: ${url}`);
}

/** Hardens one webContents (app windows, and anything else Electron creates). */
export function hardenWebContents(contents: WebContents): void {
  // Any frame (top or sub), whether by link, form, location change or script.
  contents.on('will-frame-navigate', (event) => {
    if (!isAllowedNavigation(event.url)) {
      event.preventDefault();
      warn('Blocked navigation away from the app', event.url);
    }
  });
  contents.on('will-navigate', (event) => {
    if (!isAllowedNavigation(event.url)) event.preventDefault();
  });
  contents.on('will-redirect', (event) => {
    if (!isAllowedNavigation(event.url)) {
      event.preventDefault();
      warn('Blocked a redirect away from the app', event.url);
    }
  });
  contents.setWindowOpenHandler(({ url }) => {
    if (isSafeExternalUrl(url)) {
      shell.openExternal(url).catch((error: unknown) => warn(`Could not open a link (${String(error)})`, url));
    } else {
      warn('Blocked a new window', url);
    }
    return { action: 'deny' };
  });
  contents.on('will-attach-webview', (event) => {
    event.preventDefault();
    warn('Blocked a <webview>', contents.getURL());
  });
}

/** Applies `hardenWebContents` to every webContents the app ever creates. Call once, before ready. */
export function hardenAllWebContents(): void {
  app.on('web-contents-created', (_event, contents) => hardenWebContents(contents));
}

/**
 * Session-wide restrictions: deny every permission request and check (camera, notifications,
 * clipboard reads, HID/USB/serial devices, ...), and cancel any request an app window makes to
 * anything but its own origin (CSP says the same; this holds even if CSP were bypassed).
 */
export function hardenSession(session: Session, isAppWebContents: (webContentsId: number) => boolean): void {
  session.setPermissionRequestHandler((_contents, permission, callback) => {
    console.warn(`[layerbench] Denied a permission request: ${permission}`);
    callback(false);
  });
  session.setPermissionCheckHandler(() => false);
  session.setDevicePermissionHandler(() => false);
  session.webRequest.onBeforeRequest((details, callback) => {
    const fromApp = details.webContentsId !== undefined && isAppWebContents(details.webContentsId);
    if (fromApp && !isAllowedRendererRequest(details.url)) {
      warn('Blocked a request from the app window', details.url);
      callback({ cancel: true });
      return;
    }
    callback({});
  });
}
