/**
 * The host-agnostic command dispatcher: validates a command's name and payload against the contract,
 * runs its handler, and validates what the handler returns. Electron IPC and the WebSocket host both
 * call this one function, so both hosts enforce the contract identically (VS Code's validated IPC,
 * without the per-host copies).
 */
import { commands, formatIssues, isCommandName, serializeError, type CommandName, type CommandResponse, type EventName, type EventPayload, type Result } from '../../contract';
import type { z } from 'zod';

export type CommandHandlers = {
  [N in CommandName]: (request: z.output<(typeof commands)[N]['request']>) => Promise<CommandResponse<N>> | CommandResponse<N>;
};

export type EventListener = <E extends EventName>(name: E, payload: EventPayload<E>) => void;

export async function dispatchCommand(handlers: Partial<CommandHandlers>, name: unknown, payload: unknown): Promise<Result> {
  if (!isCommandName(name) || !handlers[name]) {
    return { ok: false, error: { code: 'unknown-command', message: `Unknown command: ${JSON.stringify(name)}` } };
  }
  const schema = commands[name];
  const request = schema.request.safeParse(payload ?? {});
  if (!request.success) {
    const issues = formatIssues(request.error);
    return { ok: false, error: { code: 'invalid-request', message: `Invalid ${name} request: ${issues.join('; ')}`, issues } };
  }
  let value: unknown;
  try {
    value = await (handlers[name] as (r: unknown) => unknown)(request.data);
  } catch (error) {
    return { ok: false, error: serializeError(error) };
  }
  const response = schema.response.safeParse(value);
  if (!response.success) {
    const issues = formatIssues(response.error);
    return { ok: false, error: { code: 'invalid-response', message: `${name} produced a response that breaks the contract`, issues } };
  }
  return { ok: true, value: response.data };
}
