/**
 * The browser host's side of the API: the same `LayerbenchApi` the Electron preload exposes,
 * carried over a WebSocket to `layerbench serve`. Responses and events are validated against the
 * contract here, as the preload does in Electron.
 */
import {
  ApiError,
  HostFrameSchema,
  checkEvent,
  commands,
  type HostFrame,
  isEventName,
  unwrapResult,
  type CommandName,
  type CommandRequest,
  type CommandResponse,
  type EventName,
  type EventPayload,
  type LayerbenchApi,
} from '../../contract';
import type { ZodType } from 'zod';

/**
 * An event frame, checked by hand: HostFrameSchema's event branch is `{ kind: 'event', name:
 * string, payload: unknown }`, and running zod over it (jitless, so interpreted) for every event
 * cost as much as checking a small payload. Responses and anything else go through the schema.
 */
function eventFrame(raw: unknown): HostFrame | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const frame = raw as { kind?: unknown; name?: unknown; payload?: unknown };
  return frame.kind === 'event' && typeof frame.name === 'string' ? { kind: 'event', name: frame.name, payload: frame.payload } : null;
}

/** Dispatched on `window` when an open connection closes; `detail` is the message to show. */
export const DISCONNECTED_EVENT = 'layerbench:disconnected';

export interface WebSocketApi extends LayerbenchApi {
  close(): void;
}

export function connectWebSocket(url: string): Promise<WebSocketApi> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    let nextId = 1;
    const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; name: CommandName }>();
    const listeners = new Map<EventName, Set<(payload: never) => void>>();

    socket.addEventListener('message', (message) => {
      let frame;
      try {
        const raw: unknown = JSON.parse(String(message.data));
        frame = eventFrame(raw) ?? HostFrameSchema.parse(raw);
      } catch (error) {
        console.warn('layerbench: dropped a malformed frame from the host', error);
        return;
      }
      if (frame.kind === 'response') {
        const call = pending.get(frame.id);
        if (!call) return;
        pending.delete(frame.id);
        try {
          call.resolve(unwrapResult(frame.result, commands[call.name].response as ZodType<unknown>));
        } catch (error) {
          call.reject(error as Error);
        }
        return;
      }
      if (!isEventName(frame.name)) return;
      // The fast check for the hot training events, then zod (contract/fast-events.ts), as the preload does.
      const checked = checkEvent(frame.name, frame.payload);
      if (!checked.ok) {
        console.warn(`layerbench: dropped an invalid ${frame.name} event`, checked.issues);
        return;
      }
      for (const listener of listeners.get(frame.name) ?? []) listener(checked.payload as never);
    });

    socket.addEventListener('close', (event) => {
      // The server's reason says why it closed (e.g. `limit: …` for a tab that fell too far behind).
      const message = `The connection to Layerbench closed${event.reason ? `: ${event.reason}` : ''}`;
      for (const call of pending.values()) call.reject(new ApiError({ code: 'disconnected', message }));
      pending.clear();
      if (opened) window.dispatchEvent(new CustomEvent(DISCONNECTED_EVENT, { detail: message }));
    });
    socket.addEventListener('error', () => reject(new Error(`Could not connect to ${url}`)), { once: true });

    const api: WebSocketApi = {
      invoke<N extends CommandName>(name: N, request: CommandRequest<N>): Promise<CommandResponse<N>> {
        if (socket.readyState !== WebSocket.OPEN) {
          return Promise.reject(new ApiError({ code: 'disconnected', message: 'Not connected to Layerbench' }));
        }
        const id = nextId++;
        return new Promise((resolveCall, rejectCall) => {
          pending.set(id, { resolve: resolveCall as (v: unknown) => void, reject: rejectCall, name });
          socket.send(JSON.stringify({ kind: 'request', id, name, payload: request }));
        });
      },
      on<E extends EventName>(name: E, listener: (payload: EventPayload<E>) => void): () => void {
        let set = listeners.get(name);
        if (!set) listeners.set(name, (set = new Set()));
        set.add(listener as (payload: never) => void);
        return () => set.delete(listener as (payload: never) => void);
      },
      close: () => socket.close(),
    };
    let opened = false;
    socket.addEventListener(
      'open',
      () => {
        opened = true;
        resolve(api);
      },
      { once: true },
    );
  });
}
