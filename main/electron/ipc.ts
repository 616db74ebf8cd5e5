/**
 * Binds the services to Electron IPC: one invoke channel for every command (validated by
 * `services.dispatch` against the contract) and one event channel to the app windows. A call from
 * any other sender (another webContents, an iframe, a page that is not on the app origin) gets an
 * error result; the handler never throws, so the renderer always receives a `Result` envelope.
 */
import { ipcMain, type BrowserWindow, type IpcMainInvokeEvent } from 'electron';
import { serializeError, type Result } from '../../contract';
import type { Services } from '../services';
import { EVENT_CHANNEL, INVOKE_CHANNEL, ipcSenderRejection, isAppUrl } from './policy';

export interface IpcBindingOptions {
  services: Services;
  /** The app's windows (the only trusted senders and the only event receivers). */
  windows: () => readonly BrowserWindow[];
}

function senderRejection(event: IpcMainInvokeEvent, windows: readonly BrowserWindow[]): string | null {
  const window = windows.find((candidate) => !candidate.isDestroyed() && candidate.webContents === event.sender);
  const frame = event.senderFrame;
  const top = window?.webContents.mainFrame;
  return ipcSenderRejection({
    fromAppWindow: window !== undefined,
    frameExists: frame !== null,
    isTopFrame: frame !== null && top !== undefined && frame.parent === null && (frame === top || (frame.processId === top.processId && frame.routingId === top.routingId)),
    frameUrl: frame?.url,
  });
}

/** Registers the handlers; returns the function that removes them. */
export function bindServicesToIpc({ services, windows }: IpcBindingOptions): () => void {
  ipcMain.handle(INVOKE_CHANNEL, async (event, name: unknown, payload: unknown): Promise<Result> => {
    let rejection: string | null;
    try {
      rejection = senderRejection(event, windows());
    } catch (error) {
      rejection = `the sender could not be checked (${error instanceof Error ? error.message : String(error)})`;
    }
    if (rejection !== null) {
      console.warn(`[layerbench] Refused IPC call ${JSON.stringify(name)}: ${rejection}`);
      return { ok: false, error: { code: 'failed', message: `Refused: ${rejection}` } };
    }
    try {
      return await services.dispatch(name, payload);
    } catch (error) {
      return { ok: false, error: serializeError(error) };
    }
  });

  const unsubscribe = services.onEvent((name, payload) => {
    for (const window of windows()) {
      if (window.isDestroyed()) continue;
      const contents = window.webContents;
      if (contents.isDestroyed() || contents.isCrashed() || !isAppUrl(contents.getURL())) continue;
      contents.send(EVENT_CHANNEL, name, payload);
    }
  });

  return () => {
    unsubscribe();
    ipcMain.removeHandler(INVOKE_CHANNEL);
  };
}
