/**
 * The browser host: serves the built renderer over HTTP on 127.0.0.1 and bridges the API over a
 * WebSocket. Every request must name an allowed `Host` (loopback names with the bound port, plus
 * names given by flag: DNS rebinding is refused, as Jupyter does) and carry the start-up token — in
 * the URL (`?token=`) the first time, then in an HttpOnly cookie the server sets — and the socket
 * must also come from the page's own origin, so other pages and local processes cannot drive
 * training. Nothing a client sends can stop the server: malformed requests get a 400, a socket that
 * breaks the WebSocket protocol is closed with its close code (1002/1007/1009), and a client that
 * does not read is cut off before its queue grows without bound (send-queue.ts).
 */
import { createReadStream, realpathSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { RequestFrameSchema, formatIssues, serializeError, type Result } from '../../contract';
import type { Services } from '../services';
import { mimeTypeFor, realFileInside, resolveStaticPath, staticResponseHeaders } from '../host-policy';
import { DEFAULT_SEND_LIMITS, SocketSender, type SendLimits } from './send-queue';
import { cookieValue, newToken, tokenCookieName, tokensEqual } from './token';

export interface ServeOptions {
  services: Services;
  /** Folder of the built renderer (index.html and its assets). */
  rendererDir: string;
  port?: number;
  host?: string;
  token?: string;
  /** More names the `Host` header may carry (`name` with the bound port, or `name:port`), e.g. behind a proxy. */
  allowedHosts?: string[];
  /** Per-socket send queue bounds (tests lower them). */
  sendLimits?: SendLimits;
}

export interface RunningServer {
  url: string;
  origin: string;
  token: string;
  /** The token cookie's name: it carries the port, as cookies are shared by every port of a host. */
  cookieName: string;
  server: Server;
  close(): Promise<void>;
}

/** The largest request frame: a model spec of a thousand layers fits; a maximal frame's parse stays in tens of MiB. */
export const MAX_FRAME_BYTES = 1024 * 1024;

const FORBIDDEN_TOKEN = 'Forbidden: open the URL with the token that `layerbench serve` printed.\n';
const FORBIDDEN_HOST = 'Forbidden: this Host is not allowed (add it with `layerbench serve --allow-host NAME`).\n';

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const token = options.token ?? newToken();
  let rendererDir: string;
  try {
    rendererDir = realpathSync(options.rendererDir);
    if (!(await stat(join(rendererDir, 'index.html'))).isFile()) throw new Error('index.html is not a file');
  } catch {
    throw new Error(`No built renderer in ${options.rendererDir} (run npm run build)`);
  }
  const hostName = options.host ?? '127.0.0.1';
  let origin = '';
  let cookieName = '';
  let allowedHosts = new Set<string>();

  const authorised = (req: IncomingMessage, url: URL): boolean =>
    tokensEqual(token, url.searchParams.get('token')) || tokensEqual(token, cookieValue(req.headers.cookie, cookieName));
  const hostAllowed = (req: IncomingMessage): boolean => allowedHosts.has((req.headers.host ?? '').toLowerCase());

  const server = createServer((req, res) => {
    handleRequest(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  const handleRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = requestUrl(req, origin);
    if (!url) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('Bad request: malformed URL\n');
      return;
    }
    if (!hostAllowed(req)) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end(FORBIDDEN_HOST);
      return;
    }
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (!authorised(req, url)) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end(FORBIDDEN_TOKEN);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const setCookie = tokensEqual(token, url.searchParams.get('token')) ? `${cookieName}=${token}; HttpOnly; SameSite=Strict; Path=/` : null;
    await serveStatic(rendererDir, url.pathname, res, setCookie);
  };
  // A request Node's parser rejects (bad request line, header overflow, timeout) is answered here
  // and its socket closed; without this listener Node answers too, but this keeps it explicit.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || error.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const status =
      error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });

  const sockets = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  // Only emitted when the WebSocketServer owns an HTTP server; a listener keeps it from ever being fatal.
  sockets.on('error', (error) => console.warn(`Layerbench: WebSocket server error: ${error.message}`));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node hands the raw socket over without an error listener: a reset must not be fatal.
    socket.on('error', () => socket.destroy());
    const refuse = (status: string) => socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    const url = requestUrl(req, origin);
    if (!url) return refuse('400 Bad Request');
    if (!hostAllowed(req) || url.pathname !== '/api' || !authorised(req, url) || !sameOrigin(req)) {
      return refuse('403 Forbidden');
    }
    sockets.handleUpgrade(req, socket, head, (ws) => bridge(ws, options.services, options.sendLimits ?? DEFAULT_SEND_LIMITS));
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, hostName, () => resolveListen());
  });
  // After listening, an error (e.g. EMFILE when accepting) costs that connection, not the server.
  server.on('error', (error) => console.warn(`Layerbench: HTTP server error: ${error.message}`));
  const { port } = server.address() as AddressInfo;
  origin = `http://${hostName.includes(':') ? `[${hostName}]` : hostName}:${port}`;
  cookieName = tokenCookieName(port);
  allowedHosts = allowedHostSet(port, [hostName, ...(options.allowedHosts ?? [])]);
  return {
    url: `${origin}/?token=${token}`,
    origin,
    token,
    cookieName,
    server,
    close: () =>
      new Promise<void>((done) => {
        for (const client of sockets.clients) client.terminate();
        sockets.close();
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

/** `Host` values a request may carry: the loopback names with the bound port, and the extra names. */
export function allowedHostSet(port: number, extra: string[]): Set<string> {
  const hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
  for (const raw of extra) {
    const name = raw.trim().toLowerCase();
    if (!name) continue;
    if (/^([^:[\]]+|\[[^\]]+\]):\d+$/.test(name)) hosts.add(name);
    else if (name.startsWith('[')) hosts.add(`${name}:${port}`);
    else if (name.includes(':')) hosts.add(`[${name}]:${port}`);
    else hosts.add(`${name}:${port}`);
  }
  return hosts;
}

/** The socket comes from a page of the (allowed) host it asks for: http, or https through a TLS proxy. */
function sameOrigin(req: IncomingMessage): boolean {
  const host = (req.headers.host ?? '').toLowerCase();
  const origin = (req.headers.origin ?? '').toLowerCase();
  return origin === `http://${host}` || origin === `https://${host}`;
}

/** The request's URL, or null when the request line's target is one the URL parser rejects. */
function requestUrl(req: IncomingMessage, base: string): URL | null {
  try {
    return new URL(req.url ?? '/', base);
  } catch {
    return null;
  }
}

/** Serves a file of the renderer folder, as the hosts' shared policy maps paths and labels files. */
async function serveStatic(root: string, pathname: string, res: ServerResponse, setCookie: string | null): Promise<void> {
  const refuse = (status: number, reason: string): void => void res.writeHead(status, staticResponseHeaders('text/plain; charset=utf-8')).end(`${status} ${reason}\n`);
  const asked = resolveStaticPath(root, pathname);
  if (!asked.ok) return refuse(asked.status, asked.reason);
  const real = await realFileInside(root, asked.file);
  if (!real.ok) return refuse(real.status, real.reason);
  const headers = staticResponseHeaders(mimeTypeFor(real.file));
  if (setCookie) headers['Set-Cookie'] = setCookie;
  const stream = createReadStream(real.file);
  // A file that vanishes or cannot be read between the check and the read ends this response only.
  stream.once('error', () => (res.headersSent ? res.destroy() : refuse(404, 'not found')));
  stream.once('open', () => {
    res.writeHead(200, headers);
    stream.pipe(res);
  });
}

/**
 * One socket ↔ the services: requests are validated here, events are forwarded as they come.
 * Every failure ends as a typed response or as this socket's close, never as the process's end.
 */
function bridge(ws: WebSocket, services: Services, limits: SendLimits): void {
  const sender = new SocketSender(ws, limits);
  // ws closes the socket with the matching code (1002 protocol, 1007 bad UTF-8, 1009 too big)
  // before it emits 'error'; an 'error' without a listener would end the process.
  ws.on('error', () => {});
  const unsubscribe = services.onEvent((name, payload) => sender.event(name, payload));
  ws.on('close', () => {
    unsubscribe();
    sender.dispose();
  });
  const fail = (id: number, code: 'invalid-request' | 'failed', message: string, issues?: string[]): void =>
    sender.response(id, { ok: false, error: { code, message, ...(issues ? { issues } : {}) } });
  ws.on('message', (data: RawData, isBinary: boolean) => {
    handleFrame(data, isBinary).catch((error: unknown) => fail(-1, 'failed', `The request failed: ${error instanceof Error ? error.message : String(error)}`));
  });
  const handleFrame = async (data: RawData, isBinary: boolean): Promise<void> => {
    if (isBinary) return fail(-1, 'invalid-request', 'Binary frames are not part of the protocol: send JSON text');
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      return fail(-1, 'invalid-request', 'A frame was not valid JSON');
    }
    const request = RequestFrameSchema.safeParse(frame);
    if (!request.success) {
      const id = (frame as { id?: unknown } | null)?.id;
      const issues = formatIssues(request.error);
      return fail(Number.isSafeInteger(id) && (id as number) >= 0 ? (id as number) : -1, 'invalid-request', `Malformed request frame: ${issues.join('; ')}`, issues);
    }
    let result: Result;
    try {
      result = await services.dispatch(request.data.name, request.data.payload);
    } catch (error) {
      return sender.response(request.data.id, { ok: false, error: serializeError(error) });
    }
    sender.response(request.data.id, result);
  };
}
