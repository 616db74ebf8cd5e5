/**
 * The app window: the built renderer loaded from app://layerbench/, with the sandboxed preload and
 * the locked-down webPreferences. Keeps the set of open app windows, which `ipc.ts` trusts as
 * senders and sends events to.
 */
import { BrowserWindow } from 'electron';
import { existsSync } from 'node:fs';
import { APP_ENTRY_URL } from './policy';
import { secureWebPreferences } from './security';

export interface WindowPaths {
  /** The preload bundle (CommonJS, so the sandboxed preload can load it). */
  preload: string;
  /** The window icon (Linux and Windows; macOS takes the bundle's). */
  icon: string;
}

const windows = new Set<BrowserWindow>();

/** Open app windows, oldest first. */
export function appWindows(): BrowserWindow[] {
  return [...windows].filter((window) => !window.isDestroyed());
}

export function isAppWebContents(webContentsId: number): boolean {
  return appWindows().some((window) => window.webContents.id === webContentsId);
}

export function createAppWindow(paths: WindowPaths): BrowserWindow {
  const window = new BrowserWindow({
    title: 'Layerbench',
    width: 1320,
    height: 860,
    minWidth: 900,
    minHeight: 600,
    show: false,
    backgroundColor: '#0f172a',
    icon: process.platform === 'darwin' || !existsSync(paths.icon) ? undefined : paths.icon,
    webPreferences: secureWebPreferences(paths.preload),
  });
  windows.add(window);
  window.on('closed', () => windows.delete(window));

  window.once('ready-to-show', () => window.show());
  window.webContents.on('did-fail-load', (_event, code, description, url, isMainFrame) => {
    if (!isMainFrame) return;
    console.error(`[layerbench] Could not load ${url}: ${description} (${code}). Is the renderer built (npm run build)?`);
    if (!window.isDestroyed() && !window.isVisible()) window.show();
  });
  window.webContents.on('render-process-gone', (_event, details) => {
    console.error(`[layerbench] The renderer process is gone: ${details.reason} (exit code ${details.exitCode})`);
  });
  if (process.env.LAYERBENCH_DEVTOOLS === '1') window.webContents.openDevTools({ mode: 'detach' });

  window.loadURL(APP_ENTRY_URL).catch((error: unknown) => {
    // did-fail-load has reported it; this only keeps the rejection from going unhandled.
    if (!(error instanceof Error)) console.error('[layerbench] loadURL failed', error);
  });
  return window;
}

/** Shows and focuses a window (second instance, dock click). */
export function focusWindow(window: BrowserWindow): void {
  if (window.isMinimized()) window.restore();
  if (!window.isVisible()) window.show();
  window.focus();
}
