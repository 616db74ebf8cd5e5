/**
 * The sandboxed preload (bundled to out/preload/index.cjs): exposes `window.layerbench`, the
 * contract's `LayerbenchApi`, over Electron IPC. Responses and events are validated against the
 * contract here as well as in main, so the renderer only ever sees data that fits the contract.
 * Only functions and plain data cross the bridge; ipcRenderer itself never does.
 *
 * Note: Errors cross contextBridge as plain Errors (message kept, custom properties such as
 * ApiError's `code` and `issues` dropped), so the messages are made to stand on their own.
 */
import './jitless';
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { z } from 'zod';
import {
  ApiError,
  commands,
  events,
  fastTrainingEvent,
  formatIssues,
  isCommandName,
  isEventName,
  unwrapResult,
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
  // The hot training events ('batches', 'stats') are checked by hand when they pass; zod decides
  // everything else, and explains what it rejects (contract/fast-events.ts).
  let data: unknown = name === 'training' ? fastTrainingEvent(payload) : null;
  if (data === null) {
    const parsed = events[name].safeParse(payload);
    if (!parsed.success) {
      console.warn(`[layerbench] Dropped an invalid ${name} event: ${formatIssues(parsed.error).join('; ')}`);
      return;
    }
    data = parsed.data;
  }
  for (const listener of [...subscribers]) {
    try {
      listener(data);
    } catch (error) {
      console.error(`[layerbench] A ${name} listener threw`, error);
    }
  }
}

/**
 * contextBridge keeps only an Error's message, so the issues go into the message when it does not
 * already list them (dispatch's invalid-request messages do).
 */
function selfContained(error: unknown): unknown {
  if (!(error instanceof ApiError) || error.issues.length === 0) return error;
  const missing = error.issues.filter((issue) => !error.message.includes(issue));
  if (missing.length === 0) return error;
  return new ApiError({ code: error.code, message: `${error.message}: ${missing.join('; ')}`, issues: error.issues });
}

let subscribed = false;
function updateSubscription(): void {
  const wanted = [...listeners.values()].some((set) => set.size > 0);
  if (wanted && !subscribed) ipcRenderer.on(EVENT_CHANNEL, deliver);
  if (!wanted && subscribed) ipcRenderer.removeListener(EVENT_CHANNEL, deliver);
  subscribed = wanted;
}

const api: LayerbenchApi = {
  async invoke<N extends CommandName>(name: N, request: CommandRequest<N>): Promise<CommandResponse<N>> {
    if (!isCommandName(name)) {
      throw new ApiError({ code: 'unknown-command', message: `Unknown command: ${JSON.stringify(name)}` });
    }
    const result: unknown = await ipcRenderer.invoke(INVOKE_CHANNEL, name, request);
    try {
      return unwrapResult(result, commands[name].response as unknown as z.ZodType<CommandResponse<N>>);
    } catch (error) {
      throw selfContained(error);
    }
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
