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
export type DomainErrorCode = Exclude<ApiErrorCode, 'unknown-command' | 'invalid-request' | 'invalid-response' | 'failed' | 'disconnected'>;

/** An error a service throws on purpose: its code survives serialization (see `errorBody`). */
export class DomainError extends Error {
  readonly code: DomainErrorCode;
  constructor(code: DomainErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DomainError';
    this.code = code;
  }
}

/**
 * What any thrown value becomes on the wire: an error whose `code` is a known API code keeps it
 * (DomainError or any error class that sets one), everything else is `failed`.
 */
export function errorBody(error: unknown): ApiErrorBody {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const known = ApiErrorCodeSchema.safeParse(code);
  return { code: known.success ? known.data : 'failed', message };
}

export const ApiErrorBodySchema = z.object({
  code: ApiErrorCodeSchema,
  message: z.string(),
  /** Where in the payload validation failed, one "path: message" per problem. */
  issues: z.array(z.string()).optional(),
});
export type ApiErrorBody = z.infer<typeof ApiErrorBodySchema>;

export const ResultSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), value: z.unknown() }),
  z.object({ ok: z.literal(false), error: ApiErrorBodySchema }),
]);
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

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly issues: string[];
  constructor(body: ApiErrorBody) {
    super(body.message);
    this.name = 'ApiError';
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
