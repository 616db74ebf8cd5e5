/**
 * The browser host's side of the API: the same `LayerbenchApi` the Electron preload exposes,
 * carried over a WebSocket to `layerbench serve`. Responses and events are validated against the
 * contract here, as the preload does in Electron.
 */
import {
  ApiError,
  HostFrameSchema,
  commands,
  events,
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
        frame = HostFrameSchema.parse(JSON.parse(String(message.data)));
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
      const payload = events[frame.name].safeParse(frame.payload);
      if (!payload.success) {
        console.warn(`layerbench: dropped an invalid ${frame.name} event`, payload.error.issues);
        return;
      }
      for (const listener of listeners.get(frame.name) ?? []) listener(payload.data as never);
    });

    socket.addEventListener('close', () => {
      for (const call of pending.values()) call.reject(new ApiError({ code: 'disconnected', message: 'The connection to Layerbench closed' }));
      pending.clear();
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
    socket.addEventListener('open', () => resolve(api), { once: true });
  });
}
