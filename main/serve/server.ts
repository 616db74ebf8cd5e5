/**
 * The browser host: serves the built renderer over HTTP on 127.0.0.1 and bridges the API over a
 * WebSocket. Every request must carry the start-up token — in the URL (`?token=`) the first time,
 * then in an HttpOnly cookie the server sets — and the socket must also come from the server's
 * own origin, so other pages and local processes cannot drive training.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { RequestFrameSchema, formatIssues, type HostFrame } from '../../contract';
import type { Services } from '../services';
import { TOKEN_COOKIE, cookieValue, newToken, tokensEqual } from './token';

export interface ServeOptions {
  services: Services;
  /** Folder of the built renderer (index.html and its assets). */
  rendererDir: string;
  port?: number;
  host?: string;
  token?: string;
}

export interface RunningServer {
  url: string;
  origin: string;
  token: string;
  server: Server;
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2',
};

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const token = options.token ?? newToken();
  const rendererDir = resolve(options.rendererDir);
  if (!existsSync(join(rendererDir, 'index.html'))) {
    throw new Error(`No built renderer in ${rendererDir} (run npm run build)`);
  }
  const hostName = options.host ?? '127.0.0.1';
  let origin = '';

  const authorised = (req: IncomingMessage): boolean => {
    const url = new URL(req.url ?? '/', origin);
    return tokensEqual(token, url.searchParams.get('token')) || tokensEqual(token, cookieValue(req.headers.cookie, TOKEN_COOKIE));
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (!authorised(req)) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('Forbidden: open the URL with the token that `layerbench serve` printed.\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    serveStatic(rendererDir, url.pathname, res, tokensEqual(token, url.searchParams.get('token')) ? token : null);
  });

  const sockets = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname !== '/api' || !authorised(req) || req.headers.origin !== origin) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => bridge(ws, options.services));
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, hostName, () => resolveListen());
  });
  const address = server.address() as AddressInfo;
  origin = `http://${hostName}:${address.port}`;
  return {
    url: `${origin}/?token=${token}`,
    origin,
    token,
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

function serveStatic(root: string, pathname: string, res: ServerResponse, setCookieToken: string | null): void {
  let relative: string;
  try {
    relative = decodeURIComponent(pathname);
  } catch {
    res.writeHead(400).end();
    return;
  }
  if (relative === '/' || relative === '') relative = '/index.html';
  const file = normalize(join(root, relative));
  if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
    return;
  }
  const headers: Record<string, string> = {
    'content-type': MIME[extname(file)] ?? 'application/octet-stream',
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  };
  if (setCookieToken) headers['set-cookie'] = `${TOKEN_COOKIE}=${setCookieToken}; HttpOnly; SameSite=Strict; Path=/`;
  res.writeHead(200, headers);
  createReadStream(file).pipe(res);
}

/** One socket ↔ the services: requests are validated here, events are forwarded as they come. */
function bridge(ws: WebSocket, services: Services): void {
  const send = (frame: HostFrame) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
  };
  const unsubscribe = services.onEvent((name, payload) => send({ kind: 'event', name, payload }));
  ws.on('close', unsubscribe);
  ws.on('message', async (data) => {
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      send({ kind: 'response', id: -1, result: { ok: false, error: { code: 'invalid-request', message: 'A frame was not valid JSON' } } });
      return;
    }
    const request = RequestFrameSchema.safeParse(frame);
    if (!request.success) {
      const id = typeof (frame as { id?: unknown })?.id === 'number' ? (frame as { id: number }).id : -1;
      const issues = formatIssues(request.error);
      send({ kind: 'response', id, result: { ok: false, error: { code: 'invalid-request', message: `Malformed request frame: ${issues.join('; ')}`, issues } } });
      return;
    }
    const result = await services.dispatch(request.data.name, request.data.payload);
    send({ kind: 'response', id: request.data.id, result });
  });
}
