/**
 * Envelopes that carry commands and events over a transport (Electron IPC or a WebSocket).
 * A failed command comes back as a typed error, never as a dropped connection.
 */
import { z } from 'zod';

/**
 * Transport codes (the first five) and domain codes, which a service error carries across every
 * boundary (IPC, WebSocket, worker) so that a caller branches on the code, never on the text.
 */
export const ApiErrorCodeSchema = z.enum([
  'unknown-command',
  'invalid-request',
  'invalid-response',
  'failed',
  'disconnected',
  'not-found',
  'exists',
  'invalid-input',
  'unsupported',
  'io',
  'cancelled',
  'busy',
  'limit',
]);
export type ApiErrorCode = z.infer<typeof ApiErrorCodeSchema>;
/** The codes a service error may carry (the rest belong to the transports). */
export const DomainErrorCodeSchema = ApiErrorCodeSchema.exclude(['unknown-command', 'invalid-request', 'invalid-response', 'failed', 'disconnected']);
export type DomainErrorCode = z.infer<typeof DomainErrorCodeSchema>;

/** An error class's name as it crosses a boundary: an identifier, so a hostile one cannot smuggle text. */
export const ErrorNameSchema = z.string().regex(/^[A-Za-z_$][\w$]{0,63}$/);

/** An error a service throws on purpose: its code survives serialization (see `serializeError`). */
export class DomainError extends Error {
  readonly code: DomainErrorCode;
  constructor(code: DomainErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DomainError';
    this.code = code;
  }
}

export const ApiErrorBodySchema = z.object({
  code: ApiErrorCodeSchema,
  message: z.string(),
  /** The thrown error's class name (ExportError, RunNotFoundError, ...), kept for logs and callers. */
  name: ErrorNameSchema.optional(),
  /** Where in the payload validation failed, one "path: message" per problem. */
  issues: z.array(z.string()).optional(),
});
export type ApiErrorBody = z.infer<typeof ApiErrorBodySchema>;

/**
 * Any thrown value as plain data that crosses every boundary (IPC, WebSocket, worker thread,
 * Electron's contextBridge, which keeps only an Error's message): an error whose `code` is a known
 * API code keeps it (DomainError or any error class that sets one), everything else is `failed`;
 * its class name and validation issues go along. VS Code's transformErrorForSerialization, typed.
 */
export function serializeError(error: unknown): ApiErrorBody {
  const message = error instanceof Error ? error.message : String(error);
  const fields = (error ?? {}) as { code?: unknown; name?: unknown; issues?: unknown };
  const code = ApiErrorCodeSchema.safeParse(fields.code);
  const name = ErrorNameSchema.safeParse(fields.name);
  const issues = z.array(z.string()).safeParse(fields.issues);
  return {
    code: code.success ? code.data : 'failed',
    message,
    ...(name.success && error instanceof Error ? { name: name.data } : {}),
    ...(issues.success && issues.data.length ? { issues: issues.data } : {}),
  };
}

/**
 * The other side of `serializeError`: an ApiError with the same code, name, message and issues.
 * An ApiError passes through; anything that is not a serialized error becomes a `failed` one.
 */
export function deserializeError(body: unknown): ApiError {
  if (body instanceof ApiError) return body;
  const parsed = ApiErrorBodySchema.safeParse(body);
  return new ApiError(parsed.success ? parsed.data : serializeError(body));
}

export const ResultSchema = z.discriminatedUnion('ok', [z.object({ ok: z.literal(true), value: z.unknown() }), z.object({ ok: z.literal(false), error: ApiErrorBodySchema })]);
export type Result = z.infer<typeof ResultSchema>;

/** Client → host over a socket. */
export const RequestFrameSchema = z.object({
  kind: z.literal('request'),
  id: z.number().int().min(0),
  name: z.string(),
  payload: z.unknown(),
});
export type RequestFrame = z.infer<typeof RequestFrameSchema>;

/** Host → client over a socket. */
export const HostFrameSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('response'), id: z.number().int(), result: ResultSchema }),
  z.object({ kind: z.literal('event'), name: z.string(), payload: z.unknown() }),
]);
export type HostFrame = z.infer<typeof HostFrameSchema>;

/**
 * A failed command on the caller's side: `code` to branch on, `name` the class the service threw
 * (ApiError when the failure began in a transport), never text to match.
 */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly issues: string[];
  constructor(body: ApiErrorBody) {
    super(body.message);
    this.name = body.name ?? 'ApiError';
    this.code = body.code;
    this.issues = body.issues ?? [];
  }
}

export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`);
}

/** Unwrap a result on the client side, validating the value against the command's response schema. */
export function unwrapResult<T>(result: unknown, schema: z.ZodType<T>): T {
  const parsed = ResultSchema.safeParse(result);
  if (!parsed.success) {
    throw new ApiError({ code: 'invalid-response', message: 'The host sent a malformed result', issues: formatIssues(parsed.error) });
  }
  if (!parsed.data.ok) throw new ApiError(parsed.data.error);
  const value = schema.safeParse(parsed.data.value);
  if (!value.success) {
    throw new ApiError({ code: 'invalid-response', message: 'The host sent a response that breaks the contract', issues: formatIssues(value.error) });
  }
  return value.data;
}
