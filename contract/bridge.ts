/**
 * The two halves of a command call across Electron's contextBridge, which copies plain data whole
 * but keeps only the message of an Error (no `code`, no `name`, no `issues`). So the preload rejects
 * with serializeError's plain body, and the renderer turns that back into an ApiError: the code and
 * the class name survive, as they do over the WebSocket. No `electron` import: both halves are
 * tested without it (bridge.test.ts).
 */
import { commands, isCommandName, type CommandName, type CommandRequest, type CommandResponse, type LayerbenchApi } from './api';
import { ApiError, deserializeError, serializeError, unwrapResult } from './wire';
import type { z } from 'zod';

/** The preload's invoke: `send` is ipcRenderer.invoke on the command channel. Rejects with an ApiErrorBody, never an Error. */
export async function invokeAcrossBridge<N extends CommandName>(
  send: (name: N, request: CommandRequest<N>) => Promise<unknown>,
  name: N,
  request: CommandRequest<N>,
): Promise<CommandResponse<N>> {
  try {
    if (!isCommandName(name)) throw new ApiError({ code: 'unknown-command', message: `Unknown command: ${JSON.stringify(name)}` });
    return unwrapResult(await send(name, request), commands[name].response as unknown as z.ZodType<CommandResponse<N>>);
  } catch (error) {
    // Plain data on purpose: contextBridge would strip an Error down to its message.
    throw serializeError(error);
  }
}

/** The renderer's view of the preload's API: rejections become ApiErrors again, with their code and name. */
export function fromBridge(bridge: LayerbenchApi): LayerbenchApi {
  return {
    invoke: (name, request) =>
      bridge.invoke(name, request).catch((body: unknown) => {
        throw deserializeError(body);
      }),
    on: (name, listener) => bridge.on(name, listener),
  };
}
