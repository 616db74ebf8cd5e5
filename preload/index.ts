/**
 * The sandboxed preload (bundled to out/preload/index.cjs): exposes `window.layerbench`, the
 * contract's `LayerbenchApi`, over Electron IPC. Responses and events are validated against the
 * contract here as well as in main, so the renderer only ever sees data that fits the contract.
 * Only functions and plain data cross the bridge; ipcRenderer itself never does.
 *
 * A failed command rejects with serializeError's plain body (code, name, message, issues), which
 * contextBridge copies whole (an Error would arrive as its message only); the renderer's host/
 * turns it back into an ApiError (contract/bridge.ts).
 */
import './jitless';
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import {
  checkEvent,
  invokeAcrossBridge,
  isEventName,
  type CommandName,
  type CommandRequest,
  type CommandResponse,
  type EventName,
  type EventPayload,
  type LayerbenchApi,
} from '../contract';
import { EVENT_CHANNEL, INVOKE_CHANNEL } from '../main/electron/channels';

type Listener = (payload: unknown) => void;

const listeners = new Map<EventName, Set<Listener>>();

function deliver(_event: IpcRendererEvent, name: unknown, payload: unknown): void {
  if (!isEventName(name)) {
    console.warn(`[layerbench] Dropped an event with an unknown name: ${JSON.stringify(name)}`);
    return;
  }
  const subscribers = listeners.get(name);
  if (!subscribers || subscribers.size === 0) return;
  // The fast check for the hot training events, then zod (contract/fast-events.ts).
  const checked = checkEvent(name, payload);
  if (!checked.ok) {
    console.warn(`[layerbench] Dropped an invalid ${name} event: ${checked.issues.join('; ')}`);
    return;
  }
  for (const listener of [...subscribers]) {
    try {
      listener(checked.payload);
    } catch (error) {
      console.error(`[layerbench] A ${name} listener threw`, error);
    }
  }
}

let subscribed = false;
function updateSubscription(): void {
  const wanted = [...listeners.values()].some((set) => set.size > 0);
  if (wanted && !subscribed) ipcRenderer.on(EVENT_CHANNEL, deliver);
  if (!wanted && subscribed) ipcRenderer.removeListener(EVENT_CHANNEL, deliver);
  subscribed = wanted;
}

const api: LayerbenchApi = {
  invoke<N extends CommandName>(name: N, request: CommandRequest<N>): Promise<CommandResponse<N>> {
    return invokeAcrossBridge((n, r) => ipcRenderer.invoke(INVOKE_CHANNEL, n, r), name, request);
  },

  on<E extends EventName>(name: E, listener: (payload: EventPayload<E>) => void): () => void {
    if (!isEventName(name)) throw new TypeError(`Unknown event: ${JSON.stringify(name)}`);
    if (typeof listener !== 'function') throw new TypeError('The listener must be a function');
    let subscribers = listeners.get(name);
    if (!subscribers) listeners.set(name, (subscribers = new Set()));
    // A new wrapper per subscription, so subscribing one function twice needs two unsubscribes.
    const wrapped: Listener = (payload) => listener(payload as EventPayload<E>);
    subscribers.add(wrapped);
    updateSubscription();
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      subscribers.delete(wrapped);
      updateSubscription();
    };
  },
};

// A plain object of functions: contextBridge copies it and proxies each function.
contextBridge.exposeInMainWorld('layerbench', api);
