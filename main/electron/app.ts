/**
 * The Electron app's lifecycle: one instance per profile, the app:// protocol and the security
 * restrictions, the services (plain Node, shared with the CLI and `layerbench serve`) bound to
 * IPC, the window, and an orderly shutdown that disposes the services (and their training worker).
 *
 * Everything before `app.whenReady()` runs synchronously while the entry module loads; Electron
 * waits for the ESM entry to finish loading before it emits `ready`. Never await `ready` at module
 * scope: that would deadlock.
 */
import { app, session } from 'electron';
import { join, resolve } from 'node:path';
import { createServices, type Services } from '../services';
import { bindServicesToIpc } from './ipc';
import { handleAppProtocol, registerAppScheme } from './protocol';
import { hardenAllWebContents, hardenSession } from './security';
import { appWindows, createAppWindow, focusWindow, isAppWebContents, type WindowPaths } from './window';

export interface AppPaths extends WindowPaths {
  /** The built renderer (out/renderer), served on app://layerbench/. */
  rendererDir: string;
}

/** How long quitting waits for the services (training worker) to stop. */
const DISPOSE_TIMEOUT_MS = 5_000;

function disposeServices(services: Services): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolveTimeout) => {
    timer = setTimeout(() => {
      console.warn('[layerbench] The services did not stop in time; quitting anyway');
      resolveTimeout();
    }, DISPOSE_TIMEOUT_MS);
  });
  const disposed = services.dispose().catch((error: unknown) => {
    console.error('[layerbench] Disposing the services failed', error);
  });
  return Promise.race([disposed, timeout]).finally(() => clearTimeout(timer));
}

export function startApp(paths: AppPaths): void {
  // One name and profile folder however the app is launched (`electron .`, `electron
  // out/main/index.js`, packaged). LAYERBENCH_USER_DATA_DIR gives tests a fresh profile.
  app.setName('Layerbench');
  const userData = process.env.LAYERBENCH_USER_DATA_DIR ? resolve(process.env.LAYERBENCH_USER_DATA_DIR) : join(app.getPath('appData'), 'Layerbench');
  app.setPath('userData', userData);

  if (!app.requestSingleInstanceLock()) {
    // Another instance owns this profile; it focuses its window (second-instance below).
    app.quit();
    return;
  }

  registerAppScheme();
  app.enableSandbox();
  hardenAllWebContents();
  if (process.platform === 'win32') app.setAppUserModelId('dev.layerbench.app');

  let services: Services | null = null;
  let unbindIpc: (() => void) | null = null;

  const openWindow = () => {
    const [existing] = appWindows();
    if (existing) focusWindow(existing);
    else if (app.isReady() && services) createAppWindow(paths);
  };

  app.on('second-instance', openWindow);
  app.on('activate', openWindow);
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('will-quit', (event) => {
    if (!services) return;
    // Hold the quit until the training worker is gone, then quit again (services is null by then).
    event.preventDefault();
    const closing = services;
    services = null;
    unbindIpc?.();
    unbindIpc = null;
    void disposeServices(closing).finally(() => app.quit());
  });

  app
    .whenReady()
    .then(() => {
      const defaultSession = session.defaultSession;
      hardenSession(defaultSession, isAppWebContents);
      handleAppProtocol(defaultSession, paths.rendererDir);
      services = createServices({
        host: 'electron',
        dataDir: app.getPath('userData'),
        fashionMnistBaseUrl: process.env.LAYERBENCH_FASHION_MNIST_URL || undefined,
      });
      unbindIpc = bindServicesToIpc({ services, windows: appWindows });
      createAppWindow(paths);
    })
    .catch((error: unknown) => {
      console.error('[layerbench] Startup failed', error);
      app.exit(1);
    });
}
